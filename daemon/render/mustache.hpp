// A Mustache engine: templates are compiled once into a tree and rendered many times against
// JSON data (RapidJSON values) without parsing again. It follows the specification's core
// modules (interpolation, sections, inverted sections, comments, partials, set delimiters),
// standalone-line and partial-indentation rules included. Pure; a Template may be rendered from
// any thread, a PartialSet from one thread at a time.
#pragma once

#include <rapidjson/document.h>

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace crieur::render {

struct Node {
    enum class Kind { text, variable, section, inverted, partial };
    Kind kind = Kind::text;
    std::string text;               // text: the text; partial: the partial's name
    std::vector<std::string> path;  // variable/section: the dotted name, split; empty for "."
    bool escape = true;             // variable: {{x}} (true) or {{{x}}} / {{&x}} (false)
    std::string indent;             // partial: the standalone tag's indentation
    std::vector<Node> children;     // section/inverted
    int line = 0, column = 0;       // where the tag stands in the source (1-based)
};

struct SyntaxError {
    std::string message;
    int line = 0;
    int column = 0;
};

class Template {
public:
    const std::vector<Node>& nodes() const { return nodes_; }
    // Names used outside any section, the names of sections, and names used inside sections.
    std::set<std::string> top_level_names() const;
    std::set<std::string> all_names() const;
    std::set<std::string> partial_names() const;

private:
    friend std::variant<Template, SyntaxError> compile(std::string_view source);
    std::vector<Node> nodes_;
};

std::variant<Template, SyntaxError> compile(std::string_view source);

// How {{x}} is escaped: `html` as the specification says (& < > " become entities), for HTML;
// `none` for plain-text channels, where {{x}} and {{{x}}} render alike and control characters in
// values (but newlines and tabs) are dropped; `markdown` for a Markdown source that becomes
// HTML: every value is taken literally (ASCII punctuation backslash-escaped, control characters
// dropped), {{{x}}} included, so a value cannot add markup.
enum class Escape { html, none, markdown };

// Partials by name, compiled on first use for each indentation (the specification indents a
// standalone partial's every line before it is rendered) and kept. Thread-safe.
class PartialSet {
public:
    PartialSet() = default;
    PartialSet(const PartialSet& other) : sources_(other.sources_) {}
    void add(std::string name, std::string source) { sources_[std::move(name)] = std::move(source); }
    bool empty() const { return sources_.empty(); }
    // nullptr when unknown or when it does not compile (compile it yourself to see why).
    const Template* find(const std::string& name, const std::string& indent) const;

private:
    std::map<std::string, std::string> sources_;
    mutable std::mutex mutex_;
    mutable std::map<std::string, std::unique_ptr<Template>> compiled_;  // name + '\0' + indent
};

void render(const Template& t, const rapidjson::Value& data, Escape escape, const PartialSet* partials,
            std::string& out);
// The specification's HTML escaping (& < > "), appended to `out`.
void append_html_escaped(std::string& out, std::string_view s);
std::string render(const Template& t, const rapidjson::Value& data, Escape escape = Escape::html,
                   const PartialSet* partials = nullptr);

}  // namespace crieur::render
