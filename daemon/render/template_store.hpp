// TemplateStore: the message templates, loaded from templates/<name>/manifest.toml and
// templates/<name>/<locale>/<channel>*.mustache, checked and compiled once (at start and on
// SIGHUP), then rendered per message for a channel and a locale. Loading reports every problem
// with its file, line and column; rendering checks the job's data against the manifest's
// variables first. A loaded store is immutable: render() may be called from any thread.
#pragma once

#include <rapidjson/document.h>

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "daemon/render/mustache.hpp"
#include "daemon/render/rendered.hpp"

namespace crieur::render {

enum class VarType { string, number, boolean, list, object };

struct Variable {
    std::string name;
    VarType type = VarType::string;
    bool required = true;
    std::string example_json;  // the example value, as JSON
};

struct Manifest {
    std::string name;
    std::string description;
    std::string category = "service";  // service, information, alert
    std::string default_locale;
    std::vector<std::string> locales;
    std::vector<std::string> channels;
    std::vector<Variable> variables;
    // sms
    int sms_max_segments = 3;
    bool sms_economy = false;  // replace what forces UCS-2 by its GSM equivalent
    // push
    std::string push_url;   // Mustache
    std::string push_icon;  // Mustache
    // whatsapp: the template approved by Meta
    std::string whatsapp_name;
    std::map<std::string, std::string> whatsapp_language;  // our locale → Meta's language code
    std::vector<std::string> whatsapp_parameters;          // our variables, in the template's order
};

struct RenderError {
    std::string reason;                  // a sentence naming the variables or the channel
    std::vector<std::string> variables;  // the variables at fault
};

// The Web Push record is 4,096 bytes; aes128gcm takes 86 (header), 16 (tag) and 1 (delimiter).
inline constexpr std::size_t kPushPayloadLimit = 4096 - 86 - 16 - 1;

class TemplateStore {
public:
    // Loads and checks every template under `dir`; problems come back as "file:line:column: what".
    struct LoadResult {
        std::shared_ptr<const TemplateStore> store;  // null when there were problems
        std::vector<std::string> problems;
    };
    static LoadResult load(const std::string& dir);

    bool has(const std::string& name) const { return sets_.count(name) > 0; }
    const Manifest* manifest(const std::string& name) const;
    std::vector<std::string> names() const;
    // The channels the template has, in the manifest's order.
    const std::vector<std::string>& channels(const std::string& name) const;
    // The locale used for a wished one: exact, then its language (fr-FR → fr), then the default.
    std::string resolve_locale(const std::string& name, const std::string& wished) const;

    // Checks `data` (a JSON object) against the manifest: missing required variables and wrong
    // types are named. Then renders the channel's parts in the resolved locale.
    std::variant<Rendered, RenderError> render(const std::string& name, const std::string& channel,
                                               const std::string& locale, const rapidjson::Value& data) const;
    // The manifest's example values as a JSON object.
    std::string example_data(const std::string& name) const;

private:
    struct ChannelParts {
        Template body;
        std::optional<Template> subject;  // email subject, push title
        std::optional<Template> html;     // email
        std::string body_path;            // for messages
    };
    struct Set {
        Manifest manifest;
        std::map<std::string, std::map<std::string, ChannelParts>> parts;  // locale → channel → parts
        std::optional<Template> push_url, push_icon;
    };
    static std::optional<Template> compile_file_text(const std::string& text, const std::filesystem::path& file,
                                                     const char* key, const std::set<std::string>& declared,
                                                     std::set<std::string>& used, std::vector<std::string>& problems);

    std::map<std::string, Set> sets_;
    PartialSet partials_;  // templates/_partials/*.mustache
};

const char* to_string(VarType t);
// Markdown → HTML (CommonMark through libcmark, raw HTML dropped) inside a plain, accessible page.
std::string email_html(const std::string& markdown, const std::string& subject, const std::string& locale);
// The e-mail's plain-text part from the same Markdown: no markup left, links written out as
// "text (url)", lists as "- " and "1. ". Pure.
std::string markdown_text(const std::string& markdown);

}  // namespace crieur::render
