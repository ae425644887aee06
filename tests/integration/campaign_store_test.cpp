// The campaigns' SQLite store on real files: a snapshot taken whole or not at all, an erasure
// that leaves every snapshot (and the count of a member not yet queued), and the retention that
// removes the snapshots of threads idle for retention.days while keeping their counts.
#include <doctest/doctest.h>

#include "daemon/campaigns/campaign_store.hpp"
#include "support/process.hpp"
#include "support/town.hpp"

using namespace crieur;
using namespace crieur::campaigns;
using namespace crieur::test;

namespace {
constexpr std::int64_t kDay = 86'400'000;

Campaign campaign(const std::string& id, std::int64_t at) {
    Campaign c;
    c.id = id;
    c.service = "voirie";
    c.template_name = "street_event";
    c.audience_json = R"({"district":"Gerland"})";
    c.state = State::launching;
    c.created_ms = at;
    return c;
}
std::int64_t count(CampaignStore& s, const std::string& key) { return s.get(key)->members; }
}  // namespace

TEST_CASE("the campaigns' store: a snapshot whole or not at all, erasure, and the retention of idle snapshots") {
    TempDir dir;
    const Town town = make_town(300);
    write_town(town, dir / "directory.db");
    std::size_t gerland = 0;
    for (auto& c : town.citizens) gerland += c.district == "Gerland";
    CampaignStore store(dir / "campaigns.db", dir / "directory.db", "");
    const auto audience = std::get<audience::Audience>(audience::parse_audience(R"({"district":"Gerland"})"));
    const std::int64_t now = 1'800'000'000'000;

    auto old = store.launch(campaign("ancienne", now - 100 * kDay), audience, now - 100 * kDay, true);
    CHECK(old.members == static_cast<std::int64_t>(gerland));
    CHECK(store.launch(campaign("ancienne", now), audience, now, true).exists);  // an id once
    // An audience that selects wrongly leaves nothing: the id is still free.
    auto nobody = store.launch(campaign("personne", now), std::get<audience::Audience>(audience::parse_audience(R"({"postcode":"75001"})")), now, true);
    CHECK(nobody.error);
    CHECK_FALSE(store.get("personne"));
    auto recent = store.launch(campaign("recente", now - kDay), audience, now - kDay, true);
    REQUIRE(recent.members == static_cast<std::int64_t>(gerland));

    // An erasure: the member leaves both snapshots; a campaign that had not queued them counts one fewer.
    const auto page = store.page(*store.get("recente"), 0, 1);
    REQUIRE(page.jobs.size() == 1);
    store.set_queued("ancienne", old.members, now - 100 * kDay);  // every job of the old one went out
    std::string member;
    for (auto& c : town.citizens)
        if (c.district == "Gerland") {
            member = c.id;
            break;
        }
    CHECK(store.erase_citizen(member) == 2);
    CHECK(count(store, "recente") == static_cast<std::int64_t>(gerland) - 1);  // not yet queued: gone from the count
    CHECK(count(store, "ancienne") == static_cast<std::int64_t>(gerland));     // queued: its message exists
    CHECK(store.page(*store.get("recente"), 0, 1000).jobs.size() == gerland - 1);

    // The retention: the thread idle for 90 days loses its snapshot and audience, keeps its row.
    store.set_queued("recente", gerland - 1, now - kDay);
    CHECK(store.remove_old_snapshots(now - 90 * kDay, now) == 1);
    auto gone = store.get("ancienne");
    REQUIRE(gone);
    CHECK(gone->snapshot_removed_ms == now);
    CHECK(gone->audience_json.empty());
    CHECK(store.page(*gone, 0, 1000).jobs.empty());
    CHECK(store.get("recente")->snapshot_removed_ms == 0);
    CHECK(store.page(*store.get("recente"), 0, 1000).jobs.size() == gerland - 1);
    CHECK(store.remove_old_snapshots(now - 90 * kDay, now) == 0);  // once
}

TEST_CASE("the campaigns' store attaches a directory whose path holds characters a URI gives a meaning to") {
    TempDir dir;
    const std::string odd = dir / "ville #1 ?50%";
    std::filesystem::create_directories(odd);
    write_town(make_town(50), odd + "/directory.db");
    CampaignStore store(odd + "/campaigns.db", odd + "/directory.db", "");
    auto launched = store.launch(campaign("odd", 1'800'000'000'000), std::get<audience::Audience>(audience::parse_audience(R"({"district":"Gerland"})")),
                                 1'800'000'000'000, true);
    CHECK_FALSE(launched.error);
    CHECK(launched.members > 0);
}
