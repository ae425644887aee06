#include "daemon/audience/resolve.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <variant>
#include <vector>

#include "daemon/receipts/sqlite.hpp"

namespace crieur::audience {

namespace {
using Binding = std::variant<std::string, double>;

std::string json_array(const std::vector<std::string>& items) {
    rapidjson::StringBuffer b;
    rapidjson::Writer<rapidjson::StringBuffer> w(b);
    w.StartArray();
    for (auto& i : items) w.String(i.c_str(), static_cast<rapidjson::SizeType>(i.size()));
    w.EndArray();
    return std::string(b.GetString(), b.GetSize());
}

// The SQL conditions of a set of parts, ANDed, with their values in order. The area's condition
// is its bounding box; the exact test is the caller's.
std::string conditions(const Criteria& c, std::vector<Binding>& values) {
    std::vector<std::string> parts;
    if (c.area) {
        parts.emplace_back("c.id IN (SELECT id FROM citizen_locations WHERE max_lat >= ? AND min_lat <= ? AND max_lon >= ? AND min_lon <= ?)");
        values.insert(values.end(), {c.area->min_lat, c.area->max_lat, c.area->min_lon, c.area->max_lon});
    }
    if (c.street) {
        std::string s = "c.street_key = ?";
        values.emplace_back(c.street->key);
        if (!c.street->postcode.empty()) {
            s += " AND c.postcode = ?";
            values.emplace_back(c.street->postcode);
        }
        if (!c.street->insee.empty()) {
            s += " AND c.insee = ?";
            values.emplace_back(c.street->insee);
        }
        parts.push_back(s);
    }
    if (!c.postcodes.empty()) {
        parts.emplace_back("c.postcode IN (SELECT value FROM json_each(?))");
        values.emplace_back(json_array(c.postcodes));
    }
    if (!c.districts.empty()) {
        parts.emplace_back("c.district IN (SELECT value FROM json_each(?))");
        values.emplace_back(json_array(c.districts));
    }
    for (auto& tag : c.tags_all) {
        parts.emplace_back("c.id IN (SELECT citizen_id FROM citizen_tags WHERE tag = ?)");
        values.emplace_back(tag);
    }
    if (!c.tags_any.empty()) {
        parts.emplace_back("c.id IN (SELECT citizen_id FROM citizen_tags WHERE tag IN (SELECT value FROM json_each(?)))");
        values.emplace_back(json_array(c.tags_any));
    }
    if (!c.citizens.empty()) {
        parts.emplace_back("c.external_id IN (SELECT value FROM json_each(?))");
        values.emplace_back(json_array(c.citizens));
    }
    std::string out;
    for (auto& p : parts) out += (out.empty() ? "(" : " AND (") + p + ")";
    return out.empty() ? "1" : out;
}

void bind_all(sqlite::Stmt& q, const std::vector<Binding>& values) {
    int i = 0;
    for (auto& v : values) {
        if (auto* s = std::get_if<std::string>(&v)) q.bind(++i, *s);
        else sqlite3_bind_double(q.get(), ++i, std::get<double>(v));
    }
}

std::optional<AudienceError> known_tags(sqlite3* db, const Criteria& c, const std::string& prefix) {
    sqlite::Stmt q(db, "SELECT 1 FROM citizen_tags WHERE tag = ?1 LIMIT 1");
    for (auto [list, part] : {std::pair{&c.tags_all, "tags.all"}, {&c.tags_any, "tags.any"}})
        for (std::size_t i = 0; i < list->size(); ++i) {
            q.bind(1, (*list)[i]);
            const bool found = q.step();
            q.reset();
            if (!found)
                return AudienceError{prefix + part + "[" + std::to_string(i) + "]", "no citizen has the tag '" + (*list)[i] + "'"};
        }
    return std::nullopt;
}

std::optional<AudienceError> known_street(sqlite3* db, const Criteria& c, const std::string& prefix) {
    if (!c.street) return std::nullopt;
    Criteria only;
    only.street = c.street;
    std::vector<Binding> values;
    sqlite::Stmt q(db, ("SELECT 1 FROM citizens c WHERE " + conditions(only, values) + " LIMIT 1").c_str());
    bind_all(q, values);
    if (q.step()) return std::nullopt;
    const auto& s = *c.street;
    return AudienceError{prefix + "street", "no citizen lives in a street called '" + s.name + "' in " +
                                                (s.postcode.empty() ? "the town " + s.insee : s.postcode) +
                                                " (compared as '" + s.key + "')"};
}

// An area with nobody inside, that would hold located citizens with its axes swapped: the
// positions were most likely written [latitude, longitude].
std::optional<AudienceError> swapped_area(sqlite3* db, const Area& a) {
    if (!a.circles.empty() || a.min_lon < -90 || a.max_lon > 90) return std::nullopt;
    sqlite::Stmt q(db, "SELECT count(*) FROM citizen_locations WHERE max_lat >= ?1 AND min_lat <= ?2 AND max_lon >= ?3 AND min_lon <= ?4");
    // Citizens within its own bounds: the area is not swapped (the other parts left them out).
    sqlite3_bind_double(q.get(), 1, a.min_lat);
    sqlite3_bind_double(q.get(), 2, a.max_lat);
    sqlite3_bind_double(q.get(), 3, a.min_lon);
    sqlite3_bind_double(q.get(), 4, a.max_lon);
    if (q.step() && q.int64(0) > 0) return std::nullopt;
    q.reset();
    sqlite3_bind_double(q.get(), 1, a.min_lon);
    sqlite3_bind_double(q.get(), 2, a.max_lon);
    sqlite3_bind_double(q.get(), 3, a.min_lat);
    sqlite3_bind_double(q.get(), 4, a.max_lat);
    const auto n = q.step() ? q.int64(0) : 0;
    if (n == 0) return std::nullopt;
    return AudienceError{"area", "no citizen lives inside it, but " + std::to_string(n) +
                                     " live inside its bounds with longitude and latitude swapped: GeoJSON positions are "
                                     "[longitude, latitude]"};
}
}  // namespace

std::optional<AudienceError> resolve(sqlite3* db, const Audience& a, const std::function<bool(const Member&)>& each,
                                     const char* columns) {
    if (auto e = known_tags(db, a.include, "")) return e;
    if (auto e = known_street(db, a.include, "")) return e;
    if (a.exclude) {
        if (auto e = known_tags(db, *a.exclude, "exclude.")) return e;
        if (auto e = known_street(db, *a.exclude, "exclude.")) return e;
    }
    std::vector<Binding> values;
    std::string sql = "SELECT c.id, c.external_id, c.lat, c.lon";
    // The exclusion's SQL parts as a column, so that its area's exact test can be made here too.
    std::vector<Binding> exclude_values;
    if (a.exclude) sql += ", CASE WHEN " + conditions(*a.exclude, exclude_values) + " THEN 1 ELSE 0 END";
    const int first = a.exclude ? 5 : 4;
    if (columns) {
        // Each column of the citizens table, qualified (the conditions' subqueries have tables of their own).
        std::string list = columns;
        std::size_t from = 0;
        while (from < list.size()) {
            auto end = list.find(',', from);
            if (end == std::string::npos) end = list.size();
            auto name = list.substr(from, end - from);
            name.erase(0, name.find_first_not_of(' '));
            sql += ", c." + name;
            from = end + 1;
        }
    }
    values = exclude_values;
    sql += " FROM citizens c WHERE " + conditions(a.include, values) + " ORDER BY c.id";
    sqlite::Stmt q(db, sql.c_str());
    bind_all(q, values);
    bool any = false;
    Member m;
    if (columns) {
        m.row_stmt = &q;
        m.first = first;
    }
    while (q.step()) {
        const bool located = !q.is_null(2) && !q.is_null(3);
        const double lat = located ? sqlite3_column_double(q.get(), 2) : 0, lon = located ? sqlite3_column_double(q.get(), 3) : 0;
        if (a.include.area && (!located || !a.include.area->contains(lat, lon))) continue;
        if (a.exclude && q.int64(4) == 1 && (!a.exclude->area || (located && a.exclude->area->contains(lat, lon)))) continue;
        any = true;
        m.row = q.int64(0);
        m.id.assign(q.text(1));
        if (!each(m)) break;
    }
    if (!any && a.include.area)
        if (auto e = swapped_area(db, *a.include.area)) return e;
    return std::nullopt;
}

}  // namespace crieur::audience
