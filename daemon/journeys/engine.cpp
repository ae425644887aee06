#include "daemon/journeys/engine.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>

namespace crieur::journeys {

const char* to_string(InstanceState s) {
    switch (s) {
    case InstanceState::active: return "active";
    case InstanceState::paused: return "paused";
    case InstanceState::ended: return "ended";
    }
    return "active";
}

std::optional<InstanceState> parse_instance_state(std::string_view s) {
    for (auto v : {InstanceState::active, InstanceState::paused, InstanceState::ended})
        if (s == to_string(v)) return v;
    return std::nullopt;
}

const char* to_string(Action::Kind k) {
    switch (k) {
    case Action::Kind::send: return "send";
    case Action::Kind::reschedule: return "reschedule";
    case Action::Kind::pause: return "pause";
    case Action::Kind::resume: return "resume";
    case Action::Kind::stop: return "stop";
    }
    return "send";
}

std::optional<Action::Kind> parse_action_kind(std::string_view s) {
    for (auto k : {Action::Kind::send, Action::Kind::reschedule, Action::Kind::pause, Action::Kind::resume,
                   Action::Kind::stop})
        if (s == to_string(k)) return k;
    return std::nullopt;
}

std::optional<std::pair<std::string, int>> step_of_job(const Instance& instance, std::string_view job_id) {
    if (job_id.size() <= instance.id.size() + 1 || job_id.substr(0, instance.id.size()) != instance.id ||
        job_id[instance.id.size()] != ':')
        return std::nullopt;
    auto rest = job_id.substr(instance.id.size() + 1);
    int run = 1;
    if (auto colon = rest.find(':'); colon != std::string_view::npos) {
        run = 0;
        for (char c : rest.substr(colon + 1)) {
            if (c < '0' || c > '9' || run > 100000) return std::nullopt;
            run = run * 10 + (c - '0');
        }
        if (run < 2) return std::nullopt;
        rest = rest.substr(0, colon);
    }
    return std::pair{std::string(rest), run};
}

namespace {

std::string format_ms(std::int64_t ms) { return format_rfc3339(from_unix_ms(ms)); }

// The instance's data with `extra`'s members over it (an event's data, an agent's message's).
std::string merged(const std::string& base, const std::string& extra) {
    if (extra.empty() || extra == "{}") return base;
    rapidjson::Document d, e;
    d.Parse(base.c_str());
    e.Parse(extra.c_str());
    if (!d.IsObject()) d.SetObject();
    if (!e.IsObject()) return base;
    auto& a = d.GetAllocator();
    for (auto& m : e.GetObject()) {
        rapidjson::Value v(m.value, a);
        if (auto it = d.FindMember(m.name); it != d.MemberEnd()) it->value = std::move(v);
        else d.AddMember(rapidjson::Value(m.name, a), std::move(v), a);
    }
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    d.Accept(w);
    return {buf.GetString(), buf.GetSize()};
}

std::optional<std::string> data_string(const std::string& data, const std::string& key) {
    rapidjson::Document d;
    d.Parse(data.c_str());
    if (!d.IsObject()) return std::nullopt;
    auto it = d.FindMember(key.c_str());
    if (it == d.MemberEnd() || !it->value.IsString()) return std::nullopt;
    return std::string(it->value.GetString(), it->value.GetStringLength());
}

bool holds(const Condition& c, const Instance& in) {
    switch (c.kind) {
    case Condition::Kind::event: return in.events.count(c.name) > 0;
    case Condition::Kind::reply: return in.events.count(c.name == "*" ? "reply" : "reply." + c.name) > 0;
    case Condition::Kind::message: {
        auto it = in.messages.find(c.name);
        if (it == in.messages.end()) return false;
        const auto p = it->second.progress;
        const bool read = p == MessageProgress::read || p == MessageProgress::clicked;
        if (c.value == "delivered") return read || p == MessageProgress::delivered;
        if (c.value == "read") return read;
        if (c.value == "clicked") return p == MessageProgress::clicked;
        if (c.value == "failed") return p == MessageProgress::failed;
        return read || it->second.replied;  // answered
    }
    case Condition::Kind::data: {
        rapidjson::Document d;
        d.Parse(in.data_json.c_str());
        if (!d.IsObject()) return false;
        auto it = d.FindMember(c.name.c_str());
        if (it == d.MemberEnd()) return false;
        if (c.value.empty()) return !it->value.IsNull();
        rapidjson::Document want;
        want.Parse(c.value.c_str());
        return it->value == want;
    }
    }
    return false;
}

// Where an event moves a waiting instance: the journey's `on` first (from any step), then the
// current wait's `until` (its next step).
std::optional<std::string> target_of(const Journey& j, const Instance& in, const std::vector<std::string>& names) {
    for (auto& n : names)
        if (auto it = j.on.find(n); it != j.on.end()) return it->second;
    if (const Step* s = j.step(in.step); s && s->kind == StepKind::wait && in.state == InstanceState::active)
        for (auto& n : names)
            if (std::find(s->until.begin(), s->until.end(), n) != s->until.end()) return s->next;
    return std::nullopt;
}

class Runner {
public:
    Runner(const Journey& j, Instance in, std::int64_t now, const date::time_zone* zone)
        : j_(j), now_(now), zone_(zone) {
        out_.instance = std::move(in);
    }

    Advance& result() { return out_; }
    Instance& in() { return out_.instance; }

    void end(const std::string& reason) {
        in().state = InstanceState::ended;
        in().wake_ms.reset();
        in().ended_reason = reason;
        in().since_ms = now_;
        out_.trace.push_back("ended: " + reason);
        out_.moved = true;
    }

    // Runs from step `id` until a wait or the end.
    void run_from(std::string id, const std::string& why) {
        out_.moved = true;
        in().wake_ms.reset();
        std::string reason = why;
        for (int n = 0; n < kMaxStepsPerTrigger; ++n) {
            if (id == "end") return end(reason);
            const Step* s = j_.step(id);
            if (!s) return end("the step '" + id + "' is not in the journey any more");
            const int run = ++in().runs[id];
            in().step = id;
            in().since_ms = now_;
            switch (s->kind) {
            case StepKind::send: {
                SendOrder o;
                o.step = id;
                o.job_id = in().id + ":" + id + (run > 1 ? ":" + std::to_string(run) : "");
                o.template_name = s->template_name;
                o.channels = s->channels;
                o.priority = s->priority;
                if (s->window.count() > 0) o.deadline_ms = now_ + s->window.count();
                o.data_json = in().data_json;
                in().messages[id] = SentMessage{o.job_id, run, MessageProgress::queued, now_, false};
                out_.trace.push_back("send " + id + ": " + s->template_name + " (" + o.job_id + ")");
                out_.sends.push_back(std::move(o));
                reason = "end";
                id = s->next;
                break;
            }
            case StepKind::wait: {
                std::optional<std::int64_t> wake;
                if (s->wait_for) wake = now_ + s->wait_for->count();
                if (s->wait_until) {
                    auto value = data_string(in().data_json, s->wait_until->anchor);
                    if (!value) return end("the anchor '" + s->wait_until->anchor + "' is not in the data (step " + id + ")");
                    auto at = resolve(*s->wait_until, *value, zone_);
                    if (!at)
                        return end("the anchor '" + s->wait_until->anchor + "' is not a date or a date-time: '" +
                                   *value + "' (step " + id + ")");
                    const auto ms = to_unix_ms(*at);
                    if (ms <= now_) {
                        const std::string to = s->if_past == "next" ? s->next : s->if_past;
                        out_.trace.push_back("wait " + id + ": " + s->wait_until->text + " = " + format_ms(ms) +
                                             " is past: on to " + to);
                        reason = "end";
                        id = to;
                        break;
                    }
                    wake = ms;
                }
                in().wake_ms = wake;
                std::string until;
                for (auto& e : s->until) until += (until.empty() ? "" : ", ") + e;
                out_.trace.push_back("wait " + id + (wake ? " until " + format_ms(*wake) : std::string()) +
                                     (until.empty() ? "" : (wake ? " or " : " for ") + until));
                return;
            }
            case StepKind::branch: {
                std::string to = s->next;
                std::string because = "otherwise";
                for (auto& c : s->cases)
                    if (holds(c.when, in())) {
                        to = c.then;
                        because = c.when.text;
                        break;
                    }
                out_.trace.push_back("branch " + id + ": " + because + " → " + to);
                reason = "end";
                id = to;
                break;
            }
            case StepKind::notify:
                out_.notices.push_back(s->notice);
                out_.notice_ids.push_back(in().id + ":" + id + (run > 1 ? ":" + std::to_string(run) : ""));
                out_.trace.push_back("notify " + id + ": " + s->notice);
                reason = "end";
                id = s->next;
                break;
            case StepKind::end: return end("end (step " + id + ")");
            }
        }
        end("more than " + std::to_string(kMaxStepsPerTrigger) + " steps at once");
    }

    // An event, a progress or a reply: moves the instance if the journey says so.
    void on_names(const std::vector<std::string>& names) {
        if (in().state == InstanceState::paused) {
            out_.ignored = "paused: recorded, the journey holds";
            return;
        }
        auto to = target_of(j_, in(), names);
        if (!to) {
            out_.ignored = "recorded: no step waits for " + names.front();
            return;
        }
        out_.trace.push_back(names.front() + " → " + *to);
        run_from(*to, "on " + names.front());
    }

private:
    const Journey& j_;
    std::int64_t now_;
    const date::time_zone* zone_;
    Advance out_;
};

int rank(MessageProgress p) {
    switch (p) {
    case MessageProgress::none: return 0;
    case MessageProgress::queued: return 1;
    case MessageProgress::delivered: return 2;
    case MessageProgress::read: return 3;
    case MessageProgress::clicked: return 4;
    case MessageProgress::failed: return 1;  // it may still be read after a late receipt; see below
    }
    return 0;
}

}  // namespace

Advance advance(const Journey& j, Instance instance, const Trigger& t, std::int64_t now, const date::time_zone* zone) {
    Runner r(j, std::move(instance), now, zone);
    auto& in = r.in();
    if (in.state == InstanceState::ended && t.kind != Trigger::Kind::message) {
        r.result().ignored = "the journey has ended (" + in.ended_reason + ")";
        return std::move(r.result());
    }
    // A reload took away the step it was at: nothing can move it any more.
    if (in.state != InstanceState::ended && !in.runs.empty() && !j.step(in.step) && t.kind != Trigger::Kind::message) {
        r.end("the step '" + in.step + "' is not in the journey any more");
        return std::move(r.result());
    }
    switch (t.kind) {
    case Trigger::Kind::start:
        if (!in.runs.empty()) {
            r.result().ignored = "already started";
            break;
        }
        in.started_ms = now;
        r.run_from(j.steps.front().id, "end");
        break;
    case Trigger::Kind::timer: {
        const Step* s = j.step(in.step);
        if (!s || s->kind != StepKind::wait || t.name != in.step || t.run != in.runs[in.step] || !in.wake_ms) {
            r.result().ignored = "a timer for " + t.name + " the journey has left";
            break;
        }
        if (*in.wake_ms > now) {
            r.result().ignored = "a timer before its time (" + format_ms(*in.wake_ms) + ")";
            break;
        }
        if (in.state == InstanceState::paused) {
            r.result().ignored = "paused: its wait ends when it resumes";
            break;
        }
        r.result().trace.push_back("the wait " + in.step + " is over");
        r.run_from(s->next, "end");
        break;
    }
    case Trigger::Kind::event: {
        in.data_json = merged(in.data_json, t.data_json);
        in.events.insert(t.name);
        r.result().recorded = true;
        r.result().trace.push_back("event " + t.name);
        r.on_names({t.name});
        break;
    }
    case Trigger::Kind::message: {
        auto it = in.messages.find(t.name);
        if (it == in.messages.end() || it->second.run != t.run) {
            r.result().ignored = "a message of step " + t.name + " the journey has sent again since";
            break;
        }
        auto& m = it->second;
        // Progress only goes forward; a read after a failure (a late receipt) still counts as read.
        const bool forward = t.progress == MessageProgress::failed ? m.progress == MessageProgress::queued
                                                                   : rank(t.progress) > rank(m.progress);
        if (!forward) {
            r.result().ignored = std::string("the message of ") + t.name + " is already " + to_string(m.progress);
            break;
        }
        m.progress = t.progress;
        r.result().recorded = true;
        if (in.state == InstanceState::ended) break;  // kept for the record; nothing moves
        const std::string p = to_string(t.progress);
        r.result().trace.push_back("message " + t.name + " " + p);
        std::vector<std::string> names{"message." + p};
        if (t.progress == MessageProgress::clicked) names.push_back("message.read");
        if (t.progress == MessageProgress::read || t.progress == MessageProgress::clicked)
            names.push_back("message.delivered");
        r.on_names(names);
        break;
    }
    case Trigger::Kind::reply: {
        in.events.insert("reply");
        if (!t.name.empty()) in.events.insert("reply." + t.name);
        // The reply answers the latest message.
        SentMessage* latest = nullptr;
        for (auto& [step, m] : in.messages)
            if (!latest || m.sent_ms >= latest->sent_ms) latest = &m;
        if (latest) latest->replied = true;
        r.result().recorded = true;
        r.result().trace.push_back(t.name.empty() ? std::string("reply") : "reply " + t.name);
        std::vector<std::string> names;
        if (!t.name.empty()) names.push_back("reply." + t.name);
        names.push_back("reply");
        r.on_names(names);
        break;
    }
    }
    if (r.result().moved || r.result().recorded) r.in().updated_ms = now;
    return std::move(r.result());
}

Advance apply(const Journey& j, Instance instance, const Action& a, std::int64_t now, const date::time_zone* zone) {
    Runner r(j, std::move(instance), now, zone);
    auto& in = r.in();
    auto& out = r.result();
    if (in.state == InstanceState::ended) {
        out.ignored = "the journey has ended (" + in.ended_reason + ")";
        return std::move(out);
    }
    switch (a.kind) {
    case Action::Kind::send: {
        SendOrder o;
        o.step = "action-" + std::to_string(++in.actions);
        o.job_id = in.id + ":" + o.step;
        o.template_name = a.template_name;
        o.channels = a.channels;
        o.data_json = merged(in.data_json, a.data_json);
        out.trace.push_back("send " + a.template_name + " (" + o.job_id + "), by " + a.by);
        out.sends.push_back(std::move(o));
        out.recorded = true;
        break;
    }
    case Action::Kind::reschedule: {
        const Step* s = j.step(in.step);
        if (!s || s->kind != StepKind::wait) {
            out.ignored = "not waiting: nothing to reschedule";
            break;
        }
        in.wake_ms = a.at_ms;
        out.moved = true;
        out.trace.push_back("the wait " + in.step + " now ends " + format_ms(a.at_ms) + ", by " + a.by);
        if (a.at_ms <= now && in.state == InstanceState::active) r.run_from(s->next, "end");
        break;
    }
    case Action::Kind::pause:
        if (in.state == InstanceState::paused) {
            out.ignored = "already paused";
            break;
        }
        in.state = InstanceState::paused;
        out.moved = true;
        out.trace.push_back("paused by " + a.by);
        break;
    case Action::Kind::resume: {
        if (in.state != InstanceState::paused) {
            out.ignored = "not paused";
            break;
        }
        in.state = InstanceState::active;
        out.moved = true;
        out.trace.push_back("resumed by " + a.by);
        const Step* s = j.step(in.step);
        if (s && s->kind == StepKind::wait && in.wake_ms && *in.wake_ms <= now) r.run_from(s->next, "end");
        break;
    }
    case Action::Kind::stop: r.end("stopped by " + a.by); break;
    }
    if (out.moved || out.recorded) in.updated_ms = now;
    return std::move(out);
}

}  // namespace crieur::journeys

namespace crieur::journeys {

Trigger reply_trigger(const Journey& journey, const Instance& instance, std::string_view text) {
    Trigger t{Trigger::Kind::reply};
    const std::string folded = fold_keyword(text);
    if (folded.empty()) return t;
    const std::string* latest_step = nullptr;
    std::int64_t latest_ms = 0;
    for (auto& [step, m] : instance.messages)
        if (!latest_step || m.sent_ms >= latest_ms) {
            latest_step = &step;
            latest_ms = m.sent_ms;
        }
    bool asked = journey.on.count("reply." + folded) > 0;
    if (const Step* s = latest_step ? journey.step(*latest_step) : nullptr)
        asked = asked || std::find(s->replies.begin(), s->replies.end(), folded) != s->replies.end();
    if (asked) t.name = folded;
    return t;
}

}  // namespace crieur::journeys
