#include "daemon/audience/preview.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <set>
#include <unordered_set>

#include "daemon/audience/resolve.hpp"
#include "daemon/directory/directory.hpp"
#include "daemon/log.hpp"
#include "daemon/receipts/sqlite.hpp"
#include "daemon/render/template_store.hpp"

#include <rapidjson/document.h>

namespace crieur::audience {

namespace {
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void counts(Writer& w, const char* key, const std::map<std::string, std::int64_t>& m) {
    w.Key(key);
    w.StartObject();
    for (auto& [k, v] : m) {
        w.Key(k.c_str(), static_cast<rapidjson::SizeType>(k.size()));
        w.Int64(v);
    }
    w.EndObject();
}

// "Martin" → "M…": enough for an agent to recognise a row, not to read a name.
std::string initial(const std::string& name) {
    if (name.empty()) return {};
    std::size_t n = 1;
    while (n < name.size() && (static_cast<unsigned char>(name[n]) & 0xC0) == 0x80) ++n;  // a whole UTF-8 letter
    return name.substr(0, n) + "\xE2\x80\xA6";
}

// A table's rows in citizen order, walked beside the audience's members (which come in row
// order): one pass instead of a query per citizen. A member far ahead of the walk is reached
// by seeking again (the index on citizen_id), so a sparse audience does not read the whole table.
class RowsByCitizen {
public:
    RowsByCitizen(sqlite3* db, const char* sql) : stmt_(db, sql) {}

    template <class F>
    void rows_of(std::int64_t citizen, F&& each) {
        if (!started_) seek(citizen);
        for (int skipped = 0; has_row_ && at_ < citizen; advance())
            if (++skipped > 32) {
                seek(citizen);
                break;
            }
        for (; has_row_ && at_ == citizen; advance()) each(stmt_);
    }

private:
    void seek(std::int64_t citizen) {
        stmt_.reset();
        stmt_.bind(1, citizen);
        started_ = true;
        advance();
    }
    void advance() {
        has_row_ = stmt_.step();
        if (has_row_) at_ = stmt_.int64(0);
    }
    sqlite::Stmt stmt_;
    bool started_ = false, has_row_ = false;
    std::int64_t at_ = 0;
};

std::string sample_row(const directory::Citizen& c, const RouteDecision& d) {
    rapidjson::StringBuffer b;
    Writer w(b);
    auto field = [&](const char* k, const std::string& v) {
        if (v.empty()) return;
        w.Key(k);
        w.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size()));
    };
    w.StartObject();
    field("citizen", c.id);
    field("name", (initial(c.given_name) + (c.given_name.empty() || c.family_name.empty() ? "" : " ") + initial(c.family_name)));
    field("postcode", c.postcode);
    field("district", c.district);
    if (!d.candidates.empty()) {
        field("channel", d.candidates.front().channel);
        field("address", mask_address(d.candidates.front().address));
    } else {
        w.Key("unreachable");
        w.StartArray();
        for (auto& e : d.excluded) {
            const std::string s = e.channel + ": " + e.code;
            w.String(s.c_str(), static_cast<rapidjson::SizeType>(s.size()));
        }
        w.EndArray();
    }
    w.EndObject();
    return std::string(b.GetString(), b.GetSize());
}
}  // namespace

std::variant<PreviewRequest, AudienceError> preview_request(std::string_view json, const render::TemplateStore& templates,
                                                            const std::string& service) {
    rapidjson::Document d;
    d.Parse<rapidjson::kParseIterativeFlag>(json.data(), json.size());
    if (d.HasParseError() || !d.IsObject())
        return AudienceError{"", "expected {\"audience\": {...}, \"template\": \"...\", \"channels\": [...]}"};
    for (auto& m : d.GetObject()) {
        const std::string_view k = m.name.GetString();
        if (k != "audience" && k != "template" && k != "channels" && k != "sample")
            return AudienceError{std::string(k), "unknown field (audience, template, channels, sample)"};
    }
    PreviewRequest r;
    r.service = service;
    if (!d.HasMember("template") || !d["template"].IsString()) return AudienceError{"template", "required: the template's name"};
    r.template_name = d["template"].GetString();
    const auto* manifest = templates.manifest(r.template_name);
    if (!manifest) return AudienceError{"template", "no template named '" + r.template_name + "'"};
    r.category = manifest->category;
    const auto& own = templates.channels(r.template_name);
    if (d.HasMember("channels")) {
        if (!d["channels"].IsArray() || d["channels"].Empty()) return AudienceError{"channels", "expected a non-empty array of channels"};
        for (auto& v : d["channels"].GetArray()) {
            if (!v.IsString()) return AudienceError{"channels", "expected channel names"};
            const std::string c = v.GetString();
            if (c != "sms" && c != "email" && c != "whatsapp" && c != "push")
                return AudienceError{"channels", "unknown channel '" + c + "' (sms, email, whatsapp, push)"};
            if (std::find(own.begin(), own.end(), c) != own.end()) r.channels.push_back(c);
            else r.not_in_template.push_back(c);
        }
        if (r.channels.empty())
            return AudienceError{"channels", "template '" + r.template_name + "' has none of these channels"};
    } else {
        r.channels = own;
    }
    if (d.HasMember("sample")) {
        if (!d["sample"].IsInt() || d["sample"].GetInt() < 0 || d["sample"].GetInt() > 100)
            return AudienceError{"sample", "a number of rows from 0 to 100"};
        r.sample = d["sample"].GetInt();
    }
    if (!d.HasMember("audience")) return AudienceError{"audience", "required (docs/audiences.md)"};
    rapidjson::StringBuffer b;
    rapidjson::Writer<rapidjson::StringBuffer> w(b);
    d["audience"].Accept(w);
    auto audience = parse_audience(std::string_view(b.GetString(), b.GetSize()));
    if (auto* e = std::get_if<AudienceError>(&audience)) {
        e->part = e->part.empty() ? "audience" : "audience." + e->part;
        return *e;
    }
    r.audience = std::move(std::get<Audience>(audience));
    return r;
}

std::string Preview::to_json(const PreviewRequest& r) const {
    rapidjson::StringBuffer b;
    Writer w(b);
    w.StartObject();
    w.Key("template");
    w.String(r.template_name.c_str());
    w.Key("category");
    w.String(r.category.c_str());
    w.Key("channels");
    w.StartArray();
    for (auto& c : r.channels) w.String(c.c_str());
    w.EndArray();
    w.Key("citizens");
    w.Int64(citizens);
    w.Key("reachable");
    w.Int64(reachable);
    w.Key("unreachable");
    w.Int64(unreachable);
    counts(w, "first_channel", first_channel);
    counts(w, "reachable_on", reachable_on);
    counts(w, "unreachable_by", unreachable_by);
    w.Key("sample");
    w.StartArray();
    for (auto& s : sample) w.RawValue(s.c_str(), s.size(), rapidjson::kObjectType);
    w.EndArray();
    if (!r.not_in_template.empty()) {
        w.Key("not_in_template");
        w.StartArray();
        for (auto& c : r.not_in_template) w.String(c.c_str());
        w.EndArray();
    }
    if (citizens == 0) {
        w.Key("warning");
        w.String("this audience holds nobody: a campaign to it would send nothing");
    } else if (reachable == 0) {
        w.Key("warning");
        w.String("nobody in this audience can be reached on the channels allowed: see unreachable_by");
    }
    w.EndObject();
    return std::string(b.GetString(), b.GetSize());
}

std::variant<Preview, AudienceError> preview(directory::Directory& dir, const PreviewRequest& r, const RouterPolicy& policy,
                                             const Carried& carried) {
    Preview p;
    // One read transaction over the whole walk: a consistent picture, and one lock for all.
    const bool reading = dir.begin_read();
    struct End {
        directory::Directory& d;
        bool active;
        ~End() {
            if (active) d.end_read();
        }
    } end{dir, reading};
    std::unordered_set<std::string> suppressed;
    for (auto& [channel, hash] : dir.suppressions()) suppressed.insert(channel + '\n' + hash);
    Job job;
    job.service = r.service;
    job.template_name = r.template_name;
    RouteQuery q{job, r.channels, r.category, nullptr,
                 [&](const std::string& channel, const std::string& address) {
                     return suppressed.count(channel + '\n' + directory::hash_key(channel, address)) > 0;
                 },
                 carried, carried};
    std::set<std::string> codes;
    RowsByCitizen contacts(dir.db(), R"(
        SELECT citizen_id, channel, address, state, reason, state_at, position FROM contacts
        WHERE citizen_id >= ?1 ORDER BY citizen_id)");
    RowsByCitizen consents(dir.db(), R"(
        SELECT citizen_id, channel, category, granted, source, at FROM consents
        WHERE citizen_id >= ?1 ORDER BY citizen_id)");
    std::vector<std::pair<int, directory::Contact>> placed;
    auto error = resolve(dir.db(), r.audience, [&](const Member& m) {
        // The profile from the audience's own query (the router needs no tags; contacts come below).
        std::optional<directory::Citizen> citizen = directory::Directory::profile_at(*m.row_stmt, m.first);
        placed.clear();
        contacts.rows_of(m.row, [&](sqlite::Stmt& s) {
            placed.push_back({static_cast<int>(s.int64(6)),
                              directory::Contact{std::string(s.text(1)), std::string(s.text(2)),
                                                 directory::contact_state_from(s.text(3)).value_or(directory::ContactState::unverified),
                                                 std::string(s.text(4)), s.int64(5)}});
        });
        // In the directory's order: by channel, then the citizen's own order on it (as get() reads them).
        std::sort(placed.begin(), placed.end(), [](auto& a, auto& b) {
            return a.second.channel != b.second.channel ? a.second.channel < b.second.channel : a.first < b.first;
        });
        for (auto& [position, contact] : placed) citizen->contacts.push_back(std::move(contact));
        consents.rows_of(m.row, [&](sqlite::Stmt& s) {
            citizen->consents.push_back(directory::Consent{std::string(s.text(1)), std::string(s.text(2)), s.int64(3) != 0,
                                                           std::string(s.text(4)), s.int64(5)});
        });
        ++p.citizens;
        job.citizen = m.id;
        q.citizen = &*citizen;
        const RouteDecision d = route(q, policy);
        if (!d.candidates.empty()) {
            ++p.reachable;
            ++p.first_channel[d.candidates.front().channel];
            std::set<std::string> on;
            for (auto& c : d.candidates) on.insert(c.channel);
            for (auto& c : on) ++p.reachable_on[c];
        } else {
            ++p.unreachable;
            codes.clear();
            for (auto& e : d.excluded) codes.insert(e.code);
            for (auto& c : codes) ++p.unreachable_by[c];
        }
        if (static_cast<int>(p.sample.size()) < r.sample) p.sample.push_back(sample_row(*citizen, d));
        return true;
    }, directory::Directory::kProfileColumns);
    if (error) return *error;
    return p;
}

}  // namespace crieur::audience
