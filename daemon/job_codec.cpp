#include "daemon/job_codec.hpp"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <array>
#include <algorithm>
#include <charconv>

namespace crieur {
namespace {

constexpr std::array<std::string_view, 4> kChannels{"sms", "email", "whatsapp", "push"};

JobError error(errc code, std::string field, std::string reason) {
    return JobError{code, std::move(field), std::move(reason), {}};
}

bool parse_int(std::string_view s, int& out) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc{} && p == s.data() + s.size();
}

// Printable ASCII without spaces: ids travel in URLs, logs and Redis keys.
bool is_token(std::string_view s) {
    for (unsigned char c : s)
        if (c <= 0x20 || c >= 0x7f) return false;
    return true;
}

using Value = rapidjson::Value;

// Template data is a few levels deep (a list of objects at most); deeper is refused before any
// recursive walk (serialising, rendering) could go that deep.
constexpr int kMaxDataDepth = 8;

int depth(const rapidjson::GenericValue<rapidjson::UTF8<>, rapidjson::MemoryPoolAllocator<>>& v, int level = 1) {
    if (level > kMaxDataDepth) return level;
    int deepest = level;
    if (v.IsObject())
        for (auto& m : v.GetObject()) deepest = std::max(deepest, depth(m.value, level + 1));
    else if (v.IsArray())
        for (auto& e : v.GetArray()) deepest = std::max(deepest, depth(e, level + 1));
    return deepest;
}

std::optional<JobError> read_string(const Value& obj, const char* name, std::string& out, bool required,
                                    std::size_t max_len = 256) {
    auto it = obj.FindMember(name);
    if (it == obj.MemberEnd()) {
        if (required) return error(errc::job_missing_field, name, std::string("missing required field '") + name + "'");
        return std::nullopt;
    }
    if (!it->value.IsString())
        return error(errc::job_wrong_type, name, std::string("field '") + name + "' must be a string");
    out.assign(it->value.GetString(), it->value.GetStringLength());
    if (required && out.empty())
        return error(errc::job_bad_value, name, std::string("field '") + name + "' must not be empty");
    if (out.size() > max_len)
        return error(errc::job_bad_value, name,
                     std::string("field '") + name + "' is longer than " + std::to_string(max_len) + " bytes");
    return std::nullopt;
}

std::optional<JobError> read_time(const Value& obj, const char* name, std::optional<TimePoint>& out) {
    std::string text;
    if (auto e = read_string(obj, name, text, false)) return e;
    if (!obj.HasMember(name)) return std::nullopt;
    out = parse_rfc3339(text);
    if (!out)
        return error(errc::job_bad_value, name,
                     std::string("field '") + name + "' is not an RFC 3339 timestamp (e.g. 2026-11-23T10:00:00Z)");
    return std::nullopt;
}

constexpr std::array<std::string_view, 17> kFields{"v",        "id",         "service",  "template", "citizen",
                                                   "to",       "data",       "channel",  "channels", "locale",
                                                   "priority", "not_before", "deadline", "campaign", "journey",
                                                   "reference", "test"};

std::optional<JobError> validate(const Value& doc, Job& job) {
    for (auto m = doc.MemberBegin(); m != doc.MemberEnd(); ++m) {
        std::string_view name(m->name.GetString(), m->name.GetStringLength());
        bool known = false;
        for (auto f : kFields) known = known || f == name;
        if (!known)
            return error(errc::job_unknown_field, std::string(name),
                         "unknown field '" + std::string(name) + "' (contract v1)");
    }

    auto v = doc.FindMember("v");
    if (v == doc.MemberEnd()) return error(errc::job_missing_field, "v", "missing required field 'v' (contract version, 1)");
    if (!v->value.IsInt()) return error(errc::job_wrong_type, "v", "field 'v' must be an integer");
    if (v->value.GetInt() != kJobContractVersion)
        return error(errc::job_bad_version, "v",
                     "contract version " + std::to_string(v->value.GetInt()) + " is not supported (this daemon speaks 1)");

    if (auto e = read_string(doc, "id", job.id, true, kMaxJobIdLength)) return e;
    if (!is_token(job.id)) return error(errc::job_bad_value, "id", "field 'id' must be printable ASCII without spaces");
    if (auto e = read_string(doc, "service", job.service, true, 64)) return e;
    if (auto e = read_string(doc, "template", job.template_name, true, 64)) return e;
    if (auto e = read_string(doc, "citizen", job.citizen, false, kMaxIdLength)) return e;

    auto to = doc.FindMember("to");
    if (to != doc.MemberEnd()) {
        if (!to->value.IsObject()) return error(errc::job_wrong_type, "to", "field 'to' must be an object of channel → address");
        for (auto m = to->value.MemberBegin(); m != to->value.MemberEnd(); ++m) {
            std::string channel(m->name.GetString(), m->name.GetStringLength());
            if (!is_known_channel(channel))
                return error(errc::job_bad_value, "to." + channel,
                             "field 'to." + channel + "': unknown channel (sms, email, whatsapp, push)");
            if (!m->value.IsString() || m->value.GetStringLength() == 0)
                return error(errc::job_wrong_type, "to." + channel, "field 'to." + channel + "' must be a non-empty string");
            job.to.push_back({std::move(channel), std::string(m->value.GetString(), m->value.GetStringLength())});
        }
        if (job.to.empty()) return error(errc::job_bad_value, "to", "field 'to' must name at least one channel");
    }
    const bool has_citizen = doc.HasMember("citizen");
    if (has_citizen && !job.citizen.empty() && !job.to.empty())
        return error(errc::job_bad_value, "to", "give either 'citizen' or 'to', not both");
    if (job.citizen.empty() && job.to.empty())
        return error(errc::job_missing_field, "citizen", "missing recipient: give 'citizen' or 'to'");

    auto data = doc.FindMember("data");
    if (data != doc.MemberEnd()) {
        if (!data->value.IsObject()) return error(errc::job_wrong_type, "data", "field 'data' must be an object");
        if (depth(data->value) > kMaxDataDepth)
            return error(errc::job_bad_value, "data",
                         "field 'data' nests deeper than " + std::to_string(kMaxDataDepth) + " levels");
        rapidjson::StringBuffer buf;
        rapidjson::Writer<rapidjson::StringBuffer> writer(buf);
        data->value.Accept(writer);
        job.data_json.assign(buf.GetString(), buf.GetSize());
    } else {
        job.data_json = "{}";
    }

    std::string text;
    if (auto e = read_string(doc, "channel", text, false, 16)) return e;
    if (doc.HasMember("channel")) {
        if (!is_known_channel(text))
            return error(errc::job_bad_value, "channel", "unknown channel '" + text + "' (sms, email, whatsapp, push)");
        job.channel = text;
    }
    if (auto allowed = doc.FindMember("channels"); allowed != doc.MemberEnd()) {
        if (!allowed->value.IsArray() || allowed->value.Empty())
            return error(errc::job_wrong_type, "channels", "field 'channels' must be a non-empty array of channels");
        for (auto& c : allowed->value.GetArray()) {
            const std::string name = c.IsString() ? std::string(c.GetString(), c.GetStringLength()) : std::string();
            if (!is_known_channel(name))
                return error(errc::job_bad_value, "channels", "field 'channels': '" + name + "' is not a channel (sms, email, whatsapp, push)");
            if (std::find(job.channels.begin(), job.channels.end(), name) == job.channels.end()) job.channels.push_back(name);
        }
        if (job.channel && std::find(job.channels.begin(), job.channels.end(), *job.channel) == job.channels.end())
            return error(errc::job_bad_value, "channel", "field 'channel' forces a channel that 'channels' does not allow");
    }
    if (auto e = read_string(doc, "locale", text, false, 35)) return e;
    if (doc.HasMember("locale")) {
        if (text.empty() || !is_token(text)) return error(errc::job_bad_value, "locale", "field 'locale' must be a language tag such as fr-FR");
        job.locale = text;
    }
    if (auto e = read_string(doc, "priority", text, false, 16)) return e;
    if (doc.HasMember("priority")) {
        if (text == "urgent") job.priority = Priority::urgent;
        else if (text == "normal") job.priority = Priority::normal;
        else if (text == "bulk") job.priority = Priority::bulk;
        else return error(errc::job_bad_value, "priority", "field 'priority' must be urgent, normal or bulk");
    }
    if (auto e = read_time(doc, "not_before", job.not_before)) return e;
    if (auto e = read_time(doc, "deadline", job.deadline)) return e;
    if (job.not_before && job.deadline && *job.deadline <= *job.not_before)
        return error(errc::job_bad_value, "deadline", "field 'deadline' must be after 'not_before'");
    if (auto e = read_string(doc, "campaign", job.campaign, false, 128)) return e;
    if (auto e = read_string(doc, "journey", job.journey, false, 128)) return e;
    if (auto e = read_string(doc, "reference", job.reference, false, 256)) return e;
    if (auto t = doc.FindMember("test"); t != doc.MemberEnd()) {
        if (!t->value.IsBool()) return error(errc::job_wrong_type, "test", "field 'test' must be true or false");
        job.test = t->value.GetBool();
    }
    return std::nullopt;
}

}  // namespace

bool is_known_channel(std::string_view c) {
    for (auto k : kChannels)
        if (k == c) return true;
    return false;
}

std::variant<Job, JobError> parse_job(std::string_view json, std::size_t max_bytes) {
    if (json.size() > max_bytes)
        return error(errc::job_too_large, "",
                     "job is " + std::to_string(json.size()) + " bytes, the limit is " + std::to_string(max_bytes));
    // The parse works in a buffer of this thread's rather than in fresh heap chunks per job.
    thread_local char pool[16 * 1024];
    rapidjson::MemoryPoolAllocator<> allocator(pool, sizeof pool);
    rapidjson::Document doc(&allocator);
    // Iterative: a hostile nesting of brackets cannot exhaust the stack.
    doc.Parse<rapidjson::kParseIterativeFlag>(json.data(), json.size());
    if (doc.HasParseError())
        return error(errc::job_not_json, "",
                     std::string("job is not valid JSON: ") + rapidjson::GetParseError_En(doc.GetParseError()) +
                         " at offset " + std::to_string(doc.GetErrorOffset()));
    if (!doc.IsObject()) return error(errc::job_not_json, "", "job must be a JSON object");
    Job job;
    if (auto e = validate(doc, job)) {
        // Keep the id when it is readable, so the rejection receipt can be found by it.
        auto id = doc.FindMember("id");
        if (id != doc.MemberEnd() && id->value.IsString() && id->value.GetStringLength() <= kMaxJobIdLength &&
            is_token({id->value.GetString(), id->value.GetStringLength()}))
            e->id.assign(id->value.GetString(), id->value.GetStringLength());
        auto service = doc.FindMember("service");
        if (service != doc.MemberEnd() && service->value.IsString() && service->value.GetStringLength() <= kMaxIdLength &&
            is_token({service->value.GetString(), service->value.GetStringLength()}))
            e->service.assign(service->value.GetString(), service->value.GetStringLength());
        return std::move(*e);
    }
    return job;
}

std::optional<TimePoint> parse_rfc3339(std::string_view s) {
    // YYYY-MM-DD('T'|'t'|' ')HH:MM:SS[.frac](Z|z|±HH:MM)
    if (s.size() < 20) return std::nullopt;
    int y, mo, d, h, mi, sec;
    if (!parse_int(s.substr(0, 4), y) || s[4] != '-' || !parse_int(s.substr(5, 2), mo) || s[7] != '-' ||
        !parse_int(s.substr(8, 2), d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        !parse_int(s.substr(11, 2), h) || s[13] != ':' || !parse_int(s.substr(14, 2), mi) || s[16] != ':' ||
        !parse_int(s.substr(17, 2), sec))
        return std::nullopt;
    std::size_t pos = 19;
    int millis = 0;
    if (pos < s.size() && s[pos] == '.') {
        std::size_t start = ++pos;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
            if (pos - start < 3) millis = millis * 10 + (s[pos] - '0');
            ++pos;
        }
        if (pos == start) return std::nullopt;
        for (std::size_t n = pos - start; n < 3; ++n) millis *= 10;
    }
    if (pos >= s.size()) return std::nullopt;
    int offset_min = 0;
    if (s[pos] == 'Z' || s[pos] == 'z') {
        ++pos;
    } else if (s[pos] == '+' || s[pos] == '-') {
        int oh, om;
        if (s.size() - pos != 6 || !parse_int(s.substr(pos + 1, 2), oh) || s[pos + 3] != ':' ||
            !parse_int(s.substr(pos + 4, 2), om) || oh > 23 || om > 59)
            return std::nullopt;
        offset_min = (oh * 60 + om) * (s[pos] == '-' ? -1 : 1);
        pos += 6;
    } else {
        return std::nullopt;
    }
    if (pos != s.size()) return std::nullopt;
    using namespace std::chrono;
    const year_month_day ymd{year{y}, month{unsigned(mo)}, day{unsigned(d)}};
    if (!ymd.ok() || h > 23 || mi > 59 || sec > 60) return std::nullopt;  // 60: a leap second, folded below
    const auto t = sys_days{ymd} + hours{h} + minutes{mi} + seconds{std::min(sec, 59)} + milliseconds{millis} -
                   minutes{offset_min};
    return time_point_cast<milliseconds>(t);
}

}  // namespace crieur
