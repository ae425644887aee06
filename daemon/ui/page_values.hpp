// Small helpers the dashboard's pages share: a form's or query's fields, a JSON answer's
// strings, a value for a page, a URL's part, an action's path. Pure.
#pragma once

#include <rapidjson/document.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace crieur::ui {

using Fields = std::vector<std::pair<std::string, std::string>>;

// The first field of that name ("" when none), and every one (a form's ticked boxes).
std::string field_of(const Fields& fields, std::string_view name);
std::vector<std::string> all_of(const Fields& fields, std::string_view name);
// A JSON object's string member ("" when absent or not a string).
std::string text_of(const rapidjson::Value& v, const char* key);
// A string for a page's data, copied into its allocator.
inline rapidjson::Value str(std::string_view s, rapidjson::Document::AllocatorType& a) {
    return rapidjson::Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), a);
}
// Percent-encoded for a URL's query or path segment.
std::string url_encode(std::string_view v);
// An id as a page path takes it: 1 to 200 letters, digits and - _ . : @ ~, so that nothing odd
// reaches the API (which checks each kind of id more closely).
bool plain_id(std::string_view id);
// "<id>/<action>" after a prefix (/ui/campaigns/): the id, and the action ("" when none).
std::pair<std::string, std::string> id_and_action(std::string_view tail);

}  // namespace crieur::ui
