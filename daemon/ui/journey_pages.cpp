// The dashboard's journeys (daemon/ui/dashboard.hpp): each journey's steps with how many
// instances stand at each, the instances at a step, one instance's history and next move, and an
// agent stepping in (a further message, a new time for the current wait, pause, resume, stop).
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <map>
#include <memory>

#include "channels/http_client.hpp"
#include "daemon/journeys/journey.hpp"
#include "daemon/render/template_store.hpp"
#include "daemon/ui/dashboard.hpp"
#include "daemon/ui/page_values.hpp"

namespace crieur::ui {

using http::Reply;
using http::Request;
using http::Response;
namespace json = rapidjson;

namespace {

const char* kind_name(journeys::StepKind k) { return journeys::to_string(k); }

}  // namespace

void Dashboard::journeys(const Request& req, Reply reply) {
    View v = view_of(req);
    const auto query = form_decode(req.query);
    const std::string journey = field_of(query, "journey"), step = field_of(query, "step"), state = field_of(query, "state");
    auto d = std::make_shared<json::Document>(json::kObjectType);
    auto finish = [this, v, d, reply]() { reply(page(v, 200, "journeys", *d, "journeys")); };
    api(v, "GET", "/v1/journey-steps", "", [this, v, d, journey, step, state, finish, reply](int status, json::Document counts) {
        if (status != 200) return reply(error_page(v, status == 403 ? 403 : 503, "error_unavailable", problem_text(v, status, counts)));
        auto& a = d->GetAllocator();
        // journey → step → state → instances
        std::map<std::string, std::map<std::string, std::map<std::string, std::int64_t>>> at;
        if (counts.HasMember("steps") && counts["steps"].IsArray())
            for (auto& c : counts["steps"].GetArray())
                at[text_of(c, "journey")][text_of(c, "step")][text_of(c, "state")] += c["instances"].GetInt64();
        json::Value list(json::kArrayType);
        auto library = journeys_();
        if (library)
            for (auto& [name, j] : library->all()) {
                json::Value o(json::kObjectType);
                o.AddMember("name", str(name, a), a);
                o.AddMember("description", str(j.description, a), a);
                json::Value steps(json::kArrayType);
                std::int64_t total = 0;
                for (auto& s : j.steps) {
                    json::Value row(json::kObjectType);
                    row.AddMember("id", str(s.id, a), a);
                    row.AddMember("kind", str(pages_.text(v.lang, std::string("step_kind_") + kind_name(s.kind)), a), a);
                    if (!s.template_name.empty()) row.AddMember("template", str(s.template_name, a), a);
                    for (const char* st : {"active", "paused", "ended"}) {
                        const std::int64_t n = at[name][s.id][st];
                        row.AddMember(json::StringRef(st), n, a);
                        // A count of 0 is no link (Mustache takes 0 for true).
                        row.AddMember(str(std::string("has_") + st, a), json::Value(n > 0), a);
                        total += n;
                    }
                    steps.PushBack(row, a);
                }
                o.AddMember("steps", steps, a);
                o.AddMember("instances", total, a);
                list.PushBack(o, a);
            }
        d->AddMember("journeys", list, a);
        d->AddMember("has_journeys", library && !library->all().empty(), a);
        if (journey.empty()) return finish();
        // The instances at a step (and state), as the filter asked.
        std::vector<std::pair<std::string, std::string>> q{{"journey", journey}, {"limit", "100"}};
        if (!step.empty()) q.emplace_back("step", step);
        if (!state.empty()) q.emplace_back("state", state);
        json::Value filter(json::kObjectType);
        filter.AddMember("journey", str(journey, a), a);
        filter.AddMember("step", str(step, a), a);
        filter.AddMember("state", str(state, a), a);
        filter.AddMember("state_label", str(pages_.text(v.lang, "journey_state_" + state), a), a);
        d->AddMember("filter", filter, a);
        api(v, "GET", "/v1/journeys?" + form_encode(q), "", [this, v, d, finish](int listed, json::Document page_json) {
            auto& al = d->GetAllocator();
            if (listed != 200) {
                d->AddMember("error", str(problem_text(v, listed, page_json), al), al);
                return finish();
            }
            json::Value rows(json::kArrayType);
            if (page_json.HasMember("journeys") && page_json["journeys"].IsArray())
                for (auto& j : page_json["journeys"].GetArray()) {
                    json::Value row(j, al);
                    row.AddMember("state_label", str(pages_.text(v.lang, "journey_state_" + text_of(j, "state")), al), al);
                    rows.PushBack(row, al);
                }
            d->AddMember("has_instances", !rows.Empty(), al);
            d->AddMember("instances", rows, al);
            finish();
        });
    });
}

void Dashboard::journey(const Request& req, std::string_view tail, Reply reply) {
    View v = view_of(req);
    const std::string id(tail);
    if (!plain_id(id)) return reply(error_page(v, 404, "error_not_found"));
    const auto query = form_decode(req.query);
    const std::string flash = field_of(query, "done"), send_template = field_of(query, "send_template");
    api(v, "GET", "/v1/journeys/" + url_encode(id), "", [this, v, id, flash, send_template, query, reply](int status, json::Document j) {
        if (status == 404) return reply(error_page(v, 404, "error_journey_not_found", id));
        if (status != 200) return reply(error_page(v, 503, "error_unavailable", problem_text(v, status, j)));
        json::Document d(json::kObjectType);
        auto& a = d.GetAllocator();
        const std::string state = text_of(j, "state");
        json::Value jv(j, a);
        jv.AddMember("state_label", str(pages_.text(v.lang, "journey_state_" + state), a), a);
        // The messages by step, as rows.
        json::Value messages(json::kArrayType);
        if (j.HasMember("messages") && j["messages"].IsObject())
            for (auto& m : j["messages"].GetObject()) {
                json::Value row(m.value, a);
                row.AddMember("step", json::Value(m.name, a), a);
                row.AddMember("progress_label", str(pages_.text(v.lang, "progress_" + text_of(m.value, "progress")), a), a);
                messages.PushBack(row, a);
            }
        jv.RemoveMember("messages");
        jv.AddMember("has_messages", !messages.Empty(), a);
        jv.AddMember("messages", messages, a);
        jv.AddMember("since_text", str(pages_.show_time(text_of(j, "since"), v.lang), a), a);
        d.AddMember("journey", jv, a);
        d.AddMember("is_active", state == "active", a);
        d.AddMember("is_paused", state == "paused", a);
        d.AddMember("is_open", state != "ended", a);
        // "Send a message": the template's fields once chosen (its data defaults to the journey's).
        auto form = campaign_form_data(v, send_template, query);
        json::Value send(json::kObjectType);
        send.AddMember("templates", json::Value(form["templates"], a), a);
        if (form.HasMember("template")) {
            json::Value t(form["template"], a);
            // The message's data is the journey's, what is typed here over it: nothing prefilled.
            for (auto& var : t["variables"].GetArray()) var["value"] = "";
            send.AddMember("template", t, a);
        }
        d.AddMember("send", send, a);
        if (!flash.empty()) d.AddMember("flash", str(pages_.text(v.lang, "flash_" + flash), a), a);
        reply(page(v, 200, "journey", d, "journeys"));
    });
}

void Dashboard::journey_action(const Request& req, std::string_view tail, Reply reply) {
    View v = view_of(req);
    const auto [id, what] = id_and_action(tail);
    if (!plain_id(id) || what != "actions")
        return reply(error_page(v, 404, "error_not_found"));
    const auto form = form_decode(req.body);
    const std::string action = field_of(form, "action");
    json::Document body(json::kObjectType);
    auto& b = body.GetAllocator();
    body.AddMember("action", json::Value(action.c_str(), b), b);
    if (action == "reschedule") {
        const std::string utc = pages_.local_to_rfc3339(field_of(form, "at"));
        if (utc.empty()) return reply(error_page(v, 422, "error_action", pages_.text(v.lang, "field_at") + " : " + pages_.text(v.lang, "error_bad_time")));
        body.AddMember("at", json::Value(utc.c_str(), b), b);
    } else if (action == "send") {
        const std::string name = field_of(form, "template");
        body.AddMember("template", json::Value(name.c_str(), b), b);
        json::Value channels(json::kArrayType);
        for (auto& [k, val] : form)
            if (k == "channels") channels.PushBack(json::Value(val.c_str(), b), b);
        if (!channels.Empty()) body.AddMember("channels", channels, b);
        json::Value data(json::kObjectType);
        for (auto& [k, val] : form)
            if (k.starts_with("data.") && !val.empty()) data.AddMember(json::Value(k.substr(5).c_str(), b), json::Value(val.c_str(), b), b);
        if (!data.ObjectEmpty()) body.AddMember("data", data, b);
    }
    json::StringBuffer sb;
    json::Writer<json::StringBuffer> w(sb);
    body.Accept(w);
    api(v, "POST", "/v1/journeys/" + url_encode(id) + "/actions", std::string(sb.GetString(), sb.GetSize()),
        [this, v, id, action, reply](int status, json::Document answer) {
        audit(v, "journey_" + (action.empty() ? std::string("action") : action), id, outcome_of(status, answer));
        if (status >= 300) return reply(error_page(v, status == 403 ? 403 : 422, "error_action", problem_text(v, status, answer)));
        reply(redirect(v, "/ui/journeys/" + url_encode(id) + "?done=journey_" + action));
    });
}

}  // namespace crieur::ui
