// The list and the counts of several daemons combined into one answer (see peers.hpp for why they
// are merged rather than copied). Pure functions over the daemons' JSON answers, tested alone.
//
// A merged list walks every daemon's list newest first at once (created_at, then the daemon's
// name), so each daemon gives a prefix of its own page; the next page's cursor says, per daemon,
// where its part stopped: `c` + base64url of {"<daemon>": "m<row id>" | "" (from the top) | "-"
// (done)}. Stable under inserts as each daemon's own cursor is, and nothing is skipped when a
// daemon is briefly unreachable: its place is kept and the answer names it under `unavailable`.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace crieur::cluster {

using Positions = std::map<std::string, std::string>;  // daemon → "" | "m<id>" | "-"

std::string format_cursor(const Positions& positions);
// nullopt when `cursor` is not one format_cursor gave.
std::optional<Positions> parse_cursor(std::string_view cursor);

struct DaemonPage {
    std::string daemon;
    std::string json;  // {"messages":[{..., "cursor":"m<id>"}, ...], "next_cursor": ...}
};

// `asked`: every daemon's position before this page (those not answering keep theirs).
std::string merge_pages(const std::vector<DaemonPage>& pages, int limit, const Positions& asked,
                        const std::vector<std::string>& unavailable);

// {"since":..., "by":..., "counts":{...}} of each daemon → one, counts summed.
std::string merge_stats(const std::vector<std::string>& answers, const std::vector<std::string>& unavailable);

}  // namespace crieur::cluster
