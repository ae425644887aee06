// `crieur operators add|passwd|disable|enable|list`: the dashboard's operator accounts in
// http.operators_file (daemon/ui/operators.hpp). The file is rewritten whole; crieurd reads it
// again on SIGHUP.
#pragma once

#include <string>
#include <vector>

namespace crieur {
struct Config;
}

namespace crieur::cli {

// args after "operators". Returns the exit code (2: a usage error, for the caller to explain).
int operators_command(const Config& config, const std::vector<std::string>& args);

}  // namespace crieur::cli
