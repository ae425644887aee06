// Logging: spdlog to stderr (journald adds the time and the unit), and the masks through which
// personal data must pass before it reaches a log line. Thread-safe.
#pragma once

#include <spdlog/spdlog.h>

#include <string>
#include <string_view>

namespace crieur {

// Sets up the process logger; `level` as in config (trace … error). Unknown levels mean info.
void init_logging(std::string_view level);
void set_log_level(std::string_view level);

// "+33612345678" → "+336******78": the country and the last two digits stay, so an operator can
// tell numbers apart without reading them.
std::string mask_phone(std::string_view phone);
// "jeanne.martin@example.fr" → "j***@e***.fr"
std::string mask_email(std::string_view email);
// Masks an address according to what it looks like (e-mail, phone, anything else).
std::string mask_address(std::string_view address);

}  // namespace crieur
