#include "daemon/render/mustache.hpp"

#include <rapidjson/internal/dtoa.h>

#include <algorithm>
#include <cctype>

namespace crieur::render {

namespace {

struct Token {
    enum class Type { text, variable, unescaped, section, inverted, close, comment, partial, delimiters };
    Type type = Type::text;
    std::string content;  // the tag's trimmed name, or the text
    std::size_t pos = 0;  // offset of the tag (or text) in the source
    bool standalone = false;
    std::string indent;   // the whitespace before a standalone tag
};

bool is_blank(std::string_view s) { return s.find_first_not_of(" \t") == std::string_view::npos; }

std::string trim(std::string_view s) {
    const auto b = s.find_first_not_of(" \t\r\n");
    if (b == std::string_view::npos) return {};
    const auto e = s.find_last_not_of(" \t\r\n");
    return std::string(s.substr(b, e - b + 1));
}

void position(std::string_view src, std::size_t pos, int& line, int& column) {
    line = 1;
    std::size_t line_start = 0;
    for (std::size_t i = 0; i < pos && i < src.size(); ++i)
        if (src[i] == '\n') {
            ++line;
            line_start = i + 1;
        }
    column = static_cast<int>(pos - line_start) + 1;
}

SyntaxError error_at(std::string_view src, std::size_t pos, std::string message) {
    SyntaxError e{std::move(message), 0, 0};
    position(src, pos, e.line, e.column);
    return e;
}

// Splits the source into tokens; text tokens end at each newline, so lines can be judged.
std::variant<std::vector<Token>, SyntaxError> tokenize(std::string_view src) {
    std::vector<Token> tokens;
    std::string open = "{{", close = "}}";
    std::size_t i = 0;
    auto add_text = [&](std::size_t from, std::size_t to) {
        while (from < to) {
            auto nl = src.find('\n', from);
            std::size_t end = (nl == std::string_view::npos || nl >= to) ? to : nl + 1;
            tokens.push_back({Token::Type::text, std::string(src.substr(from, end - from)), from, false, {}});
            from = end;
        }
    };
    while (i < src.size()) {
        const auto start = src.find(open, i);
        if (start == std::string_view::npos) {
            add_text(i, src.size());
            break;
        }
        add_text(i, start);
        std::size_t inner = start + open.size();
        Token t;
        t.pos = start;
        std::string_view closing = close;
        std::string triple_close;
        if (inner < src.size()) {
            switch (src[inner]) {
            case '{':
                t.type = Token::Type::unescaped;
                triple_close = "}" + close;
                closing = triple_close;
                ++inner;
                break;
            case '&': t.type = Token::Type::unescaped; ++inner; break;
            case '#': t.type = Token::Type::section; ++inner; break;
            case '^': t.type = Token::Type::inverted; ++inner; break;
            case '/': t.type = Token::Type::close; ++inner; break;
            case '!': t.type = Token::Type::comment; ++inner; break;
            case '>': t.type = Token::Type::partial; ++inner; break;
            case '=': t.type = Token::Type::delimiters; ++inner; break;
            default: t.type = Token::Type::variable; break;
            }
        }
        const auto end = src.find(closing, inner);
        if (end == std::string_view::npos) return error_at(src, start, "unclosed tag: no '" + std::string(closing) + "'");
        std::string_view body = src.substr(inner, end - inner);
        i = end + closing.size();
        if (t.type == Token::Type::delimiters) {
            if (body.empty() || body.back() != '=') return error_at(src, start, "a set-delimiters tag must end with '='");
            const std::string spec = trim(body.substr(0, body.size() - 1));
            const auto space = spec.find_first_of(" \t");
            if (space == std::string::npos) return error_at(src, start, "set delimiters: expected two delimiters");
            std::string new_open = spec.substr(0, space), new_close = trim(spec.substr(space));
            if (new_open.empty() || new_close.empty() || new_close.find_first_of(" \t=") != std::string::npos ||
                new_open.find('=') != std::string::npos)
                return error_at(src, start, "set delimiters: expected two delimiters without '=' or spaces");
            open = std::move(new_open);
            close = std::move(new_close);
        } else if (t.type == Token::Type::comment) {
            t.content = std::string(body);
        } else {
            t.content = trim(body);
            if (t.content.empty()) return error_at(src, start, "empty tag");
            if (t.content.find_first_of(" \t") != std::string::npos && t.type != Token::Type::partial)
                return error_at(src, start, "bad name '" + t.content + "'");
        }
        tokens.push_back(std::move(t));
    }
    return tokens;
}

bool may_stand_alone(Token::Type t) {
    return t != Token::Type::text && t != Token::Type::variable && t != Token::Type::unescaped;
}

// A line that holds one section, inverted, close, comment, partial or delimiters tag and
// otherwise only blanks is removed but for the tag: its indentation and line ending go.
void strip_standalone_lines(std::vector<Token>& tokens) {
    std::size_t line_begin = 0;
    while (line_begin < tokens.size()) {
        std::size_t line_end = line_begin;  // one past the token that ends the line
        while (line_end < tokens.size()) {
            const Token& t = tokens[line_end++];
            if (t.type == Token::Type::text && !t.content.empty() && t.content.back() == '\n') break;
        }
        int tags = 0, standalone_tags = 0;
        bool blank = true;
        std::size_t tag_index = 0;
        for (std::size_t k = line_begin; k < line_end; ++k) {
            const Token& t = tokens[k];
            if (t.type == Token::Type::text) {
                std::string_view c = t.content;
                if (c.ends_with("\r\n")) c.remove_suffix(2);
                else if (c.ends_with('\n')) c.remove_suffix(1);
                blank = blank && is_blank(c);
            } else {
                ++tags;
                if (may_stand_alone(t.type)) {
                    ++standalone_tags;
                    tag_index = k;
                }
            }
        }
        if (blank && tags == 1 && standalone_tags == 1) {
            Token& tag = tokens[tag_index];
            tag.standalone = true;
            for (std::size_t k = line_begin; k < tag_index; ++k) tag.indent += tokens[k].content;
            for (std::size_t k = line_begin; k < line_end; ++k)
                if (k != tag_index) tokens[k].content.clear();
        }
        line_begin = line_end;
    }
}

std::vector<std::string> split_path(const std::string& name) {
    std::vector<std::string> path;
    if (name == ".") return path;
    std::size_t from = 0;
    for (;;) {
        auto dot = name.find('.', from);
        path.push_back(name.substr(from, dot - from));
        if (dot == std::string::npos) break;
        from = dot + 1;
    }
    return path;
}

void collect(const std::vector<Node>& nodes, bool top, std::set<std::string>& top_names, std::set<std::string>& all,
             std::set<std::string>& partials) {
    for (const Node& n : nodes) {
        if (n.kind == Node::Kind::partial) partials.insert(n.text);
        if (n.kind == Node::Kind::text || n.kind == Node::Kind::partial || n.path.empty()) {
            collect(n.children, false, top_names, all, partials);
            continue;
        }
        all.insert(n.path.front());
        if (top) top_names.insert(n.path.front());
        collect(n.children, false, top_names, all, partials);
    }
}

// --- rendering ---

bool falsey(const rapidjson::Value* v) {
    return !v || v->IsNull() || v->IsFalse() || (v->IsArray() && v->Empty()) ||
           (v->IsString() && v->GetStringLength() == 0);
}

class Renderer {
public:
    Renderer(Escape escape, const PartialSet* partials, std::string& out)
        : escape_(escape), partials_(partials), out_(out) {}

    void run(const std::vector<Node>& nodes, std::vector<const rapidjson::Value*>& stack, int depth) {
        if (depth > 100) return;  // a partial that includes itself for ever
        for (const Node& n : nodes) {
            switch (n.kind) {
            case Node::Kind::text: out_ += n.text; break;
            case Node::Kind::variable: interpolate(lookup(n.path, stack), n.escape); break;
            case Node::Kind::section: {
                const rapidjson::Value* v = lookup(n.path, stack);
                if (falsey(v)) break;
                if (v->IsArray()) {
                    for (auto& item : v->GetArray()) {
                        stack.push_back(&item);
                        run(n.children, stack, depth);
                        stack.pop_back();
                    }
                } else {
                    stack.push_back(v);
                    run(n.children, stack, depth);
                    stack.pop_back();
                }
                break;
            }
            case Node::Kind::inverted:
                if (falsey(lookup(n.path, stack))) run(n.children, stack, depth);
                break;
            case Node::Kind::partial:
                if (const Template* p = partials_ ? partials_->find(n.text, n.indent) : nullptr)
                    run(p->nodes(), stack, depth + 1);
                break;
            }
        }
    }

private:
    static const rapidjson::Value* lookup(const std::vector<std::string>& path,
                                          const std::vector<const rapidjson::Value*>& stack) {
        if (path.empty()) return stack.back();
        const rapidjson::Value* v = nullptr;
        for (auto it = stack.rbegin(); it != stack.rend(); ++it) {
            if ((*it)->IsObject()) {
                auto m = (*it)->FindMember(rapidjson::StringRef(path[0].data(), path[0].size()));
                if (m != (*it)->MemberEnd()) {
                    v = &m->value;
                    break;
                }
            }
        }
        for (std::size_t i = 1; v && i < path.size(); ++i) {
            if (!v->IsObject()) return nullptr;
            auto m = v->FindMember(rapidjson::StringRef(path[i].data(), path[i].size()));
            v = m == v->MemberEnd() ? nullptr : &m->value;
        }
        return v;
    }

    void interpolate(const rapidjson::Value* v, bool escape) {
        if (!v || v->IsNull()) return;
        if (v->IsString()) return write({v->GetString(), v->GetStringLength()}, escape);
        if (v->IsBool()) return write(v->GetBool() ? "true" : "false", escape);
        if (v->IsInt64()) return write(std::to_string(v->GetInt64()), escape);
        if (v->IsUint64()) return write(std::to_string(v->GetUint64()), escape);
        if (v->IsDouble()) {
            char buf[32];
            char* end = rapidjson::internal::dtoa(v->GetDouble(), buf);
            return write({buf, static_cast<std::size_t>(end - buf)}, escape);
        }
        // Objects and lists have no text of their own.
    }

    void write(std::string_view s, bool escape) {
        if (escape_ != Escape::html) {
            for (unsigned char c : s) {
                if (c < 0x20 ? (c != '\n' && c != '\t') : c == 0x7f) continue;
                if (escape_ == Escape::markdown && c < 0x80 && std::ispunct(c)) out_ += '\\';
                out_ += static_cast<char>(c);
            }
            return;
        }
        if (!escape) {
            out_ += s;
            return;
        }
        append_html_escaped(out_, s);
    }

    Escape escape_;
    const PartialSet* partials_;
    std::string& out_;
};

}  // namespace

void append_html_escaped(std::string& out, std::string_view s) {
    for (char c : s) {
        switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        default: out += c;
        }
    }
}

std::variant<Template, SyntaxError> compile(std::string_view source) {
    auto tokenized = tokenize(source);
    if (auto* e = std::get_if<SyntaxError>(&tokenized)) return *e;
    auto& tokens = std::get<std::vector<Token>>(tokenized);
    strip_standalone_lines(tokens);

    Template t;
    std::vector<std::vector<Node>*> open{&t.nodes_};
    std::vector<const Token*> open_tags;
    for (const Token& tok : tokens) {
        Node n;
        position(source, tok.pos, n.line, n.column);
        switch (tok.type) {
        case Token::Type::text:
            if (tok.content.empty()) continue;
            if (!open.back()->empty() && open.back()->back().kind == Node::Kind::text) {
                open.back()->back().text += tok.content;
                continue;
            }
            n.kind = Node::Kind::text;
            n.text = tok.content;
            break;
        case Token::Type::variable:
        case Token::Type::unescaped:
            n.kind = Node::Kind::variable;
            n.path = split_path(tok.content);
            n.escape = tok.type == Token::Type::variable;
            break;
        case Token::Type::section:
        case Token::Type::inverted:
            n.kind = tok.type == Token::Type::section ? Node::Kind::section : Node::Kind::inverted;
            n.path = split_path(tok.content);
            open.back()->push_back(std::move(n));
            open.push_back(&open.back()->back().children);
            open_tags.push_back(&tok);
            continue;
        case Token::Type::close:
            if (open_tags.empty())
                return error_at(source, tok.pos, "closing tag '" + tok.content + "' has no opening section");
            if (open_tags.back()->content != tok.content)
                return error_at(source, tok.pos,
                                "closing tag '" + tok.content + "' does not match the open section '" +
                                    open_tags.back()->content + "'");
            open.pop_back();
            open_tags.pop_back();
            continue;
        case Token::Type::partial:
            n.kind = Node::Kind::partial;
            n.text = tok.content;
            n.indent = tok.standalone ? tok.indent : "";
            break;
        case Token::Type::comment:
        case Token::Type::delimiters: continue;
        }
        open.back()->push_back(std::move(n));
    }
    if (!open_tags.empty())
        return error_at(source, open_tags.back()->pos, "section '" + open_tags.back()->content + "' is never closed");
    return t;
}

std::set<std::string> Template::top_level_names() const {
    std::set<std::string> top, all, partials;
    collect(nodes_, true, top, all, partials);
    return top;
}

std::set<std::string> Template::all_names() const {
    std::set<std::string> top, all, partials;
    collect(nodes_, true, top, all, partials);
    return all;
}

std::set<std::string> Template::partial_names() const {
    std::set<std::string> top, all, partials;
    collect(nodes_, true, top, all, partials);
    return partials;
}

const Template* PartialSet::find(const std::string& name, const std::string& indent) const {
    const std::string key = name + '\0' + indent;
    std::lock_guard lock(mutex_);
    if (auto it = compiled_.find(key); it != compiled_.end()) return it->second.get();
    auto src = sources_.find(name);
    if (src == sources_.end()) return nullptr;
    std::string text = src->second;
    if (!indent.empty()) {
        // Indent every line, but not after a final newline.
        std::string indented = indent;
        for (std::size_t i = 0; i < text.size(); ++i) {
            indented += text[i];
            if (text[i] == '\n' && i + 1 < text.size()) indented += indent;
        }
        text = std::move(indented);
    }
    auto compiled = compile(text);
    if (!std::holds_alternative<Template>(compiled)) return nullptr;
    auto& slot = compiled_[key];
    slot = std::make_unique<Template>(std::move(std::get<Template>(compiled)));
    return slot.get();
}

void render(const Template& t, const rapidjson::Value& data, Escape escape, const PartialSet* partials,
            std::string& out) {
    std::vector<const rapidjson::Value*> stack{&data};
    Renderer(escape, partials, out).run(t.nodes(), stack, 0);
}

std::string render(const Template& t, const rapidjson::Value& data, Escape escape, const PartialSet* partials) {
    std::string out;
    render(t, data, escape, partials, out);
    return out;
}

}  // namespace crieur::render
