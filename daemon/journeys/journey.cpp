#include "daemon/journeys/journey.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <functional>

#include "daemon/render/template_store.hpp"

namespace crieur::journeys {

namespace fs = std::filesystem;

const char* to_string(MessageProgress p) {
    switch (p) {
    case MessageProgress::none: return "none";
    case MessageProgress::queued: return "queued";
    case MessageProgress::delivered: return "delivered";
    case MessageProgress::read: return "read";
    case MessageProgress::clicked: return "clicked";
    case MessageProgress::failed: return "failed";
    }
    return "none";
}

std::optional<MessageProgress> parse_progress(std::string_view s) {
    for (auto p : {MessageProgress::none, MessageProgress::queued, MessageProgress::delivered, MessageProgress::read,
                   MessageProgress::clicked, MessageProgress::failed})
        if (s == to_string(p)) return p;
    return std::nullopt;
}

const char* to_string(StepKind k) {
    switch (k) {
    case StepKind::send: return "send";
    case StepKind::wait: return "wait";
    case StepKind::branch: return "branch";
    case StepKind::notify: return "notify";
    case StepKind::end: return "end";
    }
    return "end";
}

const Step* Journey::step(std::string_view id) const {
    const auto i = index(id);
    return i < steps.size() ? &steps[i] : nullptr;
}

std::size_t Journey::index(std::string_view id) const {
    for (std::size_t i = 0; i < steps.size(); ++i)
        if (steps[i].id == id) return i;
    return steps.size();
}

bool is_crieur_event(std::string_view name) {
    if (name == "message.delivered" || name == "message.read" || name == "message.clicked" ||
        name == "message.failed" || name == "reply")
        return true;
    return name.size() > 6 && name.substr(0, 6) == "reply." && fold_keyword(name.substr(6)) == name.substr(6);
}

std::string fold_keyword(std::string_view text) {
    // The Latin letters with accents a French or English reply may carry, in UTF-8, and their base.
    static const std::pair<std::string_view, char> kFolds[] = {
        {"à", 'A'}, {"â", 'A'}, {"ä", 'A'}, {"À", 'A'}, {"Â", 'A'}, {"Ä", 'A'}, {"ç", 'C'}, {"Ç", 'C'},
        {"é", 'E'}, {"è", 'E'}, {"ê", 'E'}, {"ë", 'E'}, {"É", 'E'}, {"È", 'E'}, {"Ê", 'E'}, {"Ë", 'E'},
        {"î", 'I'}, {"ï", 'I'}, {"Î", 'I'}, {"Ï", 'I'}, {"ô", 'O'}, {"ö", 'O'}, {"Ô", 'O'}, {"Ö", 'O'},
        {"ù", 'U'}, {"û", 'U'}, {"ü", 'U'}, {"Ù", 'U'}, {"Û", 'U'}, {"Ü", 'U'}, {"ÿ", 'Y'}, {"Ÿ", 'Y'}};
    std::string out;
    for (std::size_t i = 0; i < text.size();) {
        const unsigned char c = static_cast<unsigned char>(text[i]);
        if (c < 0x80) {
            if (std::isalnum(c)) out += static_cast<char>(std::toupper(c));
            else if (!out.empty() && out.back() != ' ') out += ' ';  // punctuation and spaces: one space
            ++i;
            continue;
        }
        bool folded = false;
        for (auto& [from, to] : kFolds)
            if (text.substr(i, from.size()) == from) {
                out += to;
                i += from.size();
                folded = true;
                break;
            }
        if (!folded) {  // another character: kept as it is (a keyword compares it exactly)
            std::size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
            out.append(text.substr(i, len));
            i += len;
        }
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out;
}

namespace {

bool valid_id(std::string_view s) {
    if (s.empty() || s.size() > 64) return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
    });
}

// Reads one journey file, reporting each problem with its line and key.
class JourneyReader {
public:
    JourneyReader(const fs::path& file, const render::TemplateStore* templates, std::vector<std::string>& problems)
        : file_(file.string()), templates_(templates), problems_(problems) {}

    std::optional<Journey> read() {
        toml::table root;
        try {
            root = toml::parse_file(file_);
        } catch (const toml::parse_error& e) {
            problems_.push_back(file_ + ":" + std::to_string(e.source().begin.line) + ": " +
                                std::string(e.description()));
            return std::nullopt;
        }
        const std::size_t before = problems_.size();
        Journey j;
        j.file = file_;
        j.name = fs::path(file_).stem().string();
        if (!valid_id(j.name)) at_file("name", "a journey's file name is letters, digits, '_' or '-' before .toml");
        for (auto&& [k, v] : root)
            if (k.str() != "description" && k.str() != "anchors" && k.str() != "events" && k.str() != "on" &&
                k.str() != "step")
                fail(v, std::string(k.str()), "unknown key (description, anchors, events, on, step)");
        str(root, "description", j.description, "description");
        strings(root, "anchors", j.anchors, "anchors");
        read_events(root, j);
        read_steps(root, j);
        read_on(root, j);
        if (problems_.size() == before) check_graph(j);
        if (problems_.size() != before) return std::nullopt;
        return j;
    }

private:
    void read_events(const toml::table& root, Journey& j) {
        const toml::node* n = root.get("events");
        if (!n) return;
        auto* t = n->as_table();
        if (!t) return fail(*n, "events", "expected a table: [events] booked = { anchors = [\"appointment_at\"] }");
        for (auto&& [k, v] : *t) {
            const std::string key = "events." + std::string(k.str());
            EventDefinition e;
            e.name = std::string(k.str());
            e.line = static_cast<int>(v.source().begin.line);
            if (!valid_id(e.name))
                fail(v, key, "an event's name is letters, digits, '_' or '-' (names with a dot are crieur's)");
            auto* et = v.as_table();
            if (!et) {
                fail(v, key, "expected a table ({} when it brings no data)");
                continue;
            }
            for (auto&& [ek, ev] : *et)
                if (ek.str() != "anchors") fail(ev, key + "." + std::string(ek.str()), "unknown key (anchors)");
            strings(*et, "anchors", e.anchors, key + ".anchors");
            j.events[e.name] = std::move(e);
        }
    }

    void read_steps(const toml::table& root, Journey& j) {
        const toml::node* n = root.get("step");
        auto* a = n ? n->as_array() : nullptr;
        if (!a || a->empty()) return at_file("step", "a journey has steps: [[step]] tables, the first starts it");
        std::set<std::string> ids;
        for (std::size_t i = 0; i < a->size(); ++i) {
            auto* t = (*a)[i].as_table();
            const std::string key = "step[" + std::to_string(i) + "]";
            if (!t) {
                fail((*a)[i], key, "expected a [[step]] table");
                continue;
            }
            Step s;
            s.line = static_cast<int>(t->source().begin.line);
            if (!str(*t, "id", s.id, key + ".id")) fail(*t, key + ".id", "required key is missing");
            else if (!valid_id(s.id) || s.id == "end" || s.id == "next")
                fail(*t->get("id"), key + ".id", "a step's id is letters, digits, '_' or '-', and not 'end' or 'next'");
            else if (!ids.insert(s.id).second)
                fail(*t->get("id"), key + ".id", "the step '" + s.id + "' is already defined above");
            const std::string sk = s.id.empty() ? key : "step " + s.id;
            read_step(*t, sk, s, j);
            j.steps.push_back(std::move(s));
        }
        // A step without `next` goes on to the following one; the last one ends.
        for (std::size_t i = 0; i < j.steps.size(); ++i)
            if (j.steps[i].next.empty() && j.steps[i].kind != StepKind::end)
                j.steps[i].next = i + 1 < j.steps.size() ? j.steps[i + 1].id : "end";
    }

    void read_step(const toml::table& t, const std::string& key, Step& s, const Journey& j) {
        int kinds = 0;
        const bool waits = t.get("wait") || t.get("wait_until") || t.get("until");
        for (const char* k : {"send", "branch", "notify", "end"})
            if (t.get(k)) ++kinds;
        if (waits) ++kinds;
        if (kinds == 0) return fail(t, key, "a step is one of send, wait (wait, wait_until or until), branch, notify, end");
        if (kinds > 1) return fail(t, key, "a step is one of send, wait (wait, wait_until or until), branch, notify, end: not several");
        std::set<std::string> allowed{"id", "next"};
        if (t.get("send")) {
            s.kind = StepKind::send;
            allowed.insert({"send", "channels", "category", "window", "priority", "replies"});
            read_send(t, key, s);
        } else if (waits) {
            s.kind = StepKind::wait;
            allowed.insert({"wait", "wait_until", "until", "if_past"});
            read_wait(t, key, s, j);
        } else if (t.get("notify")) {
            s.kind = StepKind::notify;
            allowed.insert("notify");
            if (str(t, "notify", s.notice, key + ".notify") && !valid_id(s.notice))
                fail(*t.get("notify"), key + ".notify", "a notice's name is letters, digits, '_' or '-'");
        } else if (t.get("branch")) {
            s.kind = StepKind::branch;
            allowed = {"id", "branch", "otherwise"};
            read_branch(t, key, s);
        } else {
            s.kind = StepKind::end;
            allowed = {"id", "end"};
            if (!t.get("end")->is_boolean() || !*t.get("end")->value<bool>())
                fail(*t.get("end"), key + ".end", "expected end = true");
        }
        for (auto&& [k, v] : t)
            if (!allowed.count(std::string(k.str())))
                fail(v, key + "." + std::string(k.str()),
                     std::string("unknown key for a ") + to_string(s.kind) + " step");
        str(t, "next", s.next, key + ".next");
    }

    void read_send(const toml::table& t, const std::string& key, Step& s) {
        str(t, "send", s.template_name, key + ".send");
        strings(t, "channels", s.channels, key + ".channels");
        std::string window, category, priority;
        if (str(t, "window", window, key + ".window")) {
            if (auto d = parse_duration(window)) s.window = *d;
            else fail(*t.get("window"), key + ".window", "expected a duration such as 7d, 2h or 1d12h");
        }
        if (str(t, "priority", priority, key + ".priority")) {
            if (priority == "urgent") s.priority = Priority::urgent;
            else if (priority == "bulk") s.priority = Priority::bulk;
            else if (priority != "normal") fail(*t.get("priority"), key + ".priority", "expected urgent, normal or bulk");
        }
        std::vector<std::string> replies;
        strings(t, "replies", replies, key + ".replies");
        for (auto& r : replies) {
            const auto folded = fold_keyword(r);
            if (folded.empty() || folded.find(' ') != std::string::npos)
                fail(*t.get("replies"), key + ".replies", "'" + r + "' is not one word");
            else if (folded == "STOP" || folded == "START" || folded == "ARRET")
                fail(*t.get("replies"), key + ".replies", "'" + r + "' keeps its meaning (the citizen's consent)");
            else s.replies.push_back(folded);
        }
        str(t, "category", category, key + ".category");
        if (!templates_) return;
        const auto* m = templates_->manifest(s.template_name);
        if (!m) return fail(*t.get("send"), key + ".send", "no template '" + s.template_name + "'");
        for (auto& c : s.channels)
            if (std::find(m->channels.begin(), m->channels.end(), c) == m->channels.end())
                fail(*t.get("channels"), key + ".channels",
                     "the template " + s.template_name + " has no " + c + " version");
        if (!category.empty() && category != m->category)
            fail(*t.get("category"), key + ".category",
                 "the template " + s.template_name + " is of the category '" + m->category + "'");
    }

    void read_wait(const toml::table& t, const std::string& key, Step& s, const Journey& j) {
        std::string text;
        if (t.get("wait") && t.get("wait_until"))
            return fail(t, key, "a wait is either `wait` (a duration) or `wait_until` (an anchor), not both");
        if (str(t, "wait", text, key + ".wait")) {
            if (auto d = parse_duration(text); d && d->count() > 0) s.wait_for = *d;
            else fail(*t.get("wait"), key + ".wait", "expected a duration such as 21d, 2h or 1d12h");
        }
        if (str(t, "wait_until", text, key + ".wait_until")) {
            auto a = parse_anchor_time(text);
            if (auto* err = std::get_if<std::string>(&a)) {
                fail(*t.get("wait_until"), key + ".wait_until", *err);
            } else {
                s.wait_until = std::get<AnchorTime>(a);
                bool known = std::find(j.anchors.begin(), j.anchors.end(), s.wait_until->anchor) != j.anchors.end();
                for (auto& [name, e] : j.events)
                    known = known || std::find(e.anchors.begin(), e.anchors.end(), s.wait_until->anchor) != e.anchors.end();
                if (!known)
                    fail(*t.get("wait_until"), key + ".wait_until",
                         "the anchor '" + s.wait_until->anchor +
                             "' is neither in `anchors` nor brought by an event of [events]");
            }
        }
        strings(t, "until", s.until, key + ".until");
        for (auto& e : s.until)
            if (!is_crieur_event(e) && !j.events.count(e))
                fail(*t.get("until"), key + ".until", unknown_event(e, j));
        s.if_past = "next";
        if (str(t, "if_past", s.if_past, key + ".if_past") && !s.wait_until)
            fail(*t.get("if_past"), key + ".if_past", "only a wait_until has an anchor that may be past");
    }

    void read_branch(const toml::table& t, const std::string& key, Step& s) {
        auto* a = t.get("branch")->as_array();
        if (!a || a->empty())
            return fail(*t.get("branch"), key + ".branch",
                        "expected a list of cases: [{ event = \"booked\", then = \"recap\" }, ...]");
        for (std::size_t i = 0; i < a->size(); ++i) {
            const std::string ck = key + ".branch[" + std::to_string(i) + "]";
            auto* c = (*a)[i].as_table();
            if (!c) {
                fail((*a)[i], ck, "expected a case { event|message|reply|data = ..., then = ... }");
                continue;
            }
            BranchCase bc;
            bc.line = static_cast<int>(c->source().begin.line);
            if (!str(*c, "then", bc.then, ck + ".then")) fail(*c, ck + ".then", "required key is missing");
            int kinds = 0;
            for (const char* k : {"event", "message", "reply", "data"})
                if (c->get(k)) ++kinds;
            if (kinds != 1) {
                fail(*c, ck, "a case asks one thing: event, message (with is), reply or data (with equals)");
                continue;
            }
            std::set<std::string> allowed{"then"};
            auto& w = bc.when;
            if (str(*c, "event", w.name, ck + ".event")) {
                w.kind = Condition::Kind::event;
                allowed.insert("event");
                w.text = "event " + w.name;
            } else if (str(*c, "message", w.name, ck + ".message")) {
                w.kind = Condition::Kind::message;
                allowed.insert({"message", "is"});
                if (!str(*c, "is", w.value, ck + ".is")) fail(*c, ck + ".is", "required key is missing");
                else if (w.value != "delivered" && w.value != "read" && w.value != "clicked" && w.value != "failed" &&
                         w.value != "answered")
                    fail(*c->get("is"), ck + ".is", "expected delivered, read, clicked, failed or answered");
                w.text = "message " + w.name + " " + w.value;
            } else if (str(*c, "reply", w.name, ck + ".reply")) {
                w.kind = Condition::Kind::reply;
                allowed.insert("reply");
                if (w.name != "*") w.name = fold_keyword(w.name);
                w.text = "reply " + w.name;
            } else if (str(*c, "data", w.name, ck + ".data")) {
                w.kind = Condition::Kind::data;
                allowed.insert({"data", "equals"});
                if (auto* eq = c->get("equals")) {
                    if (eq->is_string()) w.value = "\"" + *eq->value<std::string>() + "\"";
                    else if (eq->is_boolean()) w.value = *eq->value<bool>() ? "true" : "false";
                    else if (eq->is_integer()) w.value = std::to_string(*eq->value<std::int64_t>());
                    else fail(*eq, ck + ".equals", "expected a string, an integer or true/false");
                    if (w.value.find('\\') != std::string::npos ||
                        (w.value.size() > 2 && w.value.substr(1, w.value.size() - 2).find('"') != std::string::npos))
                        fail(*eq, ck + ".equals", "a value to compare holds no quote or backslash");
                }
                w.text = "data " + w.name + (w.value.empty() ? " exists" : " = " + w.value);
            }
            for (auto&& [k, v] : *c)
                if (!allowed.count(std::string(k.str())))
                    fail(v, ck + "." + std::string(k.str()), "unknown key for this case");
            s.cases.push_back(std::move(bc));
        }
        str(t, "otherwise", s.next, key + ".otherwise");  // not written: the file's next step
    }

    void read_on(const toml::table& root, Journey& j) {
        const toml::node* n = root.get("on");
        if (!n) return;
        auto* t = n->as_table();
        if (!t) return fail(*n, "on", "expected a table: [on] booked = \"recap\"");
        for (auto&& [k, v] : *t) {
            const std::string name(k.str());
            const std::string key = "on." + name;
            if (!is_crieur_event(name) && !j.events.count(name)) fail(v, key, unknown_event(name, j));
            if (name == "message.delivered" || name == "message.read" || name == "message.clicked" ||
                name == "message.failed")
                fail(v, key, "a message's progress is asked in a branch or a wait's until, not from every step");
            auto target = v.value<std::string>();
            if (!target) {
                fail(v, key, "expected a step's id or \"end\"");
                continue;
            }
            j.on[name] = *target;
            on_lines_[name] = static_cast<int>(v.source().begin.line);
        }
    }

    // Targets exist, the conditions name what exists, every step can be reached, and no cycle
    // runs without a wait (it would spin).
    void check_graph(const Journey& j) {
        const std::size_t before = problems_.size();
        auto target_ok = [&](const std::string& t) { return t == "end" || j.step(t) != nullptr; };
        auto line_key = [&](int line, const std::string& key, const std::string& what) {
            problems_.push_back(file_ + ":" + std::to_string(line) + ": " + key + ": " + what);
        };
        for (auto& s : j.steps) {
            const std::string key = "step " + s.id;
            if (s.kind != StepKind::end && !target_ok(s.next))
                line_key(s.line, key + (s.kind == StepKind::branch ? ".otherwise" : ".next"), "no step '" + s.next + "'");
            if (s.kind == StepKind::wait && s.if_past != "next" && !target_ok(s.if_past))
                line_key(s.line, key + ".if_past", "no step '" + s.if_past + "' (next, end or a step's id)");
            for (auto& c : s.cases) {
                if (!target_ok(c.then)) line_key(c.line, key + ".branch", "no step '" + c.then + "'");
                if (c.when.kind == Condition::Kind::event && !is_crieur_event(c.when.name) && !j.events.count(c.when.name))
                    line_key(c.line, key + ".branch", unknown_event(c.when.name, j));
                if (c.when.kind == Condition::Kind::message) {
                    auto* m = j.step(c.when.name);
                    if (!m || m->kind != StepKind::send)
                        line_key(c.line, key + ".branch", "no send step '" + c.when.name + "' whose message to ask about");
                }
            }
        }
        for (auto& [event, target] : j.on)
            if (!target_ok(target)) line_key(on_lines_[event], "on." + event, "no step '" + target + "'");
        if (problems_.size() != before) return;

        // Edges that run at once (everything but a wait's own timer): a cycle of them spins.
        auto successors = [&](const Step& s) {
            std::vector<std::string> out;
            if (s.kind == StepKind::wait || s.kind == StepKind::end) return out;
            out.push_back(s.next);
            for (auto& c : s.cases) out.push_back(c.then);
            return out;
        };
        std::map<std::string, int> colour;  // 0 unseen, 1 on the path, 2 done
        std::vector<std::string> path;
        std::function<bool(const Step&)> visit = [&](const Step& s) -> bool {
            colour[s.id] = 1;
            path.push_back(s.id);
            for (auto& next : successors(s)) {
                if (next == "end") continue;
                if (colour[next] == 1) {
                    std::string cycle;
                    auto from = std::find(path.begin(), path.end(), next);
                    for (auto it = from; it != path.end(); ++it) cycle += *it + " → ";
                    line_key(j.step(next)->line, "step " + next, "a cycle with no wait would spin: " + cycle + next);
                    return true;
                }
                if (colour[next] == 0 && visit(*j.step(next))) return true;
            }
            path.pop_back();
            colour[s.id] = 2;
            return false;
        };
        for (auto& s : j.steps)
            if (colour[s.id] == 0 && visit(s)) return;

        // Every step is reached from the first or from an event's jump.
        std::set<std::string> reached;
        std::vector<std::string> todo{j.steps.front().id};
        for (auto& [e, t] : j.on) todo.push_back(t);
        while (!todo.empty()) {
            auto id = todo.back();
            todo.pop_back();
            if (id == "end" || !reached.insert(id).second) continue;
            auto& s = *j.step(id);
            if (s.kind != StepKind::end) todo.push_back(s.next);
            for (auto& c : s.cases) todo.push_back(c.then);
            if (s.kind == StepKind::wait && s.if_past != "next") todo.push_back(s.if_past);
        }
        for (auto& s : j.steps)
            if (!reached.count(s.id)) line_key(s.line, "step " + s.id, "no step and no event leads here");
    }

    std::string unknown_event(const std::string& name, const Journey& j) {
        std::string known;
        for (auto& [n, e] : j.events) known += (known.empty() ? "" : ", ") + n;
        return "no event '" + name + "': not declared in [events] (" + (known.empty() ? "none" : known) +
               ") and not crieur's (message.delivered, message.read, message.clicked, message.failed, reply, reply.<KEYWORD>)";
    }

    bool str(const toml::table& t, const char* key, std::string& out, const std::string& name) {
        auto* n = t.get(key);
        if (!n) return false;
        if (!n->is_string()) {
            fail(*n, name, "expected a string");
            return false;
        }
        out = *n->value<std::string>();
        return true;
    }
    bool strings(const toml::table& t, const char* key, std::vector<std::string>& out, const std::string& name) {
        auto* n = t.get(key);
        if (!n) return false;
        auto* a = n->as_array();
        if (!a || !a->is_homogeneous(toml::node_type::string)) {
            fail(*n, name, "expected a list of strings");
            return false;
        }
        for (auto& e : *a) out.push_back(*e.value<std::string>());
        return true;
    }
    void fail(const toml::node& n, const std::string& key, const std::string& what) {
        problems_.push_back(file_ + ":" + std::to_string(n.source().begin.line) + ": " + key + ": " + what);
    }
    void at_file(const std::string& key, const std::string& what) {
        problems_.push_back(file_ + ":1: " + key + ": " + what);
    }

    std::string file_;
    const render::TemplateStore* templates_;
    std::vector<std::string>& problems_;
    std::map<std::string, int> on_lines_;
};

}  // namespace

JourneyLibrary::LoadResult JourneyLibrary::load(const std::string& dir, const render::TemplateStore* templates) {
    LoadResult r;
    auto lib = std::make_shared<JourneyLibrary>();
    std::error_code ec;
    if (fs::is_directory(dir, ec)) {
        std::vector<fs::path> files;
        for (auto& e : fs::directory_iterator(dir, ec))
            if (e.is_regular_file() && e.path().extension() == ".toml") files.push_back(e.path());
        std::sort(files.begin(), files.end());
        for (auto& f : files) {
            JourneyReader reader(f, templates, r.problems);
            if (auto j = reader.read()) lib->journeys_.emplace(j->name, std::move(*j));
        }
    } else if (fs::exists(dir, ec)) {
        r.problems.push_back(dir + ": not a folder of journeys");
    }
    if (r.problems.empty()) r.library = std::move(lib);
    return r;
}

JourneyLibrary::LoadResult JourneyLibrary::load_file(const std::string& file, const render::TemplateStore* templates) {
    LoadResult r;
    auto lib = std::make_shared<JourneyLibrary>();
    JourneyReader reader(file, templates, r.problems);
    if (auto j = reader.read()) lib->journeys_.emplace(j->name, std::move(*j));
    if (r.problems.empty()) r.library = std::move(lib);
    return r;
}

const Journey* JourneyLibrary::find(std::string_view name) const {
    auto it = journeys_.find(name);
    return it == journeys_.end() ? nullptr : &it->second;
}

}  // namespace crieur::journeys
