#include "daemon/cluster/merge.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <charconv>
#include <cstdint>

#include "channels/encoding.hpp"

namespace crieur::cluster {

namespace {
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void write_unavailable(Writer& w, const std::vector<std::string>& unavailable) {
    if (unavailable.empty()) return;
    w.Key("unavailable");
    w.StartArray();
    for (auto& name : unavailable) w.String(name.c_str(), static_cast<rapidjson::SizeType>(name.size()));
    w.EndArray();
}

std::string_view text_of(const rapidjson::Value& object, const char* key) {
    auto it = object.FindMember(key);
    return it != object.MemberEnd() && it->value.IsString() ? std::string_view(it->value.GetString(), it->value.GetStringLength())
                                                             : std::string_view{};
}
}  // namespace

std::string format_cursor(const Positions& positions) {
    rapidjson::StringBuffer b;
    Writer w(b);
    w.StartObject();
    for (auto& [daemon, at] : positions) {
        w.Key(daemon.c_str(), static_cast<rapidjson::SizeType>(daemon.size()));
        w.String(at.c_str(), static_cast<rapidjson::SizeType>(at.size()));
    }
    w.EndObject();
    return "c" + base64url_encode(std::string_view(b.GetString(), b.GetSize()));
}

std::optional<Positions> parse_cursor(std::string_view cursor) {
    if (cursor.size() < 2 || cursor[0] != 'c') return std::nullopt;
    auto json = base64url_decode(cursor.substr(1));
    if (!json) return std::nullopt;
    rapidjson::Document d;
    d.Parse(json->data(), json->size());
    if (!d.IsObject()) return std::nullopt;
    Positions out;
    for (auto& m : d.GetObject()) {
        if (!m.value.IsString()) return std::nullopt;
        std::string at(m.value.GetString(), m.value.GetStringLength());
        if (!at.empty() && at != "-") {
            std::int64_t row = 0;
            auto [end, ec] = at.size() > 1 && at[0] == 'm' ? std::from_chars(at.data() + 1, at.data() + at.size(), row)
                                                            : std::from_chars_result{at.data(), std::errc::invalid_argument};
            if (ec != std::errc{} || end != at.data() + at.size() || row <= 0) return std::nullopt;
        }
        out.emplace(m.name.GetString(), std::move(at));
    }
    return out;
}

std::string merge_pages(const std::vector<DaemonPage>& pages, int limit, const Positions& asked,
                        const std::vector<std::string>& unavailable) {
    struct Source {
        const DaemonPage* page;
        rapidjson::Document doc;
        const rapidjson::Value* messages = nullptr;
        bool more = false;  // its next_cursor was not null
        rapidjson::SizeType taken = 0;
    };
    std::vector<Source> sources(pages.size());
    for (std::size_t i = 0; i < pages.size(); ++i) {
        auto& s = sources[i];
        s.page = &pages[i];
        s.doc.Parse(pages[i].json.data(), pages[i].json.size());
        if (!s.doc.IsObject()) continue;
        auto m = s.doc.FindMember("messages");
        if (m != s.doc.MemberEnd() && m->value.IsArray()) s.messages = &m->value;
        auto n = s.doc.FindMember("next_cursor");
        s.more = n != s.doc.MemberEnd() && n->value.IsString();
    }
    rapidjson::StringBuffer b;
    Writer w(b);
    w.StartObject();
    w.Key("messages");
    w.StartArray();
    for (int n = 0; n < limit; ++n) {
        Source* best = nullptr;
        std::string_view best_at;
        for (auto& s : sources) {
            if (!s.messages || s.taken >= s.messages->Size()) continue;
            const auto at = text_of((*s.messages)[s.taken], "created_at");
            if (!best || at > best_at || (at == best_at && s.page->daemon < best->page->daemon)) {
                best = &s;
                best_at = at;
            }
        }
        if (!best) break;
        // The message as the daemon wrote it, without its cursor (the merged one replaces it).
        w.StartObject();
        for (auto& field : (*best->messages)[best->taken].GetObject()) {
            if (std::string_view(field.name.GetString()) == "cursor") continue;
            w.Key(field.name.GetString(), field.name.GetStringLength());
            field.value.Accept(w);
        }
        w.EndObject();
        ++best->taken;
    }
    w.EndArray();
    Positions next = asked;
    for (auto& s : sources) {
        const std::size_t size = s.messages ? s.messages->Size() : 0;
        auto& at = next[s.page->daemon];
        if (s.taken > 0) at = std::string(text_of((*s.messages)[s.taken - 1], "cursor"));
        if (s.taken == size && !s.more && s.messages) at = "-";
    }
    bool done = true;
    for (auto& [daemon, at] : next) done = done && at == "-";
    w.Key("next_cursor");
    if (done) w.Null();
    else {
        const auto c = format_cursor(next);
        w.String(c.c_str(), static_cast<rapidjson::SizeType>(c.size()));
    }
    write_unavailable(w, unavailable);
    w.EndObject();
    return std::string(b.GetString(), b.GetSize());
}

std::string merge_stats(const std::vector<std::string>& answers, const std::vector<std::string>& unavailable) {
    rapidjson::Document first;
    std::map<std::string, std::int64_t> counts;
    for (auto& json : answers) {
        rapidjson::Document d;
        d.Parse(json.data(), json.size());
        if (!d.IsObject()) continue;
        auto c = d.FindMember("counts");
        if (c == d.MemberEnd() || !c->value.IsObject()) continue;
        for (auto& m : c->value.GetObject())
            if (m.value.IsInt64()) counts[m.name.GetString()] += m.value.GetInt64();
        if (!first.IsObject()) first.Swap(d);
    }
    rapidjson::StringBuffer b;
    Writer w(b);
    w.StartObject();
    if (first.IsObject())
        for (auto& field : first.GetObject()) {
            const std::string_view name = field.name.GetString();
            if (name == "counts" || name == "unavailable") continue;
            w.Key(field.name.GetString(), field.name.GetStringLength());
            field.value.Accept(w);
        }
    w.Key("counts");
    w.StartObject();
    for (auto& [k, v] : counts) {
        w.Key(k.c_str(), static_cast<rapidjson::SizeType>(k.size()));
        w.Int64(v);
    }
    w.EndObject();
    write_unavailable(w, unavailable);
    w.EndObject();
    return std::string(b.GetString(), b.GetSize());
}

}  // namespace crieur::cluster
