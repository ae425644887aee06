// CampaignStore: the campaigns and their audience snapshots in SQLite (campaigns.db, WAL, beside
// the receipts). The directory is attached read-only to resolve an audience into a snapshot, and
// the receipts to pick a follow-up's citizens (those who did not read, or were reached). One
// thread uses it: the CampaignRunner's worker.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "daemon/audience/audience.hpp"
#include "daemon/campaigns/campaign.hpp"
#include "daemon/receipts/sqlite.hpp"

namespace crieur::campaigns {

class CampaignStore {
public:
    // Opens (creates) the file and attaches the other two; throws sqlite::Error.
    CampaignStore(const std::string& path, const std::string& directory_path, const std::string& receipts_path);

    // false when a campaign with this key exists, or existed: an id is never used twice.
    bool create(const Campaign& c);
    std::optional<Campaign> get(const std::string& key);
    // Campaigns (not their follow-ups), newest first, of one service or all ("" ); `before`: a
    // page's cursor (0: from the newest). Returns the page and the next cursor (0: no more).
    std::pair<std::vector<Campaign>, std::int64_t> list(const std::string& service, std::int64_t before, int limit);
    std::vector<Campaign> followups(const std::string& id);
    // Campaigns and follow-ups whose fan-out is not over: what a restart takes up again.
    std::vector<Campaign> unfinished();

    // Stores the campaign (`create`; else it is a stored draft) and takes its snapshot: every
    // member of the audience, in directory order, with its place (1, 2, ...); the campaign becomes
    // launching with its count. One transaction: a crash, an audience that selects wrongly or an id
    // used before leaves nothing behind.
    struct Launched {
        std::int64_t members = 0;
        std::optional<audience::AudienceError> error;
        bool exists = false;  // the id was used before
    };
    Launched launch(const Campaign& c, const audience::Audience& a, std::int64_t now_ms, bool create);
    // A follow-up, numbered next in its thread (f.followup is set), with its snapshot: the
    // campaign's, narrowed by its target against the receipts. `dry`: counted, then rolled back.
    Launched launch_followup(Campaign& f, std::int64_t now_ms, bool dry);

    // The next jobs to queue: the members after place `after`, at most `n`, as job JSON.
    struct Page {
        std::vector<std::string> jobs;
        std::int64_t last = 0;  // the place of the page's last member
    };
    Page page(const Campaign& c, std::int64_t after, int n);
    // The fan-out's place; at the last member the campaign becomes running.
    void set_queued(const std::string& key, std::int64_t queued, std::int64_t now_ms);
    // cancelled (with its reason), or launching for a draft launched.
    void set_state(const std::string& key, State state, const std::string& reason, std::int64_t now_ms);

    // Retention: the snapshots (and audiences as given) of the threads whose last activity is
    // older than `before_ms`; their counts stay. Returns the threads.
    std::int64_t remove_old_snapshots(std::int64_t before_ms, std::int64_t now_ms);
    // A citizen erased at their request leaves every snapshot. Returns the rows removed.
    std::int64_t erase_citizen(const std::string& citizen);

private:
    Campaign read(sqlite::Stmt& s);
    sqlite::DbPtr db_;
    bool receipts_ = false;  // attached: follow-ups may be narrowed
    sqlite::Stmt insert_, get_, add_member_, page_, set_queued_, set_state_, erase_count_, erase_;
};

}  // namespace crieur::campaigns
