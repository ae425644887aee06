// The offline send-time tool's files (crieur sendtime): citizens.csv, history.csv, queries.csv in,
// answers.csv out. Formats in docs/sendtime.md. A malformed line is an error naming file, line and column.
#pragma once

#include <iosfwd>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "daemon/sendtime/send_time.hpp"

namespace crieur::sendtime {

class FileError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

std::map<std::string, CitizenInfo> read_citizens(std::istream& in, const std::string& name);
std::vector<HistoryEvent> read_history(std::istream& in, const std::string& name);
std::vector<Query> read_queries(std::istream& in, const std::string& name);
// "2026-03-01T08:00:00Z", with fractions or an offset ("+01:00").
std::optional<TimePoint> parse_time(const std::string& s);
std::string format_time(TimePoint t);  // "2026-03-01T08:00:00Z"

}  // namespace crieur::sendtime
