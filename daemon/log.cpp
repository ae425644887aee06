#include "daemon/log.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <unistd.h>

namespace crieur {

void init_logging(std::string_view level) {
    auto logger = spdlog::stderr_logger_mt("crieurd");
    // journald stamps each line itself; a terminal user still wants the time.
    logger->set_pattern(isatty(2) ? "%H:%M:%S.%e %^%l%$ %v" : "%l %v");
    spdlog::set_default_logger(logger);
    set_log_level(level);
}

void set_log_level(std::string_view level) {
    auto l = spdlog::level::from_str(std::string(level));
    spdlog::set_level(l == spdlog::level::off ? spdlog::level::info : l);
}

std::string mask_phone(std::string_view phone) {
    std::string out(phone);
    // Keep a leading '+' and up to three digits of country code, and the last two digits.
    std::size_t keep_head = out.starts_with('+') ? std::min<std::size_t>(4, out.size()) : 0;
    if (out.size() <= keep_head + 2) keep_head = 0;
    for (std::size_t i = keep_head; i + 2 < out.size(); ++i)
        if (out[i] != ' ') out[i] = '*';
    if (out.size() <= 4)
        for (auto& c : out) c = '*';
    return out;
}

std::string mask_email(std::string_view email) {
    auto at = email.rfind('@');
    if (at == std::string_view::npos) return std::string(email.empty() ? 0 : 1, email.empty() ? ' ' : email[0]) + "***";
    auto domain = email.substr(at + 1);
    auto dot = domain.rfind('.');
    std::string out;
    out += at > 0 ? email[0] : '*';
    out += "***@";
    out += domain.empty() ? '*' : domain[0];
    out += "***";
    if (dot != std::string_view::npos) out += domain.substr(dot);
    return out;
}

std::string mask_address(std::string_view address) {
    if (address.find('@') != std::string_view::npos) return mask_email(address);
    return mask_phone(address);
}

}  // namespace crieur
