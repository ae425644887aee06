#include "daemon/campaigns/campaign.hpp"

#include <openssl/rand.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <array>

#include "channels/encoding.hpp"
#include "daemon/job_codec.hpp"
#include "daemon/pipeline.hpp"
#include "daemon/render/template_store.hpp"

namespace crieur::campaigns {

namespace {
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void put(Writer& w, const char* key, std::string_view v) {
    w.Key(key);
    w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
}

// What the campaign's view and each of its jobs share: priority, channels, times, reference.
void how_it_goes(Writer& w, const Campaign& c) {
    put(w, "priority", crieur::to_string(c.priority));
    if (!c.channels.empty()) {
        w.Key("channels");
        w.StartArray();
        for (auto& ch : c.channels) w.String(ch.c_str());
        w.EndArray();
    }
    if (c.not_before) put(w, "not_before", format_rfc3339(*c.not_before));
    if (c.deadline) put(w, "deadline", format_rfc3339(*c.deadline));
    if (!c.reference.empty()) put(w, "reference", c.reference);
}

std::string text_of(const rapidjson::Value& v) {
    rapidjson::StringBuffer b;
    Writer w(b);
    v.Accept(w);
    return std::string(b.GetString(), b.GetSize());
}

// An id made by crieur when the service gives none: "<service>-<yyyymmdd>-<8 hex>".
std::string made_id(const std::string& service, TimePoint now) {
    std::array<unsigned char, 4> random{};
    RAND_bytes(random.data(), static_cast<int>(random.size()));
    std::string day = format_rfc3339(now).substr(0, 10);
    std::erase(day, '-');
    std::string prefix = service.substr(0, 40);
    std::replace_if(prefix.begin(), prefix.end(), [](char c) { return !valid_id(std::string_view(&c, 1)); }, '-');
    return prefix + "-" + day + "-" + hex_encode({reinterpret_cast<const char*>(random.data()), random.size()});
}

// What a campaign and a follow-up share: the template, its data, channels, priority and times.
// `fields` is the set of names the body may hold.
std::optional<RequestError> read_message(const rapidjson::Document& d, const render::TemplateStore& templates, Campaign& c,
                                         std::initializer_list<std::string_view> fields) {
    for (auto& m : d.GetObject()) {
        const std::string_view k(m.name.GetString(), m.name.GetStringLength());
        if (std::find(fields.begin(), fields.end(), k) == fields.end()) {
            std::string known;
            for (auto f : fields) known += (known.empty() ? "" : ", ") + std::string(f);
            return RequestError{std::string(k), "unknown field (" + known + ")"};
        }
    }
    auto string_field = [&](const char* name, std::string& out, std::size_t max) -> std::optional<RequestError> {
        auto it = d.FindMember(name);
        if (it == d.MemberEnd()) return std::nullopt;
        if (!it->value.IsString() || it->value.GetStringLength() == 0 || it->value.GetStringLength() > max)
            return RequestError{name, "expected a non-empty string of at most " + std::to_string(max) + " bytes"};
        out.assign(it->value.GetString(), it->value.GetStringLength());
        return std::nullopt;
    };
    if (!d.HasMember("template")) return RequestError{"template", "required: the template's name"};
    if (auto e = string_field("template", c.template_name, 64)) return e;
    const auto* manifest = templates.manifest(c.template_name);
    if (!manifest) return RequestError{"template", "no template named '" + c.template_name + "'"};
    std::string category;
    if (auto e = string_field("category", category, 32)) return e;
    // The consent rules follow the template's category: a campaign cannot send an information
    // template as an alert (that would skip the citizens' consent).
    if (!category.empty() && category != manifest->category)
        return RequestError{"category", "template '" + c.template_name + "' is of category '" + manifest->category +
                                            "'; a campaign takes its template's category (choose a template of category '" +
                                            category + "')"};
    const auto& offered = templates.channels(c.template_name);
    if (auto ch = d.FindMember("channels"); ch != d.MemberEnd()) {
        if (!ch->value.IsArray() || ch->value.Empty()) return RequestError{"channels", "expected a non-empty array of channels"};
        for (auto& v : ch->value.GetArray()) {
            const std::string name = v.IsString() ? v.GetString() : "";
            if (!is_known_channel(name)) return RequestError{"channels", "'" + name + "' is not a channel (sms, email, whatsapp, push)"};
            if (std::find(c.channels.begin(), c.channels.end(), name) == c.channels.end()) c.channels.push_back(name);
        }
        if (std::none_of(c.channels.begin(), c.channels.end(),
                         [&](const std::string& x) { return std::find(offered.begin(), offered.end(), x) != offered.end(); }))
            return RequestError{"channels", "template '" + c.template_name + "' has none of these channels"};
    }
    if (auto data = d.FindMember("data"); data != d.MemberEnd()) {
        if (!data->value.IsObject()) return RequestError{"data", "expected an object: the template's variables"};
        c.data_json = text_of(data->value);
        // Each job carries it, and a job is at most intake.max_job_bytes (64 KiB by default).
        if (c.data_json.size() > 16 * 1024) return RequestError{"data", "at most 16 KiB: every citizen's job carries it"};
    }
    std::string text;
    if (auto e = string_field("priority", text, 16)) return e;
    if (!text.empty()) {
        if (text == "urgent") c.priority = Priority::urgent;
        else if (text == "normal") c.priority = Priority::normal;
        else if (text == "bulk") c.priority = Priority::bulk;
        else return RequestError{"priority", "expected urgent, normal or bulk"};
    }
    for (auto [name, out] : {std::pair{"not_before", &c.not_before}, {"deadline", &c.deadline}}) {
        text.clear();
        if (auto e = string_field(name, text, 64)) return e;
        if (text.empty()) continue;
        *out = parse_rfc3339(text);
        if (!*out) return RequestError{name, "not an RFC 3339 timestamp (e.g. 2026-12-03T14:00:00+01:00)"};
    }
    if (c.not_before && c.deadline && *c.deadline <= *c.not_before)
        return RequestError{"deadline", "must be after not_before"};
    if (auto e = string_field("reference", c.reference, 256)) return e;
    // The data checked as the intake will check each job: a campaign the template cannot render is
    // refused now, not dead-lettered a million times.
    Job sample;
    sample.id = c.job_id("sample");
    sample.service = c.service;
    sample.template_name = c.template_name;
    sample.citizen = "sample";
    sample.data_json = c.data_json;
    sample.channels = c.channels;
    auto prepared = prepare(sample, templates, offered.empty() ? std::string("sms") : offered.front());
    if (auto* e = std::get_if<JobError>(&prepared)) return RequestError{e->field, e->reason};
    return std::nullopt;
}

bool flag(const rapidjson::Document& d, const char* name, bool& out, std::optional<RequestError>& error) {
    auto it = d.FindMember(name);
    if (it == d.MemberEnd()) return true;
    if (!it->value.IsBool()) {
        error = RequestError{name, "expected true or false"};
        return false;
    }
    out = it->value.GetBool();
    return true;
}
}  // namespace

const char* to_string(State s) {
    switch (s) {
        case State::draft: return "draft";
        case State::launching: return "launching";
        case State::running: return "running";
        case State::done: return "done";
        case State::cancelled: return "cancelled";
    }
    return "draft";
}

std::optional<State> parse_state(std::string_view s) {
    for (auto st : {State::draft, State::launching, State::running, State::done, State::cancelled})
        if (s == to_string(st)) return st;
    return std::nullopt;
}

const char* to_string(Target t) {
    switch (t) {
        case Target::all: return "all";
        case Target::not_read: return "not_read";
        case Target::reached: return "reached";
    }
    return "all";
}

bool valid_id(std::string_view id) {
    if (id.empty() || id.size() > 64) return false;
    return std::all_of(id.begin(), id.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    });
}

std::optional<std::pair<std::string, int>> parse_key(std::string_view key) {
    const auto tilde = key.find('~');
    if (tilde == std::string_view::npos) return valid_id(key) ? std::optional(std::pair{std::string(key), 0}) : std::nullopt;
    const auto id = key.substr(0, tilde), n = key.substr(tilde + 1);
    if (!valid_id(id) || n.empty() || n.size() > 4 || n[0] == '0' || !std::all_of(n.begin(), n.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return std::nullopt;
    return std::pair{std::string(id), std::stoi(std::string(n))};
}

std::variant<CampaignRequest, RequestError> parse_campaign_request(std::string_view json, const render::TemplateStore& templates,
                                                                   const std::string& service, bool operator_key) {
    rapidjson::Document d;
    d.Parse<rapidjson::kParseIterativeFlag>(json.data(), json.size());
    if (d.HasParseError() || !d.IsObject())
        return RequestError{"", "expected a JSON object: {\"template\": ..., \"audience\": {...}, \"data\": {...}} (docs/campaigns.md)"};
    CampaignRequest r;
    Campaign& c = r.campaign;
    c.service = service;
    if (auto s = d.FindMember("service"); s != d.MemberEnd()) {
        if (!s->value.IsString() || s->value.GetStringLength() == 0 || s->value.GetStringLength() > 64)
            return RequestError{"service", "expected the service's name"};
        const std::string named = s->value.GetString();
        if (!operator_key && named != service)
            return RequestError{"service", "this key sends for the service '" + service + "' only; leave 'service' out or give that one", 403};
        c.service = named;
    }
    if (c.service.empty()) return RequestError{"service", "required with the operators' token: the service the campaign is for"};
    if (auto id = d.FindMember("id"); id != d.MemberEnd()) {
        if (!id->value.IsString() || !valid_id({id->value.GetString(), id->value.GetStringLength()}))
            return RequestError{"id", "1 to 64 letters, digits, '-', '_' or '.'"};
        c.id = id->value.GetString();
    } else {
        c.id = made_id(c.service, std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now()));
    }
    if (auto e = read_message(d, templates, c,
                              {"id", "service", "template", "category", "audience", "data", "channels", "priority", "not_before",
                               "deadline", "reference", "dry_run", "draft"}))
        return *e;
    std::optional<RequestError> error;
    if (!flag(d, "dry_run", r.dry_run, error) || !flag(d, "draft", r.draft, error)) return *error;
    auto a = d.FindMember("audience");
    if (a == d.MemberEnd()) return RequestError{"audience", "required: who the campaign is for (docs/audiences.md)"};
    c.audience_json = text_of(a->value);
    auto audience = audience::parse_audience(c.audience_json);
    if (auto* e = std::get_if<audience::AudienceError>(&audience))
        return RequestError{e->part.empty() ? "audience" : "audience." + e->part, e->reason};
    r.audience = std::move(std::get<audience::Audience>(audience));
    return r;
}

std::variant<CampaignRequest, RequestError> parse_followup_request(std::string_view json, const render::TemplateStore& templates,
                                                                   const Campaign& parent) {
    rapidjson::Document d;
    d.Parse<rapidjson::kParseIterativeFlag>(json.data(), json.size());
    if (d.HasParseError() || !d.IsObject())
        return RequestError{"", "expected a JSON object: {\"template\": ..., \"data\": {...}, \"target\": \"all\"} (docs/campaigns.md)"};
    CampaignRequest r;
    Campaign& c = r.campaign;
    c.id = parent.id;
    c.service = parent.service;
    c.priority = parent.priority;
    c.channels = parent.channels;
    c.reference = parent.reference;
    if (auto e = read_message(d, templates, c,
                              {"template", "category", "data", "channels", "priority", "not_before", "deadline", "reference",
                               "target", "resolved", "dry_run"}))
        return *e;
    if (auto t = d.FindMember("target"); t != d.MemberEnd()) {
        const std::string v = t->value.IsString() ? t->value.GetString() : "";
        if (v == "all") c.target = Target::all;
        else if (v == "not_read") c.target = Target::not_read;
        else if (v == "reached") c.target = Target::reached;
        else return RequestError{"target", "expected all, not_read (those who did not read the campaign's message) or reached"};
    }
    std::optional<RequestError> error;
    if (!flag(d, "resolved", c.resolved, error) || !flag(d, "dry_run", r.dry_run, error)) return *error;
    return r;
}

std::string to_json(const Campaign& c) {
    rapidjson::StringBuffer b;
    Writer w(b);
    w.StartObject();
    put(w, "id", c.key());
    if (c.followup) {
        put(w, "campaign", c.id);
        w.Key("followup");
        w.Int(c.followup);
        put(w, "target", to_string(c.target));
        w.Key("resolved");
        w.Bool(c.resolved);
    }
    put(w, "service", c.service);
    put(w, "template", c.template_name);
    put(w, "state", to_string(c.state));
    if (!c.state_reason.empty()) put(w, "state_reason", c.state_reason);
    how_it_goes(w, c);
    if (!c.audience_json.empty()) {
        w.Key("audience");
        w.RawValue(c.audience_json.data(), c.audience_json.size(), rapidjson::kObjectType);
    }
    w.Key("data");
    w.RawValue(c.data_json.data(), c.data_json.size(), rapidjson::kObjectType);
    w.Key("members");
    w.Int64(c.members);
    w.Key("queued");
    w.Int64(c.queued);
    if (!c.created_by.empty()) put(w, "created_by", c.created_by);
    for (auto [name, ms] : {std::pair{"created_at", c.created_ms}, {"launched_at", c.launched_ms}, {"queued_at", c.queued_ms},
                            {"cancelled_at", c.cancelled_ms}, {"snapshot_removed_at", c.snapshot_removed_ms}})
        if (ms) put(w, name, format_rfc3339(from_unix_ms(ms)));
    w.EndObject();
    return std::string(b.GetString(), b.GetSize());
}

std::string common_job_fields(const Campaign& c) {
    rapidjson::StringBuffer b;
    Writer w(b);
    w.StartObject();
    put(w, "service", c.service);
    put(w, "template", c.template_name);
    put(w, "campaign", c.key());
    w.Key("data");
    w.RawValue(c.data_json.data(), c.data_json.size(), rapidjson::kObjectType);
    how_it_goes(w, c);
    w.EndObject();
    std::string s(b.GetString(), b.GetSize());
    return s.substr(1);  // without its '{': each job puts its own fields in front
}

std::string job_json(const Campaign& c, const std::string& common, std::string_view citizen) {
    // A citizen's id is letters, digits and - _ . : (docs/directory.md): nothing to escape.
    const std::string key = c.key();
    std::string job;
    job.reserve(32 + 2 * key.size() + 2 * citizen.size() + common.size());
    job.append(R"({"v":1,"id":")").append(key).append(":").append(citizen).append(R"(","citizen":")").append(citizen).append("\",");
    job.append(common);
    return job;
}

}  // namespace crieur::campaigns
