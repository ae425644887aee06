#include "daemon/resume.hpp"

namespace crieur {

namespace {
// Channel and provider instance names: lower-case letters, digits, '_' and '-' (docs/channels.md).
bool is_name(std::string_view s) {
    if (s.empty() || s.size() > 63) return false;
    for (char c : s)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
    return true;
}
}  // namespace

std::string encode(const Resume& resume) {
    switch (resume.kind) {
    case Resume::Kind::none: return {};
    case Resume::Kind::send_time: return "send_time";
    case Resume::Kind::slot: return "slot:" + resume.slot_provider;
    case Resume::Kind::escalation: {
        std::string out = resume.on_failure_only ? "fallback:" : "escalation:";
        for (std::size_t i = 0; i < resume.channels_used.size(); ++i)
            out += (i ? "," : "") + resume.channels_used[i];
        return out;
    }
    }
    return {};
}

std::variant<Resume, std::string> decode_resume(std::string_view field) {
    if (field.empty()) return Resume{};
    if (field == "send_time") return Resume::send_time();
    const auto colon = field.find(':');
    if (colon == std::string_view::npos)
        return "unknown kind '" + std::string(field.substr(0, 40)) +
               "' (expected escalation:, fallback:, slot: or send_time)";
    const auto kind = field.substr(0, colon);
    const auto rest = field.substr(colon + 1);
    if (kind == "slot") {
        if (!is_name(rest)) return "slot: '" + std::string(rest.substr(0, 70)) + "' is not a provider name";
        return Resume::slot(std::string(rest));
    }
    if (kind == "escalation" || kind == "fallback") {
        std::vector<std::string> used;
        for (std::string_view list = rest; !list.empty();) {
            const auto comma = list.find(',');
            const auto name = list.substr(0, comma);
            if (!is_name(name))
                return std::string(kind) + ": '" + std::string(name.substr(0, 70)) + "' is not a channel name";
            used.emplace_back(name);
            if (comma == std::string_view::npos) break;
            list = list.substr(comma + 1);
            if (list.empty()) return std::string(kind) + ": the channel list ends with a comma";
        }
        return Resume::escalation(std::move(used), kind == "fallback");
    }
    return "unknown kind '" + std::string(kind.substr(0, 40)) + "' (expected escalation:, fallback:, slot: or send_time)";
}

}  // namespace crieur
