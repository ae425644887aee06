// `crieur campaign create|cap|followup|launch|show|list|cancel`: campaigns through the daemon's API.
#pragma once

#include <string>
#include <vector>

#include "daemon/config.hpp"

namespace crieur::cli {

// args after "campaign"; returns the exit code (2: a usage error, for the caller to explain).
int campaign_command(const Config& config, const std::vector<std::string>& args);

}  // namespace crieur::cli
