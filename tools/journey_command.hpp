// `crieur journey check|show`: the journey definitions read and checked as the daemon reads them.
#pragma once

#include <string>
#include <vector>

namespace crieur::cli {

// args after "journey"; `templates_dir` is the config's (journeys are in its _journeys folder).
// Returns the exit code (2: a usage error, for the caller to explain).
int journey_command(const std::string& templates_dir, const std::vector<std::string>& args);

}  // namespace crieur::cli
