#include "daemon/ui/page_values.hpp"

#include <algorithm>
#include <cctype>

#include "channels/http_client.hpp"

namespace crieur::ui {

std::string field_of(const Fields& fields, std::string_view name) {
    for (auto& [k, v] : fields)
        if (k == name) return v;
    return {};
}

std::vector<std::string> all_of(const Fields& fields, std::string_view name) {
    std::vector<std::string> out;
    for (auto& [k, v] : fields)
        if (k == name) out.push_back(v);
    return out;
}

std::string text_of(const rapidjson::Value& v, const char* key) {
    if (!v.IsObject()) return {};
    auto it = v.FindMember(key);
    return it != v.MemberEnd() && it->value.IsString() ? std::string(it->value.GetString(), it->value.GetStringLength())
                                                        : std::string();
}

std::string url_encode(std::string_view v) { return form_encode({{"x", std::string(v)}}).substr(2); }

bool plain_id(std::string_view id) {
    if (id.empty() || id.size() > 200) return false;
    return std::all_of(id.begin(), id.end(), [](unsigned char c) {
        return std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == ':' || c == '@' || c == '~';
    });
}

std::pair<std::string, std::string> id_and_action(std::string_view tail) {
    const auto slash = tail.find('/');
    if (slash == std::string_view::npos) return {std::string(tail), {}};
    return {std::string(tail.substr(0, slash)), std::string(tail.substr(slash + 1))};
}

}  // namespace crieur::ui
