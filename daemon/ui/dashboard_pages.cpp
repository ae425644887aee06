// The dashboard's pages (daemon/ui/dashboard.hpp): each asks the API as its operator, adds what
// the page shows beside (labels in the page's language, a timeline, bars) and renders.
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <memory>

#include "channels/http_client.hpp"
#include "daemon/clock.hpp"
#include "daemon/log.hpp"
#include "daemon/metrics.hpp"
#include "daemon/receipts/receipt_store.hpp"
#include "daemon/ui/dashboard.hpp"
#include "daemon/render/template_store.hpp"
#include "daemon/ui/page_values.hpp"

namespace crieur::ui {

using http::Reply;
using http::Request;
using http::Response;
namespace json = rapidjson;

namespace {

// A name shown as its first letter: enough for an agent to tell two people apart on the phone,
// not enough to copy into anything.
std::string initial(std::string_view name) {
    if (name.empty()) return {};
    std::size_t n = 1;
    while (n < name.size() && (static_cast<unsigned char>(name[n]) & 0xC0) == 0x80) ++n;  // one UTF-8 character
    return std::string(name.substr(0, n)) + "…";
}

constexpr const char* kStatusOrder[] = {"queued", "scheduled", "sending", "sent", "delivered", "read",
                                        "failed", "rejected", "cancelled", "expired", "unknown"};

}  // namespace

// ---- Overview -------------------------------------------------------------------------------

void Dashboard::overview(const Request& req, Reply reply) {
    View v = view_of(req);
    const bool live_part = field_of(form_decode(req.query), "part") == "live";
    struct Gathered {
        json::Document hour, day, dead;
        int hour_status = 0, day_status = 0, dead_status = 0;
        int waiting = 3;
    };
    auto g = std::make_shared<Gathered>();
    const auto now = clock_.now();
    auto done = [this, v, g, live_part, reply]() {
        if (--g->waiting > 0) return;
        json::Document d(json::kObjectType);
        auto& a = d.GetAllocator();
        // Messages per status, as rows with a bar each (the chart) and a table (its figures).
        auto counts = [&](const json::Document& stats, int status) {
            json::Value out(json::kObjectType);
            json::Value rows(json::kArrayType);
            std::int64_t total = 0, most = 0;
            const json::Value* c = nullptr;
            if (status == 200 && stats.HasMember("counts") && stats["counts"].IsObject()) c = &stats["counts"];
            for (const char* s : kStatusOrder) {
                std::int64_t n = 0;
                if (c && c->HasMember(s) && (*c)[s].IsInt64()) n = (*c)[s].GetInt64();
                total += n;
                most = std::max(most, n);
            }
            int i = 0;
            for (const char* s : kStatusOrder) {
                std::int64_t n = 0;
                if (c && c->HasMember(s) && (*c)[s].IsInt64()) n = (*c)[s].GetInt64();
                if (n == 0) continue;
                json::Value row(json::kObjectType);
                row.AddMember("status", json::StringRef(s), a);
                row.AddMember("label", str(pages_.text(v.lang, std::string("status_") + s), a), a);
                row.AddMember("count", n, a);
                // The bar's width in % of the widest (at least 1 so that a small count shows).
                row.AddMember("pct", most > 0 ? std::max<std::int64_t>(1, n * 100 / most) : 0, a);
                row.AddMember("y", i * 22, a);
                rows.PushBack(row, a);
                ++i;
            }
            out.AddMember("has_rows", !rows.Empty(), a);
            out.AddMember("rows", rows, a);
            out.AddMember("total", total, a);
            out.AddMember("height", std::max(i, 1) * 22, a);
            out.AddMember("ok", status == 200, a);
            return out;
        };
        d.AddMember("hour", counts(g->hour, g->hour_status), a);
        d.AddMember("day", counts(g->day, g->day_status), a);
        if (g->dead_status == 200 && g->dead.HasMember("total") && g->dead["total"].IsInt64())
            d.AddMember("dead_letters", g->dead["total"].GetInt64(), a);
        else d.AddMember("dead_letters", str("—", a), a);
        d.AddMember("in_flight", metrics_.inflight.load(), a);
        const auto lag = metrics_.queue_lag.load(), pending = metrics_.pending_entries.load();
        if (lag >= 0) d.AddMember("queue_lag", lag, a);
        else d.AddMember("queue_lag", str("—", a), a);
        if (pending >= 0) d.AddMember("pending", pending, a);
        else d.AddMember("pending", str("—", a), a);
        d.AddMember("redis_up", metrics_.redis_up.load(), a);
        json::Value providers(json::kArrayType);
        for (auto& p : providers_()) {
            json::Value row(json::kObjectType);
            row.AddMember("name", str(p.name, a), a);
            row.AddMember("up", p.breaker == "closed", a);
            row.AddMember("state", str(pages_.text(v.lang, "breaker_" + p.breaker), a), a);
            char weight[16], answer[16];
            std::snprintf(weight, sizeof weight, "%.2f", p.weight);
            std::snprintf(answer, sizeof answer, "%.0f", p.answer_ms);
            row.AddMember("weight", str(weight, a), a);
            row.AddMember("answer_ms", str(answer, a), a);
            providers.PushBack(row, a);
        }
        d.AddMember("has_providers", !providers.Empty(), a);
        d.AddMember("providers", providers, a);
        json::Value retention(json::kObjectType);
        retention.AddMember("cleared", static_cast<std::uint64_t>(metrics_.retention_personal_cleared.load()), a);
        retention.AddMember("deleted", static_cast<std::uint64_t>(metrics_.retention_deleted.load()), a);
        retention.AddMember("personal_days", config_.retention.personal_days, a);
        retention.AddMember("days", config_.retention.days, a);
        d.AddMember("retention", retention, a);
        d.AddMember("updated_at", str(format_rfc3339(clock_.now()), a), a);
        if (live_part) {
            Response r = pages_.page(200, "overview_live", d, v.lang);
            return reply(std::move(r));
        }
        d.AddMember("live", true, a);
        reply(page(v, 200, "overview", d, "overview"));
    };
    auto since = [&](std::chrono::hours h) { return url_encode(format_rfc3339(now - h)); };
    api(v, "GET", "/v1/stats?by=status&since=" + since(std::chrono::hours(1)), "", [g, done](int s, json::Document d) {
        g->hour = std::move(d);
        g->hour_status = s;
        done();
    });
    api(v, "GET", "/v1/stats?by=status&since=" + since(std::chrono::hours(24)), "", [g, done](int s, json::Document d) {
        g->day = std::move(d);
        g->day_status = s;
        done();
    });
    api(v, "GET", "/v1/dead-letters?limit=1", "", [g, done](int s, json::Document d) {
        g->dead = std::move(d);
        g->dead_status = s;
        done();
    });
}

// ---- Messages -------------------------------------------------------------------------------

void Dashboard::messages(const Request& req, Reply reply) {
    View v = view_of(req);
    json::Document d(json::kObjectType);
    auto& a = d.GetAllocator();
    // The search form, as filled, and the API's query from it.
    std::vector<std::pair<std::string, std::string>> query;
    json::Value form(json::kObjectType);
    json::Value errors(json::kArrayType);
    for (const char* name : {"reference", "citizen", "campaign", "template", "status", "since", "until", "cursor"}) {
        std::string value = field_of(form_decode(req.query), name);
        if (std::string_view(name) != "cursor") form.AddMember(json::StringRef(name), str(value, a), a);
        if (value.empty()) continue;
        if (std::string_view(name) == "since" || std::string_view(name) == "until") {
            const std::string utc = pages_.local_to_rfc3339(value);
            if (utc.empty()) {
                json::Value e(json::kObjectType);
                e.AddMember("field", json::StringRef(name), a);
                e.AddMember("message", str(pages_.text(v.lang, "field_" + std::string(name)) + " : " +
                                               pages_.text(v.lang, "error_bad_time"), a), a);
                errors.PushBack(e, a);
                continue;
            }
            value = utc;
        }
        query.emplace_back(name, value);
    }
    // The status list for the form's select, the chosen one marked.
    json::Value statuses(json::kArrayType);
    const std::string chosen = field_of(form_decode(req.query), "status");
    for (const char* s : kStatusOrder) {
        json::Value o(json::kObjectType);
        o.AddMember("value", json::StringRef(s), a);
        o.AddMember("label", str(pages_.text(v.lang, std::string("status_") + s), a), a);
        o.AddMember("selected", chosen == s, a);
        statuses.PushBack(o, a);
    }
    d.AddMember("statuses", statuses, a);
    d.AddMember("form", form, a);
    const bool searched = !query.empty();
    if (!errors.Empty()) {
        d.AddMember("errors", errors, a);
        d.AddMember("has_errors", true, a);
        return reply(page(v, 422, "messages", d, "messages"));
    }
    query.emplace_back("limit", "50");
    auto shared = std::make_shared<json::Document>(std::move(d));
    api(v, "GET", "/v1/messages?" + form_encode(query), "",
        [this, v, shared, searched, req_query = req.query, reply](int status, json::Document body) {
        json::Document& page_data = *shared;
        auto& al = page_data.GetAllocator();
        if (status != 200) {
            json::Value refused(json::kArrayType);
            json::Value e(json::kObjectType);
            e.AddMember("field", str(text_of(body, "field"), al), al);
            e.AddMember("message", str(problem_text(v, status, body), al), al);
            refused.PushBack(e, al);
            page_data.AddMember("errors", refused, al);
            page_data.AddMember("has_errors", true, al);
            return reply(page(v, status >= 500 ? 503 : 422, "messages", page_data, "messages"));
        }
        json::Value list(json::kArrayType);
        if (body.HasMember("messages") && body["messages"].IsArray())
            for (auto& m : body["messages"].GetArray()) {
                json::Value row(m, al);
                row.AddMember("status_label", str(pages_.text(v.lang, "status_" + text_of(m, "status")), al), al);
                list.PushBack(row, al);
            }
        page_data.AddMember("found", list.Size() > 0, al);
        page_data.AddMember("searched", searched, al);
        page_data.AddMember("messages", list, al);
        const std::string next = text_of(body, "next_cursor");
        if (!next.empty()) {
            std::vector<std::pair<std::string, std::string>> q;
            for (auto& [k, val] : form_decode(req_query))
                if (k != "cursor") q.emplace_back(k, val);
            q.emplace_back("cursor", next);
            page_data.AddMember("next_page", str("/ui/messages?" + form_encode(q), al), al);
        }
        reply(page(v, 200, "messages", page_data, "messages"));
    });
}

void Dashboard::message(const Request& req, std::string_view tail, Reply reply) {
    View v = view_of(req);
    const std::string id(tail);
    if (!plain_id(id)) return reply(error_page(v, 404, "error_not_found"));
    const std::string flash = field_of(form_decode(req.query), "done");
    api(v, "GET", "/v1/messages/" + url_encode(id), "", [this, v, id, flash, reply](int status, json::Document body) {
        if (status == 404) return reply(error_page(v, 404, "error_message_not_found", id));
        if (status != 200) return reply(error_page(v, 503, "error_unavailable", problem_text(v, status, body)));
        auto& a = body.GetAllocator();
        // The timeline: every dated thing the receipts know of it, in order.
        struct Step {
            std::string at, what, detail;
        };
        std::vector<Step> steps;
        auto t = [&](std::string_view key) { return pages_.text(v.lang, key); };
        const std::string priority = text_of(body, "priority");
        steps.push_back({text_of(body, "created_at"), t("tl_queued"),
                         text_of(body, "template") + (priority.empty() ? "" : " · " + t("priority_" + priority))});
        if (body.HasMember("attempts") && body["attempts"].IsArray())
            for (auto& at : body["attempts"].GetArray()) {
                const std::string n = at.HasMember("n") && at["n"].IsInt() ? std::to_string(at["n"].GetInt()) : "?";
                steps.push_back({text_of(at, "started_at"), t("tl_attempt") + " " + n,
                                 t("channel_" + text_of(at, "channel")) + " · " + text_of(at, "provider") + " · " +
                                     text_of(at, "recipient")});
                if (!text_of(at, "finished_at").empty()) {
                    std::string detail = t("outcome_" + text_of(at, "outcome"));
                    if (detail.empty()) detail = text_of(at, "outcome");
                    if (!text_of(at, "error_code").empty()) detail += " · " + text_of(at, "error_code");
                    if (!text_of(at, "error_text").empty()) detail += " · " + text_of(at, "error_text");
                    steps.push_back({text_of(at, "finished_at"), t("tl_answer") + " " + n, detail});
                }
            }
        if (body.HasMember("events") && body["events"].IsArray())
            for (auto& e : body["events"].GetArray()) {
                std::string label = t("status_" + text_of(e, "status"));
                steps.push_back({text_of(e, "at"), t("tl_event"),
                                 (label.empty() ? text_of(e, "status") : label) +
                                     (text_of(e, "provider_status").empty() ? "" : " (" + text_of(e, "provider_status") + ")")});
            }
        std::stable_sort(steps.begin(), steps.end(), [](const Step& x, const Step& y) { return x.at < y.at; });
        json::Value timeline(json::kArrayType);
        for (auto& s : steps) {
            json::Value row(json::kObjectType);
            row.AddMember("at", str(s.at, a), a);
            row.AddMember("what", str(s.what, a), a);
            row.AddMember("detail", str(s.detail, a), a);
            timeline.PushBack(row, a);
        }
        json::Document d(json::kObjectType);
        auto& da = d.GetAllocator();
        const std::string st = text_of(body, "status");
        json::Value m(body, da);
        m.AddMember("status_label", str(pages_.text(v.lang, "status_" + st), da), da);
        m.AddMember("channel_label", str(pages_.text(v.lang, "channel_" + text_of(body, "channel")), da), da);
        d.AddMember("message", m, da);
        d.AddMember("timeline", json::Value(timeline, da), da);
        // What has not gone out may still be cancelled.
        d.AddMember("cancellable", st == "queued" || st == "scheduled", da);
        // A campaign's message may go again on another channel: its data is the campaign's.
        const std::string campaign = text_of(body, "campaign"), citizen = text_of(body, "citizen");
        const bool of_campaign = !campaign.empty() && !citizen.empty() && text_of(body, "job_id") == campaign + ":" + citizen;
        if (auto store = templates_(); of_campaign && store && store->has(text_of(body, "template"))) {
            json::Value channels(json::kArrayType);
            for (auto& c : store->channels(text_of(body, "template"))) {
                if (c == text_of(body, "channel")) continue;
                json::Value o(json::kObjectType);
                o.AddMember("name", str(c, da), da);
                o.AddMember("label", str(pages_.text(v.lang, "channel_" + c), da), da);
                channels.PushBack(o, da);
            }
            d.AddMember("resendable", !channels.Empty() && st != "queued" && st != "scheduled" && st != "sending", da);
            d.AddMember("resend_channels", channels, da);
        }
        if (!flash.empty()) d.AddMember("flash", str(pages_.text(v.lang, "flash_" + flash), da), da);
        reply(page(v, 200, "message", d, "messages"));
    });
}

void Dashboard::message_action(const Request& req, std::string_view tail, Reply reply) {
    View v = view_of(req);
    const auto [id, action] = id_and_action(tail);
    if (!plain_id(id) || (action != "cancel" && action != "resend")) return reply(error_page(v, 404, "error_not_found"));
    if (action == "resend") return resend(v, id, field_of(form_decode(req.body), "channel"), std::move(reply));
    api(v, "POST", "/v1/messages/" + url_encode(id) + "/cancel", "{}", [this, v, id, reply](int status, json::Document body) {
        audit(v, "message_cancel", id, outcome_of(status, body));
        if (status >= 300) return reply(error_page(v, status == 403 ? 403 : 409, "error_action", problem_text(v, status, body)));
        reply(redirect(v, "/ui/messages/" + url_encode(id) + "?done=cancelled"));
    });
}

// A campaign's message again, forced on another channel: a new job (its id the first's with
// "~<channel>", so that a second click sends nothing more) with the campaign's template and data,
// to the same citizen. The receipts keep no job's data (it is personal), so only a campaign's
// messages, whose data the campaign holds, can be rebuilt.
void Dashboard::resend(const View& v, const std::string& id, const std::string& channel, Reply reply) {
    if (channel.empty() || !plain_id(channel)) return reply(error_page(v, 422, "error_action", pages_.text(v.lang, "error_choose_channel")));
    api(v, "GET", "/v1/messages/" + url_encode(id), "", [this, v, id, channel, reply](int status, json::Document m) {
        if (status != 200) return reply(error_page(v, status == 404 ? 404 : 503, "error_action", problem_text(v, status, m)));
        const std::string campaign = text_of(m, "campaign"), citizen = text_of(m, "citizen");
        if (campaign.empty() || citizen.empty() || text_of(m, "job_id") != campaign + ":" + citizen)
            return reply(error_page(v, 409, "error_action", pages_.text(v.lang, "error_not_resendable")));
        api(v, "GET", "/v1/campaigns/" + url_encode(campaign), "", [this, v, id, channel, m = std::make_shared<json::Document>(std::move(m)),
                                                                      campaign, citizen, reply](int found, json::Document c) {
            if (found != 200 || !c.HasMember("data"))
                return reply(error_page(v, found == 404 ? 404 : 503, "error_action", problem_text(v, found, c)));
            json::Document job(json::kObjectType);
            auto& a = job.GetAllocator();
            const std::string new_id = id + "~" + channel;
            job.AddMember("v", 1, a);
            job.AddMember("id", str(new_id, a), a);
            job.AddMember("service", str(text_of(c, "service"), a), a);
            job.AddMember("template", str(text_of(*m, "template"), a), a);
            job.AddMember("citizen", str(citizen, a), a);
            job.AddMember("data", json::Value(c["data"], a), a);
            job.AddMember("channel", str(channel, a), a);
            if (const std::string p = text_of(*m, "priority"); !p.empty()) job.AddMember("priority", str(p, a), a);
            if (const std::string r = text_of(*m, "reference"); !r.empty()) job.AddMember("reference", str(r, a), a);
            json::StringBuffer b;
            json::Writer<json::StringBuffer> w(b);
            job.Accept(w);
            api(v, "POST", "/v1/messages", std::string(b.GetString(), b.GetSize()), [this, v, id, new_id, channel, reply](int sent, json::Document answer) {
                audit(v, "message_resend", id, outcome_of(sent, answer), channel);
                if (sent >= 300) return reply(error_page(v, sent == 403 ? 403 : 422, "error_action", problem_text(v, sent, answer)));
                reply(redirect(v, "/ui/messages/" + url_encode(new_id) + "?done=resent"));
            });
        });
    });
}

// ---- Dead letters ---------------------------------------------------------------------------

void Dashboard::dead_letters(const Request& req, Reply reply) {
    View v = view_of(req);
    std::string target = "/v1/dead-letters?limit=50";
    if (const std::string c = field_of(form_decode(req.query), "cursor"); !c.empty()) target += "&cursor=" + url_encode(c);
    const std::string flash = field_of(form_decode(req.query), "done");
    api(v, "GET", target, "", [this, v, flash, reply](int status, json::Document body) {
        if (status != 200) return reply(error_page(v, status == 400 ? 400 : 503, "error_unavailable", problem_text(v, status, body)));
        json::Document d(json::kObjectType);
        auto& a = d.GetAllocator();
        json::Value list(json::kArrayType);
        if (body.HasMember("dead_letters") && body["dead_letters"].IsArray())
            for (auto& e : body["dead_letters"].GetArray()) list.PushBack(json::Value(e, a), a);
        d.AddMember("found", list.Size() > 0, a);
        d.AddMember("dead_letters", list, a);
        if (body.HasMember("total") && body["total"].IsInt64()) d.AddMember("total", body["total"].GetInt64(), a);
        if (const std::string next = text_of(body, "next_cursor"); !next.empty())
            d.AddMember("next_page", str("/ui/dead-letters?cursor=" + url_encode(next), a), a);
        if (!flash.empty()) d.AddMember("flash", str(pages_.text(v.lang, "flash_" + flash), a), a);
        reply(page(v, 200, "dead_letters", d, "dead_letters"));
    });
}

void Dashboard::dead_letter_action(const Request& req, std::string_view tail, Reply reply) {
    View v = view_of(req);
    const auto [entry, action] = id_and_action(tail);
    if (!plain_id(entry) || (action != "requeue" && action != "discard")) return reply(error_page(v, 404, "error_not_found"));
    api(v, "POST", "/v1/dead-letters/" + entry + "/" + action, "", [this, v, entry, action, reply](int status, json::Document body) {
        audit(v, "dead_letter_" + action, entry, outcome_of(status, body));
        if (status >= 300) return reply(error_page(v, status == 403 ? 403 : 409, "error_action", problem_text(v, status, body)));
        reply(redirect(v, std::string("/ui/dead-letters?done=") + (action == "requeue" ? "requeued" : "discarded")));
    });
}

// ---- Citizens -------------------------------------------------------------------------------

void Dashboard::citizens(const Request& req, Reply reply) {
    View v = view_of(req);
    const std::string id = field_of(form_decode(req.query), "id");
    const bool reveal = field_of(form_decode(req.query), "reveal") == "1";
    const std::string flash = field_of(form_decode(req.query), "done");
    auto base = [this, v, id, flash]() {
        json::Document d(json::kObjectType);
        auto& a = d.GetAllocator();
        d.AddMember("id", str(id, a), a);
        if (!flash.empty()) d.AddMember("flash", str(pages_.text(v.lang, "flash_" + flash), a), a);
        return d;
    };
    if (id.empty()) {
        auto d = base();
        return reply(page(v, 200, "citizens", d, "citizens"));
    }
    if (!plain_id(id)) {
        auto d = base();
        d.AddMember("error", str(pages_.text(v.lang, "error_bad_citizen_id"), d.GetAllocator()), d.GetAllocator());
        return reply(page(v, 422, "citizens", d, "citizens"));
    }
    api(v, "GET", "/v1/citizens/" + url_encode(id), "", [this, v, id, reveal, base, reply](int status, json::Document body) {
        auto d = base();
        auto& a = d.GetAllocator();
        if (status != 200) {
            const std::string key = status == 404   ? "error_citizen_not_found"
                                    : status == 410 ? "error_citizen_erased"
                                    : status == 403 ? "error_needs_admin"
                                                    : "";
            d.AddMember("error", str(key.empty() ? problem_text(v, status, body) : pages_.text(v.lang, key), a), a);
            return reply(page(v, status == 403 ? 403 : status == 404 || status == 410 ? 404 : 503, "citizens", d, "citizens"));
        }
        // Contacts and names masked unless the admin asks to see them (and that is audited).
        if (reveal) audit(v, "citizen_reveal", id, "ok");
        json::Value c(body, a);
        if (!reveal) {
            for (const char* name : {"given_name", "family_name"})
                if (c.HasMember(name) && c[name].IsString()) c[name] = str(initial(c[name].GetString()), a);
            if (c.HasMember("contacts") && c["contacts"].IsArray())
                for (auto& k : c["contacts"].GetArray())
                    if (k.HasMember("address") && k["address"].IsString()) k["address"] = str(mask_address(k["address"].GetString()), a);
            if (c.HasMember("address") && c["address"].IsObject()) {
                for (const char* part : {"line", "number", "street"}) c["address"].RemoveMember(part);
            }
            c.RemoveMember("location");
        }
        if (c.HasMember("contacts") && c["contacts"].IsArray())
            for (auto& k : c["contacts"].GetArray())
                k.AddMember("state_label", str(pages_.text(v.lang, "contact_" + text_of(k, "state")), a), a);
        c.AddMember("has_consents", c.HasMember("consents") && c["consents"].IsArray() && !c["consents"].Empty(), a);
        if (c.HasMember("consents") && c["consents"].IsArray())
            for (auto& k : c["consents"].GetArray())
                if (k.HasMember("at") && k["at"].IsInt64())
                    k.AddMember("when", str(pages_.show_time(format_rfc3339(from_unix_ms(k["at"].GetInt64())), v.lang), a), a);
        d.AddMember("citizen", c, a);
        d.AddMember("revealed", reveal, a);
        reply(page(v, 200, "citizens", d, "citizens"));
    });
}

void Dashboard::citizen_action(const Request& req, std::string_view tail, Reply reply) {
    View v = view_of(req);
    const auto [id, action] = id_and_action(tail);
    if (!plain_id(id) || action != "erase") return reply(error_page(v, 404, "error_not_found"));
    // An erasure cannot be undone: the agent types the id again.
    if (field_of(form_decode(req.body), "confirm") != id) {
        json::Document d(json::kObjectType);
        auto& a = d.GetAllocator();
        d.AddMember("id", str(id, a), a);
        d.AddMember("error", str(pages_.text(v.lang, "error_confirm_erase"), a), a);
        d.AddMember("confirm_error", true, a);
        audit(v, "citizen_erase", id, "not_confirmed");
        return reply(page(v, 422, "citizens", d, "citizens"));
    }
    api(v, "DELETE", "/v1/citizens/" + url_encode(id), "", [this, v, id, reply](int status, json::Document body) {
        audit(v, "citizen_erase", id, outcome_of(status, body));
        if (status >= 300) return reply(error_page(v, status == 403 ? 403 : 503, "error_action", problem_text(v, status, body)));
        reply(redirect(v, "/ui/citizens?done=erased"));
    });
}

// ---- Audit log ------------------------------------------------------------------------------

void Dashboard::audit_log(const Request& req, Reply reply) {
    View v = view_of(req);
    std::int64_t before = 0;
    if (const std::string c = field_of(form_decode(req.query), "cursor"); !c.empty()) before = std::atoll(c.c_str());
    // An admin reads everyone's actions; the others their own.
    const bool everyone = allows(v.session.role, Role::admin);
    store_.audit_page(before, 100, everyone ? std::string() : v.session.operator_name,
                      [this, v, everyone, reply](std::optional<std::string> page_json) {
        if (!page_json) return reply(error_page(v, 503, "error_unavailable"));
        json::Document d;
        d.Parse(page_json->data(), page_json->size());
        if (d.HasParseError()) d.SetObject();
        auto& a = d.GetAllocator();
        if (d.HasMember("entries") && d["entries"].IsArray())
            for (auto& e : d["entries"].GetArray()) {
                std::string label = pages_.text(v.lang, "action_" + text_of(e, "action"));
                e.AddMember("action_label", str(label.empty() ? text_of(e, "action") : label, a), a);
                e.AddMember("ok", text_of(e, "outcome") == "ok", a);
            }
        if (const std::string next = text_of(d, "next_cursor"); !next.empty())
            d.AddMember("next_page", str("/ui/audit?cursor=" + url_encode(next), a), a);
        d.AddMember("everyone", everyone, a);
        reply(page(v, 200, "audit", d, "audit"));
    });
}

}  // namespace crieur::ui
