#include "daemon/render/template_store.hpp"

#include <cmark.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace crieur::render {

namespace fs = std::filesystem;

namespace {

constexpr std::array<const char*, 4> kChannels{"sms", "email", "whatsapp", "push"};

std::string read_text(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string at(const fs::path& file, const toml::node& n) {
    return file.string() + ":" + std::to_string(n.source().begin.line);
}

// toml → JSON, for example values.
void to_json(const toml::node& n, rapidjson::Writer<rapidjson::StringBuffer>& w) {
    if (auto s = n.as_string()) w.String(s->get().c_str(), static_cast<rapidjson::SizeType>(s->get().size()));
    else if (auto i = n.as_integer()) w.Int64(i->get());
    else if (auto f = n.as_floating_point()) w.Double(f->get());
    else if (auto b = n.as_boolean()) w.Bool(b->get());
    else if (auto a = n.as_array()) {
        w.StartArray();
        for (auto& e : *a) to_json(e, w);
        w.EndArray();
    } else if (auto t = n.as_table()) {
        w.StartObject();
        for (auto&& [k, v] : *t) {
            w.Key(k.str().data(), static_cast<rapidjson::SizeType>(k.str().size()));
            to_json(v, w);
        }
        w.EndObject();
    } else {
        w.Null();
    }
}

std::optional<VarType> parse_type(std::string_view s) {
    if (s == "string") return VarType::string;
    if (s == "number") return VarType::number;
    if (s == "boolean") return VarType::boolean;
    if (s == "list") return VarType::list;
    if (s == "object") return VarType::object;
    return std::nullopt;
}

bool type_matches(VarType t, const rapidjson::Value& v) {
    switch (t) {
    case VarType::string: return v.IsString();
    case VarType::number: return v.IsNumber();
    case VarType::boolean: return v.IsBool();
    case VarType::list: return v.IsArray();
    case VarType::object: return v.IsObject();
    }
    return false;
}

// Reads one manifest, reporting each problem with its line.
class ManifestReader {
public:
    ManifestReader(const fs::path& file, std::vector<std::string>& problems) : file_(file), problems_(problems) {}

    std::optional<Manifest> read(const std::string& name) {
        toml::table root;
        try {
            root = toml::parse_file(file_.string());
        } catch (const toml::parse_error& e) {
            problems_.push_back(file_.string() + ":" + std::to_string(e.source().begin.line) + ": " +
                                std::string(e.description()));
            return std::nullopt;
        }
        Manifest m;
        m.name = name;
        const std::size_t before = problems_.size();
        static const std::set<std::string, std::less<>> kKeys{"description", "category", "default_locale", "locales",
                                                              "channels",    "variables", "sms", "push", "whatsapp"};
        for (auto&& [k, v] : root)
            if (!kKeys.count(k.str())) fail(v, std::string(k.str()), "unknown key");
        str(root, "description", m.description);
        str(root, "category", m.category);
        if (m.category != "service" && m.category != "information" && m.category != "alert")
            fail(*root.get("category"), "category", "expected service, information or alert");
        if (!str(root, "default_locale", m.default_locale)) missing("default_locale");
        if (!strings(root, "locales", m.locales) || m.locales.empty()) missing("locales");
        if (!strings(root, "channels", m.channels) || m.channels.empty()) missing("channels");
        for (auto& c : m.channels)
            if (std::find(kChannels.begin(), kChannels.end(), c) == kChannels.end())
                fail(*root.get("channels"), "channels", "unknown channel '" + c + "' (sms, email, whatsapp, push)");
        if (!m.default_locale.empty() &&
            std::find(m.locales.begin(), m.locales.end(), m.default_locale) == m.locales.end())
            fail(*root.get("default_locale"), "default_locale", "'" + m.default_locale + "' is not in locales");

        if (auto* vars = root["variables"].as_table()) {
            for (auto&& [k, v] : *vars) {
                const std::string key = "variables." + std::string(k.str());
                auto* t = v.as_table();
                if (!t) {
                    fail(v, key, "expected a table { type = ..., example = ... }");
                    continue;
                }
                Variable var;
                var.name = std::string(k.str());
                for (auto&& [vk, vv] : *t)
                    if (vk.str() != "type" && vk.str() != "example" && vk.str() != "required" && vk.str() != "description")
                        fail(vv, key + "." + std::string(vk.str()), "unknown key");
                std::string type;
                if (!str(*t, "type", type, key)) fail(v, key + ".type", "required key is missing");
                else if (auto vt = parse_type(type)) var.type = *vt;
                else fail(*t->get("type"), key + ".type", "expected string, number, boolean, list or object");
                if (auto* r = t->get("required")) {
                    if (!r->is_boolean()) fail(*r, key + ".required", "expected true or false");
                    else var.required = *r->value<bool>();
                }
                if (auto* ex = t->get("example")) {
                    rapidjson::StringBuffer buf;
                    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
                    to_json(*ex, w);
                    var.example_json.assign(buf.GetString(), buf.GetSize());
                } else {
                    fail(v, key + ".example", "required key is missing (an example value, for checks and previews)");
                }
                lines_[var.name] = static_cast<int>(v.source().begin.line);
                m.variables.push_back(std::move(var));
            }
        }
        if (auto* sms = root["sms"].as_table()) {
            for (auto&& [k, v] : *sms)
                if (k.str() != "max_segments" && k.str() != "policy") fail(v, "sms." + std::string(k.str()), "unknown key");
            if (auto* n = sms->get("max_segments")) {
                auto v = n->value<std::int64_t>();
                if (!n->is_integer() || *v < 1 || *v > 10) fail(*n, "sms.max_segments", "expected an integer from 1 to 10");
                else m.sms_max_segments = static_cast<int>(*v);
            }
            std::string policy = "fidelity";
            str(*sms, "policy", policy, "sms");
            if (policy != "fidelity" && policy != "economy") fail(*sms->get("policy"), "sms.policy", "expected fidelity or economy");
            m.sms_economy = policy == "economy";
        }
        if (auto* push = root["push"].as_table()) {
            for (auto&& [k, v] : *push)
                if (k.str() != "url" && k.str() != "icon") fail(v, "push." + std::string(k.str()), "unknown key");
            str(*push, "url", m.push_url, "push");
            str(*push, "icon", m.push_icon, "push");
        }
        if (auto* wa = root["whatsapp"].as_table()) {
            for (auto&& [k, v] : *wa)
                if (k.str() != "name" && k.str() != "language" && k.str() != "parameters")
                    fail(v, "whatsapp." + std::string(k.str()), "unknown key");
            str(*wa, "name", m.whatsapp_name, "whatsapp");
            strings(*wa, "parameters", m.whatsapp_parameters, "whatsapp");
            if (auto* lang = (*wa)["language"].as_table())
                for (auto&& [k, v] : *lang) {
                    if (!v.is_string()) fail(v, "whatsapp.language." + std::string(k.str()), "expected a string");
                    else m.whatsapp_language[std::string(k.str())] = *v.value<std::string>();
                }
            for (auto& p : m.whatsapp_parameters)
                if (std::none_of(m.variables.begin(), m.variables.end(), [&](const Variable& v) { return v.name == p; }))
                    fail(*wa->get("parameters"), "whatsapp.parameters", "'" + p + "' is not a declared variable");
        }
        if (std::find(m.channels.begin(), m.channels.end(), "whatsapp") != m.channels.end() && m.whatsapp_name.empty())
            problems_.push_back(file_.string() + ":1: whatsapp.name: required for the whatsapp channel (the template approved by Meta)");
        if (problems_.size() != before) return std::nullopt;
        return m;
    }

    int line_of(const std::string& variable) const {
        auto it = lines_.find(variable);
        return it == lines_.end() ? 1 : it->second;
    }

private:
    bool str(const toml::table& t, const char* key, std::string& out, const std::string& prefix = "") {
        auto* n = t.get(key);
        if (!n) return false;
        if (!n->is_string()) {
            fail(*n, prefix.empty() ? key : prefix + "." + key, "expected a string");
            return false;
        }
        out = *n->value<std::string>();
        return true;
    }
    bool strings(const toml::table& t, const char* key, std::vector<std::string>& out, const std::string& prefix = "") {
        auto* n = t.get(key);
        if (!n) return false;
        auto* a = n->as_array();
        if (!a || !a->is_homogeneous(toml::node_type::string)) {
            fail(*n, prefix.empty() ? key : prefix + "." + key, "expected a list of strings");
            return false;
        }
        for (auto& e : *a) out.push_back(*e.value<std::string>());
        return true;
    }
    void fail(const toml::node& n, const std::string& key, const std::string& what) {
        problems_.push_back(at(file_, n) + ": " + key + ": " + what);
    }
    void missing(const char* key) { problems_.push_back(file_.string() + ":1: " + key + ": required key is missing"); }

    const fs::path& file_;
    std::vector<std::string>& problems_;
    std::map<std::string, int> lines_;
};

// The first place a name is used, for messages.
const Node* find_use(const std::vector<Node>& nodes, const std::string& name) {
    for (const Node& n : nodes) {
        if ((n.kind == Node::Kind::variable || n.kind == Node::Kind::section || n.kind == Node::Kind::inverted) &&
            !n.path.empty() && n.path.front() == name)
            return &n;
        if (const Node* inner = find_use(n.children, name)) return inner;
    }
    return nullptr;
}

std::string json_string(std::string_view s) {
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
    return {buf.GetString(), buf.GetSize()};
}

std::string html_escape(std::string_view s) {
    std::string out;
    append_html_escaped(out, s);
    return out;
}

// A subject is one header line: no line breaks may reach it.
std::string one_line(std::string s) {
    for (auto& c : s)
        if (c == '\r' || c == '\n') c = ' ';
    return s;
}

// Template files end with a newline, as editors write them; short texts do not.
std::string trim_end(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) s.pop_back();
    return s;
}

}  // namespace

const char* to_string(VarType t) {
    switch (t) {
    case VarType::string: return "string";
    case VarType::number: return "number";
    case VarType::boolean: return "boolean";
    case VarType::list: return "list";
    case VarType::object: return "object";
    }
    return "?";
}

std::string markdown_text(const std::string& markdown) {
    using Tree = std::unique_ptr<cmark_node, decltype(&cmark_node_free)>;
    using Iter = std::unique_ptr<cmark_iter, decltype(&cmark_iter_free)>;
    Tree doc(cmark_parse_document(markdown.data(), markdown.size(), CMARK_OPT_DEFAULT), &cmark_node_free);
    if (!doc) return markdown;
    Iter it(cmark_iter_new(doc.get()), &cmark_iter_free);
    std::string out;
    std::vector<int> numbers;  // the next number of each open list (0: a bullet list)
    std::vector<std::size_t> link_starts;
    auto literal = [](cmark_node* n) {
        const char* l = cmark_node_get_literal(n);
        return std::string(l ? l : "");
    };
    auto in_tight_item = [](cmark_node* n) {
        cmark_node* item = cmark_node_parent(n);
        return item && cmark_node_get_type(item) == CMARK_NODE_ITEM && cmark_node_get_list_tight(cmark_node_parent(item));
    };
    for (cmark_event_type ev; (ev = cmark_iter_next(it.get())) != CMARK_EVENT_DONE;) {
        cmark_node* n = cmark_iter_get_node(it.get());
        const bool enter = ev == CMARK_EVENT_ENTER;
        switch (cmark_node_get_type(n)) {
        case CMARK_NODE_TEXT:
        case CMARK_NODE_CODE: out += literal(n); break;
        case CMARK_NODE_SOFTBREAK:
        case CMARK_NODE_LINEBREAK: out += '\n'; break;
        case CMARK_NODE_CODE_BLOCK: out += literal(n) + "\n"; break;
        case CMARK_NODE_THEMATIC_BREAK: out += "----\n\n"; break;
        case CMARK_NODE_PARAGRAPH:
        case CMARK_NODE_HEADING:
            if (!enter) out += in_tight_item(n) ? "\n" : "\n\n";
            break;
        case CMARK_NODE_LIST:
            if (enter) numbers.push_back(cmark_node_get_list_type(n) == CMARK_ORDERED_LIST ? cmark_node_get_list_start(n) : 0);
            else {
                numbers.pop_back();
                if (cmark_node_get_list_tight(n)) out += '\n';
            }
            break;
        case CMARK_NODE_ITEM:
            if (enter && !numbers.empty()) out += numbers.back() ? std::to_string(numbers.back()++) + ". " : "- ";
            break;
        // Links written out: "Suivre l'évolution (https://...)", once when the text is the URL.
        case CMARK_NODE_LINK:
            if (enter) {
                link_starts.push_back(out.size());
            } else {
                const std::string url = cmark_node_get_url(n) ? cmark_node_get_url(n) : "";
                const std::string text = out.substr(link_starts.back());
                link_starts.pop_back();
                if (!url.empty() && text != url) out += " (" + url + ")";
            }
            break;
        default: break;  // emphasis, block quotes, images' alt text: their text only; raw HTML: dropped
        }
    }
    while (out.ends_with('\n')) out.pop_back();
    return out + "\n";
}

std::string email_html(const std::string& markdown, const std::string& subject, const std::string& locale) {
    // CMARK_OPT_DEFAULT is safe in cmark 0.30: raw HTML and dangerous links are dropped.
    std::unique_ptr<char, decltype(&std::free)> body(
        cmark_markdown_to_html(markdown.data(), markdown.size(), CMARK_OPT_DEFAULT), &std::free);
    std::string html = "<!DOCTYPE html>\n<html lang=\"" + html_escape(locale) +
                       "\">\n<head>\n<meta charset=\"utf-8\">\n"
                       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>" +
                       html_escape(subject) +
                       "</title>\n</head>\n<body style=\"margin:0;padding:24px;background:#ffffff;color:#1a1a1a;"
                       "font-family:Arial,Helvetica,sans-serif;font-size:16px;line-height:1.5\">\n"
                       "<main style=\"max-width:40em;margin:0 auto\">\n";
    html += body ? body.get() : "";
    html += "</main>\n</body>\n</html>\n";
    return html;
}

TemplateStore::LoadResult TemplateStore::load(const std::string& dir) {
    LoadResult result;
    auto& problems = result.problems;
    auto store = std::make_shared<TemplateStore>();
    if (!fs::is_directory(dir)) {
        problems.push_back(dir + ": not a folder of templates");
        return result;
    }
    // Shared partials: templates/_partials/<name>.mustache
    PartialSet& partials = store->partials_;
    std::set<std::string> partial_names;
    if (fs::is_directory(fs::path(dir) / "_partials"))
        for (auto& e : fs::directory_iterator(fs::path(dir) / "_partials"))
            if (e.path().extension() == ".mustache") {
                const std::string source = read_text(e.path());
                auto compiled = compile(source);
                if (auto* err = std::get_if<SyntaxError>(&compiled))
                    problems.push_back(e.path().string() + ":" + std::to_string(err->line) + ":" +
                                       std::to_string(err->column) + ": " + err->message);
                partials.add(e.path().stem().string(), source);
                partial_names.insert(e.path().stem().string());
            }

    std::vector<fs::path> folders;
    for (auto& e : fs::directory_iterator(dir))
        if (e.is_directory() && !e.path().filename().string().starts_with("_")) folders.push_back(e.path());
    std::sort(folders.begin(), folders.end());

    for (const auto& folder : folders) {
        const std::string name = folder.filename().string();
        const fs::path manifest_file = folder / "manifest.toml";
        if (!fs::exists(manifest_file)) {
            problems.push_back(manifest_file.string() + ": missing: every template folder has a manifest");
            continue;
        }
        ManifestReader reader(manifest_file, problems);
        auto manifest = reader.read(name);
        if (!manifest) continue;
        Set set;
        set.manifest = *manifest;
        const Manifest& m = set.manifest;
        std::set<std::string> declared, used_top, used_any;
        for (auto& v : m.variables) declared.insert(v.name);
        for (auto& p : m.whatsapp_parameters) used_any.insert(p);

        auto compile_file = [&](const fs::path& file) -> std::optional<Template> {
            auto compiled = compile(read_text(file));
            if (auto* e = std::get_if<SyntaxError>(&compiled)) {
                problems.push_back(file.string() + ":" + std::to_string(e->line) + ":" + std::to_string(e->column) +
                                   ": " + e->message);
                return std::nullopt;
            }
            Template t = std::move(std::get<Template>(compiled));
            for (auto& n : t.top_level_names()) {
                used_top.insert(n);
                if (!declared.count(n)) {
                    const Node* use = find_use(t.nodes(), n);
                    problems.push_back(file.string() + ":" + std::to_string(use ? use->line : 1) + ":" +
                                       std::to_string(use ? use->column : 1) + ": variable '" + n +
                                       "' is used but not declared in manifest.toml");
                }
            }
            for (auto& n : t.all_names()) used_any.insert(n);
            for (auto& p : t.partial_names())
                if (!partial_names.count(p))
                    problems.push_back(file.string() + ": partial '" + p + "' is not in templates/_partials/");
            return t;
        };
        auto inline_template = [&](const std::string& text, const char* key) -> std::optional<Template> {
            if (text.empty()) return std::nullopt;
            return compile_file_text(text, manifest_file, key, declared, used_any, problems);
        };
        set.push_url = inline_template(m.push_url, "push.url");
        set.push_icon = inline_template(m.push_icon, "push.icon");

        std::set<std::string> expected_files;
        for (const auto& locale : m.locales) {
            const fs::path ldir = folder / locale;
            for (const auto& channel : m.channels) {
                std::vector<std::pair<std::string, bool>> files;  // file, required
                if (channel == "email")
                    files = {{"email.subject.mustache", true}, {"email.mustache", true}, {"email.html.mustache", false}};
                else if (channel == "push")
                    files = {{"push.title.mustache", true}, {"push.mustache", true}};
                else
                    files = {{channel + ".mustache", true}};
                ChannelParts parts;
                bool complete = true;
                for (auto& [file, required] : files) {
                    expected_files.insert(locale + "/" + file);
                    const fs::path p = ldir / file;
                    if (!fs::exists(p)) {
                        if (required) {
                            problems.push_back(p.string() + ": missing: the manifest lists locale '" + locale +
                                               "' and channel '" + channel + "'");
                            complete = false;
                        }
                        continue;
                    }
                    auto t = compile_file(p);
                    if (!t) {
                        complete = false;
                        continue;
                    }
                    if (file.find(".subject.") != std::string::npos || file.find(".title.") != std::string::npos)
                        parts.subject = std::move(*t);
                    else if (file.find(".html.") != std::string::npos)
                        parts.html = std::move(*t);
                    else {
                        parts.body = std::move(*t);
                        parts.body_path = p.string();
                    }
                }
                if (complete) set.parts[locale].emplace(channel, std::move(parts));
            }
        }
        // Files and folders the manifest does not account for: typos, or a locale it forgot.
        for (auto& e : fs::directory_iterator(folder)) {
            if (e.path().filename() == "manifest.toml") continue;
            if (!e.is_directory()) {
                problems.push_back(e.path().string() + ": not part of a template (expected manifest.toml and locale folders)");
                continue;
            }
            const std::string locale = e.path().filename().string();
            if (std::find(m.locales.begin(), m.locales.end(), locale) == m.locales.end()) {
                problems.push_back(e.path().string() + ": locale '" + locale + "' is not in the manifest's locales");
                continue;
            }
            for (auto& f : fs::directory_iterator(e.path()))
                if (!expected_files.count(locale + "/" + f.path().filename().string()))
                    problems.push_back(f.path().string() + ": not a file of the manifest's channels");
        }
        for (auto& v : m.variables)
            if (!used_any.count(v.name))
                problems.push_back(manifest_file.string() + ":" + std::to_string(reader.line_of(v.name)) +
                                   ": variables." + v.name + ": declared but never used");
        store->sets_.emplace(name, std::move(set));
    }
    if (store->sets_.empty() && problems.empty()) problems.push_back(dir + ": no templates");

    // With the examples: every channel and locale renders, SMS within max_segments, push within its limit.
    for (auto& [name, set] : store->sets_) {
        rapidjson::Document example;
        const std::string ex = store->example_data(name);
        example.Parse(ex.data(), ex.size());
        for (auto& [locale, channels] : set.parts)
            for (auto& [channel, parts] : channels) {
                auto r = store->render(name, channel, locale, example);
                if (auto* e = std::get_if<RenderError>(&r)) {
                    problems.push_back(parts.body_path + ": with the example values: " + e->reason);
                    continue;
                }
                auto& rendered = std::get<Rendered>(r);
                if (rendered.sms && rendered.sms->segments > set.manifest.sms_max_segments)
                    problems.push_back(parts.body_path + ": with the example values the SMS takes " +
                                       std::to_string(rendered.sms->segments) + " segments (" +
                                       sms::to_string(rendered.sms->encoding) + ", " +
                                       std::to_string(rendered.sms->characters) + " characters), more than sms.max_segments = " +
                                       std::to_string(set.manifest.sms_max_segments));
            }
    }
    if (problems.empty()) result.store = std::move(store);
    return result;
}

std::optional<Template> TemplateStore::compile_file_text(const std::string& text, const fs::path& file, const char* key,
                                                         const std::set<std::string>& declared,
                                                         std::set<std::string>& used,
                                                         std::vector<std::string>& problems) {
    auto compiled = compile(text);
    if (auto* e = std::get_if<SyntaxError>(&compiled)) {
        problems.push_back(file.string() + ": " + key + ": " + e->message);
        return std::nullopt;
    }
    Template t = std::move(std::get<Template>(compiled));
    for (auto& n : t.all_names()) {
        used.insert(n);
        if (!declared.count(n))
            problems.push_back(file.string() + ": " + key + ": variable '" + n + "' is used but not declared");
    }
    return t;
}

const Manifest* TemplateStore::manifest(const std::string& name) const {
    auto it = sets_.find(name);
    return it == sets_.end() ? nullptr : &it->second.manifest;
}

std::vector<std::string> TemplateStore::names() const {
    std::vector<std::string> out;
    for (auto& [n, s] : sets_) out.push_back(n);
    return out;
}

const std::vector<std::string>& TemplateStore::channels(const std::string& name) const {
    static const std::vector<std::string> none;
    auto* m = manifest(name);
    return m ? m->channels : none;
}

std::string TemplateStore::resolve_locale(const std::string& name, const std::string& wished) const {
    auto* m = manifest(name);
    if (!m) return wished;
    auto has = [&](const std::string& l) { return std::find(m->locales.begin(), m->locales.end(), l) != m->locales.end(); };
    if (!wished.empty()) {
        if (has(wished)) return wished;
        const std::string language = wished.substr(0, wished.find_first_of("-_"));
        if (has(language)) return language;
    }
    return m->default_locale;
}

std::string TemplateStore::example_data(const std::string& name) const {
    auto* m = manifest(name);
    std::string out = "{";
    if (m)
        for (auto& v : m->variables) {
            if (out.size() > 1) out += ",";
            out += json_string(v.name) + ":" + (v.example_json.empty() ? "null" : v.example_json);
        }
    return out + "}";
}

std::variant<Rendered, RenderError> TemplateStore::render(const std::string& name, const std::string& channel,
                                                          const std::string& locale,
                                                          const rapidjson::Value& data) const {
    auto it = sets_.find(name);
    if (it == sets_.end()) return RenderError{"unknown template '" + name + "'", {}};
    const Set& set = it->second;
    const Manifest& m = set.manifest;
    if (!data.IsObject()) return RenderError{"the job's data must be an object", {}};

    std::vector<std::string> missing, wrong;
    std::string wrong_text;
    for (const Variable& v : m.variables) {
        auto member = data.FindMember(v.name.c_str());
        if (member == data.MemberEnd() || member->value.IsNull()) {
            if (v.required) missing.push_back(v.name);
        } else if (!type_matches(v.type, member->value)) {
            wrong.push_back(v.name);
            wrong_text += (wrong_text.empty() ? "" : ", ") + v.name + " (expected a " + to_string(v.type) + ")";
        }
    }
    if (!missing.empty() || !wrong.empty()) {
        RenderError e;
        std::string list;
        for (auto& n : missing) list += (list.empty() ? "" : ", ") + n;
        if (!missing.empty()) e.reason = "missing data for template '" + name + "': " + list;
        if (!wrong.empty())
            e.reason += (e.reason.empty() ? "" : "; ") + std::string("wrong type in data for template '") + name +
                        "': " + wrong_text;
        e.variables = missing;
        e.variables.insert(e.variables.end(), wrong.begin(), wrong.end());
        return e;
    }

    const std::string resolved = resolve_locale(name, locale);
    auto l = set.parts.find(resolved);
    if (l == set.parts.end()) return RenderError{"template '" + name + "' has no locale '" + resolved + "'", {}};
    auto c = l->second.find(channel);
    if (c == l->second.end()) return RenderError{"template '" + name + "' has no channel '" + channel + "'", {}};
    const ChannelParts& parts = c->second;

    Rendered r;
    r.template_name = name;
    r.category = m.category;
    r.channel = channel;
    r.locale = resolved;
    r.text = render::render(parts.body, data, Escape::none, &partials_);
    if (channel != "email") r.text = trim_end(std::move(r.text));
    if (channel == "sms") {
        // Composed first: "e" + U+0301 is the "é" that GSM 03.38 has.
        r.text = sms::nfc(r.text);
        r.sms = sms::cost(r.text);
        r.sms_policy = "fidelity";
        if (m.sms_economy) {
            r.sms_as_written = r.sms;
            r.sms_policy = "economy: GSM-7 as written";
            // Only a text that needs UCS-2 has anything to replace, and only when no letter is lost.
            if (r.sms->encoding == sms::Encoding::ucs2) {
                std::string lacking;
                if (auto gsm = sms::to_gsm7(r.text, &lacking)) {
                    r.text = std::move(*gsm);
                    r.sms = sms::cost(r.text);
                    r.sms_policy = "economy: accents replaced, sent in GSM-7";
                } else {
                    r.sms_policy = "economy: kept in UCS-2, '" + lacking + "' has no GSM-7 equivalent";
                }
            }
        }
    } else if (channel == "email") {
        r.subject = trim_end(one_line(render::render(*parts.subject, data, Escape::none, &partials_)));
        if (parts.html) {
            r.html = render::render(*parts.html, data, Escape::html, &partials_);
        } else {
            // The body is Markdown: HTML for the HTML part, plain text (links written out) for the other.
            const std::string markdown = render::render(parts.body, data, Escape::markdown, &partials_);
            r.html = email_html(markdown, r.subject, resolved);
            r.text = markdown_text(markdown);
        }
    } else if (channel == "push") {
        r.subject = trim_end(render::render(*parts.subject, data, Escape::none, &partials_));
        if (set.push_url) r.url = render::render(*set.push_url, data, Escape::none);
        if (set.push_icon) r.icon = render::render(*set.push_icon, data, Escape::none);
        // The payload the push drivers send: {"title","body","url","icon"}.
        r.push_payload_bytes = 30 + json_string(r.subject).size() + json_string(r.text).size() +
                               json_string(r.url).size() + json_string(r.icon).size();
        if (r.push_payload_bytes > kPushPayloadLimit)
            return RenderError{"the push payload is " + std::to_string(r.push_payload_bytes) + " bytes, over the " +
                                   std::to_string(kPushPayloadLimit) + "-byte limit of an encrypted Web Push record",
                               {}};
    } else if (channel == "whatsapp") {
        r.whatsapp_name = m.whatsapp_name;
        auto lang = m.whatsapp_language.find(resolved);
        r.whatsapp_language = lang != m.whatsapp_language.end() ? lang->second : resolved;
        for (auto& p : m.whatsapp_parameters) {
            auto v = data.FindMember(p.c_str());
            std::string text;
            if (v != data.MemberEnd()) {
                if (v->value.IsString()) text.assign(v->value.GetString(), v->value.GetStringLength());
                else if (v->value.IsNumber() || v->value.IsBool()) {
                    rapidjson::StringBuffer buf;
                    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
                    v->value.Accept(w);
                    text.assign(buf.GetString(), buf.GetSize());
                }
            }
            r.whatsapp_parameters.push_back(std::move(text));
        }
    }
    return r;
}

}  // namespace crieur::render
