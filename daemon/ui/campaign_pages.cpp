// The dashboard's campaigns (daemon/ui/dashboard.hpp): the list, the form (a template with its
// preview per channel, an audience drawn on the map or picked by street, district or tags, the
// dry run's reach), a campaign's progress, its follow-ups and resolution, its cancellation. The
// body sent to POST /v1/campaigns is built from the form; every check is the API's own.
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <memory>
#include <sstream>

#include "channels/http_client.hpp"
#include "daemon/clock.hpp"
#include "daemon/directory/directory_service.hpp"
#include "daemon/render/preview_json.hpp"
#include "daemon/render/template_store.hpp"
#include "daemon/ui/dashboard.hpp"
#include "daemon/ui/page_values.hpp"

namespace crieur::ui {

using http::Reply;
using http::Request;
using http::Response;
namespace json = rapidjson;

namespace {

std::string to_json(const json::Value& v) {
    json::StringBuffer b;
    json::Writer<json::StringBuffer> w(b);
    v.Accept(w);
    return {b.GetString(), b.GetSize()};
}
// A form's input id for an API problem's field: data.advice → f-data-advice, audience.area... → f-area.
std::string input_of(const std::string& field) {
    if (field.starts_with("data.")) return "f-data-" + field.substr(5);
    for (const char* part : {"area", "street", "district", "tags", "postcode"})
        if (field.starts_with(std::string("audience.") + part)) return std::string("f-") + part;
    if (field == "audience" || field.starts_with("audience")) return "f-area";
    return "f-" + field.substr(0, field.find_first_of(".["));
}
constexpr const char* kStates[] = {"draft", "launching", "running", "done", "cancelled"};

}  // namespace

// ---- The list -------------------------------------------------------------------------------

void Dashboard::campaigns(const Request& req, Reply reply) {
    View v = view_of(req);
    std::string target = "/v1/campaigns?limit=50";
    for (auto& [k, val] : form_decode(req.query))
        if (k == "cursor") target += "&cursor=" + url_encode(val);
    api(v, "GET", target, "", [this, v, reply](int status, json::Document body) {
        if (status != 200) return reply(error_page(v, 503, "error_unavailable", problem_text(v, status, body)));
        json::Document d(json::kObjectType);
        auto& a = d.GetAllocator();
        json::Value list(json::kArrayType);
        if (body.HasMember("campaigns") && body["campaigns"].IsArray())
            for (auto& c : body["campaigns"].GetArray()) {
                json::Value row(c, a);
                row.AddMember("state_label", str(pages_.text(v.lang, "campaign_state_" + text_of(c, "state")), a), a);
                list.PushBack(row, a);
            }
        d.AddMember("found", !list.Empty(), a);
        d.AddMember("campaigns", list, a);
        if (const std::string next = text_of(body, "next_cursor"); !next.empty())
            d.AddMember("next_page", str("/ui/campaigns?cursor=" + url_encode(next), a), a);
        reply(page(v, 200, "campaigns", d, "campaigns"));
    });
}

// ---- The form -------------------------------------------------------------------------------

json::Document Dashboard::campaign_form_data(const View& v, const std::string& template_name, const Fields& form) const {
    json::Document d(json::kObjectType);
    auto& a = d.GetAllocator();
    auto store = templates_();
    json::Value choices(json::kArrayType);
    const render::Manifest* m = store && store->has(template_name) ? store->manifest(template_name) : nullptr;
    if (store)
        for (auto& name : store->names()) {
            json::Value o(json::kObjectType);
            o.AddMember("name", str(name, a), a);
            o.AddMember("selected", name == template_name, a);
            if (auto* mm = store->manifest(name)) o.AddMember("description", str(mm->description, a), a);
            choices.PushBack(o, a);
        }
    d.AddMember("templates", choices, a);
    json::Value f(json::kObjectType);
    for (const char* name : {"service", "id", "reference", "area", "circle_lat", "circle_lon", "circle_radius", "street",
                             "postcode", "district", "tags", "not_before", "deadline"})
        f.AddMember(json::StringRef(name), str(field_of(form, name), a), a);
    const std::string priority = field_of(form, "priority").empty() ? std::string("normal") : field_of(form, "priority");
    json::Value priorities(json::kArrayType);
    for (const char* p : {"urgent", "normal", "bulk"}) {
        json::Value o(json::kObjectType);
        o.AddMember("value", json::StringRef(p), a);
        o.AddMember("label", str(pages_.text(v.lang, std::string("priority_") + p), a), a);
        o.AddMember("selected", priority == p, a);
        priorities.PushBack(o, a);
    }
    f.AddMember("priorities", priorities, a);
    d.AddMember("form", f, a);
    if (m) {
        json::Value t(json::kObjectType);
        t.AddMember("name", str(m->name, a), a);
        t.AddMember("description", str(m->description, a), a);
        t.AddMember("category", str(m->category, a), a);
        t.AddMember("category_label", str(pages_.text(v.lang, "category_" + m->category), a), a);
        const auto chosen = all_of(form, "channels");
        const bool fresh = std::none_of(form.begin(), form.end(), [](auto& kv) { return kv.first == "intent" || kv.first == "channels"; });
        json::Value channels(json::kArrayType);
        for (auto& c : m->channels) {
            json::Value o(json::kObjectType);
            o.AddMember("name", str(c, a), a);
            o.AddMember("label", str(pages_.text(v.lang, "channel_" + c), a), a);
            // A fresh form offers every channel; a filled one keeps what was ticked.
            o.AddMember("checked", fresh || std::find(chosen.begin(), chosen.end(), c) != chosen.end(), a);
            channels.PushBack(o, a);
        }
        t.AddMember("channels", channels, a);
        // The variables, filled from the form or with the manifest's examples on a fresh one.
        json::Document examples;
        const std::string ex = store->example_data(m->name);
        examples.Parse(ex.data(), ex.size());
        json::Value vars(json::kArrayType);
        for (auto& var : m->variables) {
            json::Value o(json::kObjectType);
            o.AddMember("name", str(var.name, a), a);
            o.AddMember("input", str("f-data-" + var.name, a), a);
            o.AddMember("required", var.required, a);
            std::string value;
            bool given = false;
            for (auto& [k, val] : form)
                if (k == "data." + var.name) {
                    value = val;
                    given = true;
                }
            if (!given && examples.IsObject() && examples.HasMember(var.name.c_str())) {
                const auto& e = examples[var.name.c_str()];
                value = e.IsString() ? std::string(e.GetString()) : to_json(e);
            }
            o.AddMember("value", str(value, a), a);
            o.AddMember("long", value.size() > 60, a);
            vars.PushBack(o, a);
        }
        t.AddMember("variables", vars, a);
        d.AddMember("template", t, a);
    }
    json::Value map(json::kObjectType);
    map.AddMember("tiles", str(config_.http.ui_tiles_url, a), a);
    map.AddMember("attribution", str(config_.http.ui_tiles_attribution, a), a);
    map.AddMember("available", !vendor_.empty(), a);
    d.AddMember("map", map, a);
    d.AddMember("leaflet", !vendor_.empty(), a);
    return d;
}

void Dashboard::campaign_form(const Request& req, Reply reply) {
    View v = view_of(req);
    const auto query = form_decode(req.query);
    auto d = campaign_form_data(v, field_of(query, "template"), query);
    reply(page(v, 200, "campaign_new", d, "campaigns"));
}

void Dashboard::campaign_submit(const Request& req, Reply reply) {
    View v = view_of(req);
    const auto form = form_decode(req.body);
    const std::string template_name = field_of(form, "template");
    const bool launch = field_of(form, "intent") == "launch";
    auto d = std::make_shared<json::Document>(campaign_form_data(v, template_name, form));
    auto& a = d->GetAllocator();
    json::Value errors(json::kArrayType);
    auto error = [&](const std::string& input, const std::string& message) {
        json::Value e(json::kObjectType);
        e.AddMember("input", str(input, a), a);
        e.AddMember("message", str(message, a), a);
        errors.PushBack(e, a);
    };
    auto store = templates_();
    const render::Manifest* m = store && store->has(template_name) ? store->manifest(template_name) : nullptr;
    if (!m) error("f-template", pages_.text(v.lang, "error_choose_template"));
    // The API's body, from the form.
    json::Document body(json::kObjectType);
    auto& b = body.GetAllocator();
    auto put = [&](const char* key, const std::string& value) {
        if (!value.empty()) body.AddMember(json::StringRef(key), json::Value(value.c_str(), b), b);
    };
    put("id", field_of(form, "id"));
    put("service", field_of(form, "service"));
    put("template", template_name);
    put("priority", field_of(form, "priority"));
    put("reference", field_of(form, "reference"));
    for (const char* t : {"not_before", "deadline"}) {
        const std::string local = field_of(form, t);
        if (local.empty()) continue;
        const std::string utc = pages_.local_to_rfc3339(local);
        if (utc.empty()) error(std::string("f-") + t, pages_.text(v.lang, std::string("field_") + t) + " : " + pages_.text(v.lang, "error_bad_time"));
        else put(t, utc);
    }
    json::Value channels(json::kArrayType);
    for (auto& c : all_of(form, "channels")) channels.PushBack(json::Value(c.c_str(), b), b);
    if (channels.Empty() && m) error("f-channels", pages_.text(v.lang, "error_no_channel"));
    body.AddMember("channels", channels, b);
    json::Value data(json::kObjectType);
    if (m)
        for (auto& var : m->variables) {
            const std::string value = field_of(form, "data." + var.name);
            if (value.empty()) continue;  // the API names a required one left empty
            if (var.type == render::VarType::string) {
                data.AddMember(json::Value(var.name.c_str(), b), json::Value(value.c_str(), b), b);
                continue;
            }
            json::Document parsed;
            parsed.Parse(value.c_str());
            if (parsed.HasParseError()) {
                error("f-data-" + var.name, var.name + " : " + pages_.text(v.lang, "error_bad_value"));
                continue;
            }
            data.AddMember(json::Value(var.name.c_str(), b), json::Value(parsed, b), b);
        }
    body.AddMember("data", data, b);
    // The audience: what was drawn (the map writes GeoJSON, a keyboard user may type it or give a
    // circle), a street, a district, tags; all given are combined (AND), as the API does.
    json::Value audience(json::kObjectType);
    if (const std::string area = field_of(form, "area"); !area.empty()) {
        json::Document g;
        g.Parse(area.c_str());
        if (g.HasParseError() || !g.IsObject()) error("f-area", pages_.text(v.lang, "error_bad_area"));
        else audience.AddMember("area", json::Value(g, b), b);
    } else if (!field_of(form, "circle_lat").empty() || !field_of(form, "circle_lon").empty() || !field_of(form, "circle_radius").empty()) {
        auto number = [&](const char* name, double& out) {
            const std::string s = field_of(form, name);
            char* end = nullptr;
            out = std::strtod(s.c_str(), &end);
            if (s.empty() || *end != '\0' || !std::isfinite(out)) {
                error(std::string("f-") + name, pages_.text(v.lang, std::string("field_") + name) + " : " + pages_.text(v.lang, "error_bad_number"));
                return false;
            }
            return true;
        };
        double lat = 0, lon = 0, radius = 0;
        if (number("circle_lat", lat) & number("circle_lon", lon) & number("circle_radius", radius)) {
            json::Value circle(json::kObjectType), inner(json::kObjectType);
            inner.AddMember("lat", lat, b);
            inner.AddMember("lon", lon, b);
            inner.AddMember("radius_m", radius, b);
            circle.AddMember("circle", inner, b);
            audience.AddMember("area", circle, b);
        }
    }
    if (const std::string street = field_of(form, "street"); !street.empty()) {
        json::Value s(json::kObjectType);
        s.AddMember("name", json::Value(street.c_str(), b), b);
        if (const std::string pc = field_of(form, "postcode"); !pc.empty()) s.AddMember("postcode", json::Value(pc.c_str(), b), b);
        audience.AddMember("street", s, b);
    } else if (const std::string pc = field_of(form, "postcode"); !pc.empty()) {
        audience.AddMember("postcode", json::Value(pc.c_str(), b), b);
    }
    if (const std::string district = field_of(form, "district"); !district.empty())
        audience.AddMember("district", json::Value(district.c_str(), b), b);
    if (const std::string tags = field_of(form, "tags"); !tags.empty()) {
        json::Value list(json::kArrayType);
        std::istringstream in(tags);
        for (std::string t; std::getline(in, t, ',');) {
            t.erase(0, t.find_first_not_of(' '));
            t.erase(t.find_last_not_of(' ') + 1);
            if (!t.empty()) list.PushBack(json::Value(t.c_str(), b), b);
        }
        audience.AddMember("tags", list, b);
    }
    if (audience.ObjectEmpty() && errors.Empty()) error("f-area", pages_.text(v.lang, "error_no_audience"));
    body.AddMember("audience", audience, b);
    if (!launch) body.AddMember("dry_run", true, b);

    // The rendering per channel, with these data: what each citizen will read, and an SMS's cost.
    if (m) {
        json::Value renders(json::kArrayType);
        json::Document rendered_data;
        rendered_data.CopyFrom(body["data"], rendered_data.GetAllocator());
        for (auto& c : all_of(form, "channels")) {
            if (std::find(m->channels.begin(), m->channels.end(), c) == m->channels.end()) continue;
            json::Value r(json::kObjectType);
            r.AddMember("channel", str(c, a), a);
            r.AddMember("label", str(pages_.text(v.lang, "channel_" + c), a), a);
            auto out = store->render(m->name, c, m->default_locale, rendered_data);
            if (auto* e = std::get_if<render::RenderError>(&out)) {
                r.AddMember("error", str(e->reason, a), a);
            } else {
                json::Document p;
                const std::string pj = render::preview_json(std::get<render::Rendered>(out));
                p.Parse(pj.c_str());
                // Prefixed: a name the page has too (its title) would show where the render has none.
                for (const char* k : {"subject", "title", "text", "encoding", "whatsapp_template"})
                    if (p.HasMember(k) && p[k].IsString() && p[k].GetStringLength() > 0)
                        r.AddMember(str(std::string("render_") + k, a), str(p[k].GetString(), a), a);
                if (p.HasMember("segments")) r.AddMember("segments", p["segments"].GetInt(), a);
                if (p.HasMember("characters")) r.AddMember("characters", p["characters"].GetInt64(), a);
            }
            renders.PushBack(r, a);
        }
        d->AddMember("has_renders", !renders.Empty(), a);
        d->AddMember("renders", renders, a);
    }
    if (!errors.Empty()) {
        d->AddMember("errors", errors, a);
        d->AddMember("has_errors", true, a);
        return reply(page(v, 422, "campaign_new", *d, "campaigns"));
    }
    api(v, "POST", "/v1/campaigns", to_json(body), [this, v, d, launch, asked_id = field_of(form, "id"), reply](int status, json::Document answer) {
        auto& al = d->GetAllocator();
        if (launch) {
            const std::int64_t members = answer.HasMember("members") && answer["members"].IsInt64() ? answer["members"].GetInt64() : 0;
            audit(v, "campaign_launch", status < 300 ? text_of(answer, "id") : asked_id, outcome_of(status, answer),
                  status < 300 ? std::to_string(members) + " members" : "");
        }
        if (status >= 300) {
            json::Value refused(json::kArrayType);
            json::Value e(json::kObjectType);
            e.AddMember("input", str(input_of(text_of(answer, "field")), al), al);
            e.AddMember("message", str(problem_text(v, status, answer), al), al);
            refused.PushBack(e, al);
            d->AddMember("errors", refused, al);
            d->AddMember("has_errors", true, al);
            return reply(page(v, status == 403 ? 403 : 422, "campaign_new", *d, "campaigns"));
        }
        if (launch) return reply(redirect(v, "/ui/campaigns/" + url_encode(text_of(answer, "id")) + "?done=launched"));
        // The dry run: who it would reach, on which channel, who not and why.
        json::Value preview(json::kObjectType);
        if (answer.HasMember("preview") && answer["preview"].IsObject()) {
            const auto& p = answer["preview"];
            for (const char* k : {"citizens", "reachable", "unreachable"})
                if (p.HasMember(k) && p[k].IsInt64()) preview.AddMember(json::StringRef(k), p[k].GetInt64(), al);
            auto rows = [&](const char* key, const char* prefix) {
                json::Value list(json::kArrayType);
                if (p.HasMember(key) && p[key].IsObject())
                    for (auto& entry : p[key].GetObject()) {
                        json::Value o(json::kObjectType);
                        const std::string name = entry.name.GetString();
                        std::string label = pages_.text(v.lang, prefix + name);
                        o.AddMember("name", str(name, al), al);
                        o.AddMember("label", str(label.empty() ? name : label, al), al);
                        o.AddMember("count", entry.value.IsInt64() ? entry.value.GetInt64() : 0, al);
                        list.PushBack(o, al);
                    }
                return list;
            };
            preview.AddMember("first_channel", rows("first_channel", "channel_"), al);
            preview.AddMember("unreachable_by", rows("unreachable_by", "reason_"), al);
            if (p.HasMember("warning") && p["warning"].IsString()) preview.AddMember("warning", str(p["warning"].GetString(), al), al);
            // The SMS bill: the citizens an SMS goes to first, times the segments of this text.
            const std::int64_t by_sms = p.HasMember("first_channel") && p["first_channel"].HasMember("sms") ? p["first_channel"]["sms"].GetInt64() : 0;
            if (d->HasMember("renders"))
                for (auto& r : (*d)["renders"].GetArray())
                    if (text_of(r, "channel") == "sms" && r.HasMember("segments")) {
                        r.AddMember("recipients", by_sms, al);
                        r.AddMember("total_segments", by_sms * r["segments"].GetInt(), al);
                    }
        }
        d->AddMember("preview", preview, al);
        reply(page(v, 200, "campaign_new", *d, "campaigns"));
    });
}

// The directory's citizens on the map, as points rounded to about 100 m and without ids: enough
// to see where people live when drawing, nothing to tell one of them. At most 5,000, spread.
void Dashboard::map_points(const Request& req, Reply reply) {
    View v = view_of(req);
    directory_.run<std::string>(
        [](directory::Directory& dir) {
            sqlite::Stmt q(dir.db(),
                           "SELECT round(lat, 3), round(lon, 3) FROM citizens WHERE lat IS NOT NULL AND lon IS NOT NULL "
                           "AND (abs(id) % max(1, (SELECT count(*) FROM citizens) / 5000)) = 0 LIMIT 5000");
            std::string out = "{\"points\":[";
            bool first = true;
            char buf[64];
            while (q.step()) {
                std::snprintf(buf, sizeof buf, "%s[%.3f,%.3f]", first ? "" : ",", sqlite3_column_double(q.get(), 0),
                              sqlite3_column_double(q.get(), 1));
                out += buf;
                first = false;
            }
            return out + "]}";
        },
        [this, v, reply](std::optional<std::string> points) {
            if (!points) return reply(error_page(v, 503, "error_unavailable"));
            Response r{200, "application/json", std::move(*points), {}};
            pages_.add_headers(r);
            reply(std::move(r));
        },
        true);
}

// ---- One campaign ---------------------------------------------------------------------------

void Dashboard::campaign(const Request& req, std::string_view tail, Reply reply) {
    View v = view_of(req);
    const std::string key(tail);
    if (!plain_id(key)) return reply(error_page(v, 404, "error_not_found"));
    const auto query = form_decode(req.query);
    const bool live_part = field_of(query, "part") == "live";
    const std::string flash = field_of(query, "done"), followup_template = field_of(query, "followup_template");
    api(v, "GET", "/v1/campaigns/" + url_encode(key), "", [this, v, key, live_part, flash, followup_template, query, reply](int status, json::Document c) {
        if (status == 404) return reply(error_page(v, 404, "error_campaign_not_found", key));
        if (status != 200) return reply(error_page(v, 503, "error_unavailable", problem_text(v, status, c)));
        json::Document d(json::kObjectType);
        auto& a = d.GetAllocator();
        json::Value cv(c, a);
        const std::string state = text_of(c, "state");
        cv.AddMember("state_label", str(pages_.text(v.lang, "campaign_state_" + state), a), a);
        // The counts by status as bars and a table, as on the overview.
        json::Value rows(json::kArrayType);
        std::int64_t most = 0, total = 0;
        const json::Value* by = c.HasMember("counts") && c["counts"].HasMember("by_status") ? &c["counts"]["by_status"] : nullptr;
        if (by && by->IsObject())
            for (auto& m : by->GetObject()) most = std::max(most, m.value.GetInt64());
        int i = 0;
        if (by && by->IsObject())
            for (auto& m : by->GetObject()) {
                json::Value row(json::kObjectType);
                const std::string s = m.name.GetString();
                row.AddMember("status", str(s, a), a);
                row.AddMember("label", str(pages_.text(v.lang, "status_" + s), a), a);
                row.AddMember("count", m.value.GetInt64(), a);
                row.AddMember("pct", most ? std::max<std::int64_t>(1, m.value.GetInt64() * 100 / most) : 0, a);
                row.AddMember("y", i++ * 22, a);
                total += m.value.GetInt64();
                rows.PushBack(row, a);
            }
        json::Value counts(json::kObjectType);
        counts.AddMember("has_rows", !rows.Empty(), a);
        counts.AddMember("rows", rows, a);
        counts.AddMember("total", total, a);
        counts.AddMember("height", std::max(i, 1) * 22, a);
        counts.AddMember("ok", true, a);
        d.AddMember("counts", counts, a);
        json::Value channels(json::kArrayType);
        if (c.HasMember("counts") && c["counts"].HasMember("by_channel") && c["counts"]["by_channel"].IsObject())
            for (auto& m : c["counts"]["by_channel"].GetObject()) {
                json::Value row(json::kObjectType);
                const std::string ch = m.name.GetString();
                std::string label = pages_.text(v.lang, "channel_" + ch);
                row.AddMember("label", str(label.empty() ? ch : label, a), a);
                row.AddMember("count", m.value.GetInt64(), a);
                channels.PushBack(row, a);
            }
        d.AddMember("by_channel", channels, a);
        if (c.HasMember("counts") && c["counts"].HasMember("pending")) d.AddMember("pending", c["counts"]["pending"].GetInt64(), a);
        json::Value followups(json::kArrayType);
        if (c.HasMember("followups") && c["followups"].IsArray())
            for (auto& f : c["followups"].GetArray()) {
                json::Value row(f, a);
                row.AddMember("state_label", str(pages_.text(v.lang, "campaign_state_" + text_of(f, "state")), a), a);
                row.AddMember("target_label", str(pages_.text(v.lang, "target_" + text_of(f, "target")), a), a);
                followups.PushBack(row, a);
            }
        d.AddMember("has_followups", !followups.Empty(), a);
        d.AddMember("followups", followups, a);
        d.AddMember("campaign", cv, a);
        d.AddMember("active", state == "draft" || state == "launching" || state == "running", a);
        d.AddMember("is_draft", state == "draft", a);
        d.AddMember("can_follow_up", state != "draft" && state != "cancelled" && !c.HasMember("snapshot_removed_at"), a);
        if (live_part) return reply(pages_.page(200, "campaign_live", d, v.lang));
        // The follow-up form: its template's variables once one is chosen.
        auto form = campaign_form_data(v, followup_template, query);
        json::Value fu(json::kObjectType);
        fu.AddMember("templates", json::Value(form["templates"], a), a);
        if (form.HasMember("template")) fu.AddMember("template", json::Value(form["template"], a), a);
        json::Value targets(json::kArrayType);
        for (const char* t : {"all", "not_read", "reached"}) {
            json::Value o(json::kObjectType);
            o.AddMember("value", json::StringRef(t), a);
            o.AddMember("label", str(pages_.text(v.lang, std::string("target_") + t), a), a);
            targets.PushBack(o, a);
        }
        fu.AddMember("targets", targets, a);
        d.AddMember("followup", fu, a);
        d.AddMember("live", d["active"].GetBool(), a);
        if (!flash.empty()) d.AddMember("flash", str(pages_.text(v.lang, "flash_" + flash), a), a);
        reply(page(v, 200, "campaign", d, "campaigns"));
    });
}

void Dashboard::campaign_action(const Request& req, std::string_view tail, Reply reply) {
    View v = view_of(req);
    const auto [key, action] = id_and_action(tail);
    if (!plain_id(key) || (action != "cancel" && action != "launch" && action != "followups"))
        return reply(error_page(v, 404, "error_not_found"));
    std::string body = "{}";
    if (action == "followups") {
        const auto form = form_decode(req.body);
        auto store = templates_();
        const std::string name = field_of(form, "template");
        const render::Manifest* m = store && store->has(name) ? store->manifest(name) : nullptr;
        if (!m) return reply(error_page(v, 422, "error_choose_template"));
        json::Document f(json::kObjectType);
        auto& b = f.GetAllocator();
        f.AddMember("template", json::Value(name.c_str(), b), b);
        json::Value data(json::kObjectType);
        for (auto& var : m->variables)
            if (const std::string value = field_of(form, "data." + var.name); !value.empty())
                data.AddMember(json::Value(var.name.c_str(), b), json::Value(value.c_str(), b), b);
        f.AddMember("data", data, b);
        if (const std::string t = field_of(form, "target"); !t.empty()) f.AddMember("target", json::Value(t.c_str(), b), b);
        f.AddMember("resolved", field_of(form, "resolved") == "1", b);
        body = to_json(f);
    }
    api(v, "POST", "/v1/campaigns/" + url_encode(key) + "/" + action, body, [this, v, key, action, reply](int status, json::Document answer) {
        audit(v, action == "followups" ? "campaign_followup" : "campaign_" + action, key, outcome_of(status, answer));
        if (status >= 300) return reply(error_page(v, status == 403 ? 403 : 409, "error_action", problem_text(v, status, answer)));
        reply(redirect(v, "/ui/campaigns/" + url_encode(key) + "?done=" + (action == "followups" ? "followed_up" : action == "cancel" ? "campaign_cancelled" : "launched")));
    });
}

}  // namespace crieur::ui
