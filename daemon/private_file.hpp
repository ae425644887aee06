// Files that hold secrets or their hashes (the API keys, the services' callback secrets), written
// whole or not at all: a temporary file, fsync, rename. Mode 0600; rewritten by root for the
// daemon's user, the file keeps its owner and group, so that crieurd can still read it.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace crieur {

// Throws std::runtime_error naming the path when it cannot be written.
void write_private_file(const std::string& path, std::string_view text);

// Reads such a file line by line, blank lines and "#" comments skipped; `line` returns what is
// wrong with one, or an empty string. The first problem comes back as "path:line: problem"; a
// missing file is no lines, not a problem.
std::string read_private_lines(const std::string& path, const std::function<std::string(std::string_view)>& line);

}  // namespace crieur
