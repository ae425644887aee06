// Campaigns (issue 14) end to end: crieurd with real Redis and SQLite, SMS through the Twilio
// emulator (its signed delivery callbacks), e-mail to the outbox, over a generated town. A
// campaign to a drawn polygon reaches exactly whom shapely finds inside; its follow-up the same
// set; its resolution cancels what was still scheduled and reaches them again. A fan-out cut by
// kill -9 goes on after the restart with no citizen twice and none skipped, paced by the stream's
// backlog. Bad requests are refused naming the field, before anything is stored.
#include <doctest/doctest.h>

#include <rapidjson/document.h>

#include <set>

#include "daemon/clock.hpp"
#include "daemon/redis/sync_client.hpp"
#include "support/daemon_fixture.hpp"
#include "support/openapi_check.hpp"
#include "support/town.hpp"
#include "support/twilio_rig.hpp"

using namespace crieur;
using namespace crieur::test;
using namespace std::chrono_literals;

namespace {
const char* kEventData =
    R"({"street":"quartier Jean-Macé","event":"Coupure d'électricité","starts":"aujourd'hui à 14 h","ends":"vers 16 h",)"
    R"("advice":"Débranchez les appareils sensibles.","info_url":"https://mairie.example.fr/travaux"})";
const char* kResolvedData = R"({"street":"quartier Jean-Macé","event":"La coupure d'électricité","resolved_at":"15 h 40"})";

std::string area_audience() { return std::string(R"({"area":)") + kPolygon + "}"; }

rapidjson::Document parsed(const std::string& body) {
    rapidjson::Document d;
    d.Parse(body.c_str());
    return d;
}

// The campaign as GET /v1/campaigns/{key} shows it.
rapidjson::Document campaign(const DaemonUnderTest& d, const std::string& key, OpenApiResponses* seen = nullptr) {
    auto r = d.api("GET", "/v1/campaigns/" + key);
    if (seen) seen->add("GET", "/v1/campaigns/{id}", r);
    auto doc = parsed(r.body);
    if (r.status != 200 || !doc.IsObject()) doc.SetObject();
    return doc;
}
std::string state_of(const DaemonUnderTest& d, const std::string& key) {
    auto c = campaign(d, key);
    return c.HasMember("state") ? c["state"].GetString() : "";
}
// Which messages a campaign key has in the receipts, by citizen, with their status.
std::map<std::string, std::string> messages_of(const DaemonUnderTest& d, const std::string& key) {
    std::map<std::string, std::string> out;
    auto db = sqlite::open(d.receipts(), SQLITE_OPEN_READONLY);
    sqlite3_busy_timeout(db.get(), 2000);
    // Found by the deterministic job id, "<key>:<citizen>".
    sqlite::Stmt s(db.get(), "SELECT citizen, status FROM messages WHERE campaign = ?1 AND job_id = ?1 || ':' || citizen");
    s.bind(1, key);
    while (s.step()) out[std::string(s.text(0))] = std::string(s.text(1));
    return out;
}
std::set<std::string> citizens(const std::map<std::string, std::string>& messages) {
    std::set<std::string> ids;
    for (auto& [c, status] : messages) ids.insert(c);
    return ids;
}
}  // namespace

TEST_CASE("a campaign to a drawn polygon reaches exactly whom shapely finds inside, its follow-up the same set, its resolution cancels the rest") {
    TwilioRig rig("[campaigns]\npage = 100\n");
    auto& d = *rig.daemon;
    const Town town = make_town();
    write_town(town, rig.dir / "directory.db");  // beside the running daemon's connections (WAL)
    const auto inside = inside_by_shapely(town, rig.dir.path().string(), kPolygon);
    REQUIRE(inside.size() > 200);
    OpenApiResponses seen(rig.dir);

    // The dry run: the preview, and nothing stored (the id stays free).
    auto dry = d.api("POST", "/v1/campaigns", R"({"id":"coupure-7","service":"voirie","template":"street_event","dry_run":true,"channels":["sms","email"],"audience":)" +
                                                  area_audience() + R"(,"data":)" + kEventData + "}");
    seen.add("POST", "/v1/campaigns", dry);
    REQUIRE(dry.status == 200);
    auto preview = parsed(dry.body);
    CHECK(preview["preview"]["citizens"].GetInt64() == static_cast<std::int64_t>(inside.size()));
    CHECK(d.api("GET", "/v1/campaigns/coupure-7").status == 404);

    // The launch: one job per citizen inside, on the urgent stream.
    auto launched = d.api("POST", "/v1/campaigns", R"({"id":"coupure-7","service":"voirie","template":"street_event","priority":"urgent","channels":["sms","email"],"audience":)" +
                                                       area_audience() + R"(,"data":)" + kEventData + "}");
    seen.add("POST", "/v1/campaigns", launched);
    REQUIRE_MESSAGE(launched.status == 202, launched.body);
    CHECK(parsed(launched.body)["members"].GetInt64() == static_cast<std::int64_t>(inside.size()));
    REQUIRE(wait_until([&] { return state_of(d, "coupure-7") == "done"; }, 60s));
    const auto first = messages_of(d, "coupure-7");
    CHECK(citizens(first) == inside);
    std::size_t sms = 0, sent = 0;
    for (auto& [c, status] : first) sent += status == "sent" || status == "delivered";
    {
        auto db = sqlite::open(d.receipts(), SQLITE_OPEN_READONLY);
        sqlite::Stmt s(db.get(), "SELECT count(*) FROM messages WHERE campaign = 'coupure-7' AND channel = 'sms' AND status IN ('sent', 'delivered')");
        s.step();
        sms = static_cast<std::size_t>(s.int64(0));
    }
    CHECK(sent > inside.size() / 2);
    // Each SMS reached the provider once.
    auto emulated = parsed(http_get(rig.emulator_port, "/emulator/messages").body);
    REQUIRE(emulated.IsArray());
    CHECK(emulated.Size() == sms);
    // The counts, the reach over time, the delivery receipts from the emulator's callbacks.
    REQUIRE(wait_until([&] {
        auto c = campaign(d, "coupure-7");
        return c.HasMember("counts") && c["counts"]["by_status"].HasMember("delivered");
    }, 20s));
    auto shown = campaign(d, "coupure-7", &seen);
    CHECK(shown["counts"]["messages"].GetInt64() == static_cast<std::int64_t>(inside.size()));
    CHECK(shown["counts"]["by_channel"]["sms"].GetInt64() >= static_cast<std::int64_t>(sms));
    REQUIRE(shown["counts"]["reach"].Size() > 0);
    CHECK(shown["counts"]["reach"][shown["counts"]["reach"].Size() - 1]["reached"].GetInt64() == static_cast<std::int64_t>(sent));

    // A follow-up, to go out in an hour: the same set, scheduled.
    const auto in_an_hour = format_rfc3339(std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now() + 1h));
    auto f1 = d.api("POST", "/v1/campaigns/coupure-7/followups",
                    R"({"template":"street_event","priority":"normal","not_before":")" + in_an_hour + R"(","data":)" + kEventData + "}");
    seen.add("POST", "/v1/campaigns/{id}/followups", f1);
    REQUIRE_MESSAGE(f1.status == 202, f1.body);
    CHECK(parsed(f1.body)["id"].GetString() == std::string("coupure-7~1"));
    REQUIRE(wait_until([&] { return messages_of(d, "coupure-7~1").size() == inside.size(); }, 60s));
    REQUIRE(wait_until([&] {
        auto m = messages_of(d, "coupure-7~1");
        return std::all_of(m.begin(), m.end(), [](auto& kv) { return kv.second == "scheduled" || kv.second == "failed"; });
    }, 20s));
    CHECK(citizens(messages_of(d, "coupure-7~1")) == inside);

    // The resolution: what was scheduled is cancelled, and "it is over" goes to the same set.
    auto f2 = d.api("POST", "/v1/campaigns/coupure-7/followups",
                    R"({"template":"street_event_resolved","resolved":true,"data":)" + std::string(kResolvedData) + "}");
    seen.add("POST", "/v1/campaigns/{id}/followups", f2);
    REQUIRE_MESSAGE(f2.status == 202, f2.body);
    REQUIRE(wait_until([&] { return state_of(d, "coupure-7~2") == "done"; }, 60s));
    CHECK(citizens(messages_of(d, "coupure-7~2")) == inside);
    std::size_t cancelled = 0, failed = 0, reached_again = 0;
    for (auto& [c, status] : messages_of(d, "coupure-7~1")) {
        CHECK(status != "scheduled");
        cancelled += status == "cancelled";
        failed += status == "failed";
    }
    for (auto& [c, status] : messages_of(d, "coupure-7~2")) reached_again += status == "sent" || status == "delivered";
    CHECK(cancelled + failed == inside.size());  // every one that was waiting for its hour
    CHECK(cancelled >= sent);
    CHECK(reached_again == sent);
    auto thread = campaign(d, "coupure-7", &seen);
    REQUIRE(thread["followups"].Size() == 2);
    CHECK(thread["followups"][1]["resolved"].GetBool());

    // Only those the first message reached: counted by a dry run.
    auto reached = d.api("POST", "/v1/campaigns/coupure-7/followups",
                         R"({"template":"street_event_resolved","target":"reached","dry_run":true,"data":)" + std::string(kResolvedData) + "}");
    seen.add("POST", "/v1/campaigns/{id}/followups", reached);
    REQUIRE(reached.status == 200);
    CHECK(parsed(reached.body)["followup"]["members"].GetInt64() == static_cast<std::int64_t>(sent));

    // Only those who did not read it: 20 of them read it in the app (the events its back end reports).
    std::string reads;
    int read_count = 0;
    for (auto& [citizen, status] : first)
        if ((status == "sent" || status == "delivered") && read_count < 20) {
            reads += std::string(read_count++ ? "," : "") + R"({"type":"read","message":"coupure-7:)" + citizen + R"("})";
        }
    auto recorded = d.api("POST", "/v1/events", R"({"events":[)" + reads + "]}");
    REQUIRE_MESSAGE(recorded.status == 200, recorded.body);
    CHECK(recorded.body.find("\"recorded\":20") != std::string::npos);
    auto not_read = d.api("POST", "/v1/campaigns/coupure-7/followups",
                          R"({"template":"street_event_resolved","target":"not_read","dry_run":true,"data":)" + std::string(kResolvedData) + "}");
    REQUIRE(not_read.status == 200);
    CHECK(parsed(not_read.body)["followup"]["members"].GetInt64() == static_cast<std::int64_t>(inside.size()) - 20);

    // An id is never used twice, cancelled or not.
    auto again = d.api("POST", "/v1/campaigns", R"({"id":"coupure-7","service":"voirie","template":"street_event","audience":)" + area_audience() +
                                                    R"(,"data":)" + kEventData + "}");
    seen.add("POST", "/v1/campaigns", again);
    CHECK(again.status == 409);
    auto list = d.api("GET", "/v1/campaigns");
    seen.add("GET", "/v1/campaigns", list);
    REQUIRE(list.status == 200);
    CHECK(parsed(list.body)["campaigns"].Size() == 1);
    seen.check();

    // An erasure reaches the snapshots and the job ids that held the citizen's id.
    const std::string gone = *inside.begin();
    REQUIRE(d.api("DELETE", "/v1/citizens/" + gone).status == 200);
    CHECK(d.query("SELECT count(*) FROM messages WHERE job_id LIKE '%:" + gone + "' OR citizen = '" + gone + "'") == 0);
    CHECK(d.query("SELECT count(*) FROM messages WHERE job_id LIKE 'coupure-7:erased-%'") == 1);
    {
        auto db = sqlite::open(rig.dir / "campaigns.db", SQLITE_OPEN_READONLY);
        sqlite::Stmt s(db.get(), "SELECT count(*) FROM members WHERE citizen = ?1");
        s.bind(1, gone);
        REQUIRE(s.step());
        CHECK(s.int64(0) == 0);
    }
    CHECK(rig.daemon->stop() == 0);
}

TEST_CASE("a campaign's bad request is refused naming the field, before anything is stored, and a service sees its own campaigns only") {
    TempDir dir;
    const Town town = make_town(500);
    write_town(town, dir / "directory.db");
    RedisServer redis(dir / "redis");
    DaemonUnderTest d(dir, redis, {.extra_http = "keys_file = \"keys.jsonl\"\n"});
    const auto roads = create_api_key(d, dir, {"--service", "voirie", "--name", "voirie-app", "--scopes", "send,read,cancel"});
    const auto water = create_api_key(d, dir, {"--service", "eau", "--name", "eau-app", "--scopes", "send,read,cancel"});
    REQUIRE(!roads.empty());
    REQUIRE(!water.empty());
    d.start();
    OpenApiResponses seen(dir);
    auto refused = [&](const std::string& body, int status, const std::string& field) {
        auto r = d.api("POST", "/v1/campaigns", body);
        seen.add("POST", "/v1/campaigns", r);
        CHECK_MESSAGE(r.status == status, body << " → " << r.body);
        CHECK_MESSAGE(r.body.find("\"field\":\"" + field + "\"") != std::string::npos, body << " → " << r.body);
    };
    const std::string data = std::string(R"(,"data":)") + kEventData;
    refused(R"({"service":"voirie","template":"street_event","audience":{"tags":["no_such_tag"]})" + data + "}", 422, "audience.tags.all[0]");
    refused(R"({"service":"voirie","template":"street_event","audience":{"street":{"name":"Rue des Inconnus","postcode":"69007"}})" + data + "}", 422,
            "audience.street");
    refused(R"({"service":"voirie","template":"street_event","audience":{"area":{"type":"Polygon","coordinates":[[[4.82,45.73],[4.87,45.73],[4.87,45.75]]]}})" +
                data + "}",
            422, "audience.area.coordinates[0]");
    refused(R"({"service":"voirie","template":"street_event","audience":{"postcode":"69001"},"data":{"street":"rue Garibaldi"}})", 422, "data.advice");
    refused(R"({"service":"voirie","template":"street_event","category":"information","audience":{"postcode":"69001"})" + data + "}", 422, "category");
    refused(R"({"service":"voirie","template":"street_event_resolved","channels":["whatsapp"],"audience":{"postcode":"69001"},"data":{}})", 422, "channels");
    refused(R"({"service":"voirie","template":"no_such","audience":{"postcode":"69001"}})", 422, "template");
    refused(R"({"service":"voirie","id":"a b","template":"street_event","audience":{"postcode":"69001"})" + data + "}", 422, "id");
    refused(R"({"template":"street_event","audience":{"postcode":"69001"})" + data + "}", 422, "service");  // the operators' token names it
    // A campaign that reaches nobody: the dry run says so, the launch is refused.
    auto nobody = d.api("POST", "/v1/campaigns", R"({"service":"voirie","dry_run":true,"template":"street_event","audience":{"postcode":"75001"})" + data + "}");
    CHECK(nobody.status == 200);
    CHECK(nobody.body.find("reach nobody") != std::string::npos);
    refused(R"({"service":"voirie","id":"personne","template":"street_event","audience":{"postcode":"75001"})" + data + "}", 422, "audience");
    // Nothing was stored by any of them: the id "personne" is still free, the list empty.
    CHECK(d.api("GET", "/v1/campaigns/personne").status == 404);
    CHECK(parsed(d.api("GET", "/v1/campaigns").body)["campaigns"].Size() == 0);

    // Services' keys: each sees and acts on its own campaigns.
    auto mine = request_as(d, roads, "POST", "/v1/campaigns",
                           R"({"id":"travaux-1","draft":true,"template":"street_event","audience":{"postcode":"69002"})" + data + "}");
    seen.add("POST", "/v1/campaigns", mine);
    REQUIRE_MESSAGE(mine.status == 201, mine.body);
    CHECK(parsed(mine.body)["state"].GetString() == std::string("draft"));
    CHECK(request_as(d, water, "GET", "/v1/campaigns/travaux-1").status == 404);
    CHECK(request_as(d, water, "POST", "/v1/campaigns/travaux-1/cancel").status == 404);
    CHECK(parsed(request_as(d, water, "GET", "/v1/campaigns").body)["campaigns"].Size() == 0);
    CHECK(request_as(d, roads, "POST", "/v1/campaigns", R"({"service":"eau","template":"street_event","audience":{"postcode":"69002"})" + data + "}").status == 403);
    // The draft launched, then cancelled: what was not sent is cancelled, and the id stays taken.
    auto go = request_as(d, roads, "POST", "/v1/campaigns/travaux-1/launch");
    seen.add("POST", "/v1/campaigns/{id}/launch", go);
    REQUIRE_MESSAGE(go.status == 202, go.body);
    CHECK(request_as(d, roads, "POST", "/v1/campaigns/travaux-1/launch").status == 409);  // not a draft any more
    auto stop = request_as(d, roads, "POST", "/v1/campaigns/travaux-1/cancel");
    seen.add("POST", "/v1/campaigns/{id}/cancel", stop);
    CHECK(stop.status == 200);
    CHECK(state_of(d, "travaux-1") == "cancelled");
    CHECK(request_as(d, roads, "POST", "/v1/campaigns/travaux-1/followups", R"({"template":"street_event")" + data + "}").status == 409);
    seen.check();

    // A CAP 1.2 alert: its polygon (latitude first) reaches whom shapely finds inside; its AllClear
    // update resolves it; a second copy is refused; a polygon that crosses itself is named by its CAP element.
    const auto inside = inside_by_shapely(town, dir.path().string(), kPolygon);
    const auto flood = read_file(CRIEUR_SOURCE_DIR "/docs/examples/campaigns/flood-alert.cap.xml");
    auto cap_dry = d.api("POST", "/v1/campaigns/cap?service=voirie&dry_run=1", flood);
    seen.add("POST", "/v1/campaigns/cap", cap_dry);
    REQUIRE_MESSAGE(cap_dry.status == 200, cap_dry.body);
    CHECK(parsed(cap_dry.body)["preview"]["citizens"].GetInt64() == static_cast<std::int64_t>(inside.size()));
    auto cap = d.api("POST", "/v1/campaigns/cap?service=voirie", flood);
    seen.add("POST", "/v1/campaigns/cap", cap);
    REQUIRE_MESSAGE(cap.status == 202, cap.body);
    CHECK(parsed(cap.body)["id"].GetString() == std::string("cap-PREF69-CRUE-2026-12-03-001"));
    CHECK(parsed(cap.body)["members"].GetInt64() == static_cast<std::int64_t>(inside.size()));
    CHECK(d.api("POST", "/v1/campaigns/cap?service=voirie", flood).status == 409);
    auto all_clear = d.api("POST", "/v1/campaigns/cap", read_file(CRIEUR_SOURCE_DIR "/docs/examples/campaigns/flood-all-clear.cap.xml"));
    seen.add("POST", "/v1/campaigns/cap", all_clear);
    REQUIRE_MESSAGE(all_clear.status == 202, all_clear.body);
    CHECK(parsed(all_clear.body)["resolved"].GetBool());
    CHECK(parsed(all_clear.body)["members"].GetInt64() == static_cast<std::int64_t>(inside.size()));
    std::string bow_tie = flood;
    bow_tie.replace(bow_tie.find("<identifier>") + 12, 6, "BOWTIE");
    const auto polygon_at = bow_tie.find("<polygon>") + 9;
    bow_tie.replace(polygon_at, bow_tie.find("</polygon>") - polygon_at, "45.73,4.82 45.78,4.87 45.73,4.87 45.78,4.82 45.73,4.82");
    auto crossed = d.api("POST", "/v1/campaigns/cap?service=voirie", bow_tie);
    seen.add("POST", "/v1/campaigns/cap", crossed);
    CHECK(crossed.status == 422);
    CHECK_MESSAGE(crossed.body.find("\"field\":\"alert.info[0].area[0].polygon[0]") != std::string::npos, crossed.body);
    auto not_cap = d.api("POST", "/v1/campaigns/cap?service=voirie", "<alert><identifier>x</identifier></alert>");
    seen.add("POST", "/v1/campaigns/cap", not_cap);
    CHECK(not_cap.status == 422);
    CHECK(not_cap.body.find("not a CAP 1.2 alert") != std::string::npos);
    seen.check();

    // The command line: the same API with the config's operators' token, and the fan-out's progress.
    std::ofstream(dir / "campaign.json") << R"({"id":"cli-1","template":"street_event","audience":{"district":"Gerland"})" << data << "}";
    std::string out;
    CHECK(run_cli(d, dir, {"campaign", "create", dir / "campaign.json", "--service", "voirie"}, out) == 0);
    CHECK_MESSAGE(out.find("campaign cli-1 launched for") != std::string::npos, out);
    CHECK(out.find("\"members\":") != std::string::npos);
    CHECK(run_cli(d, dir, {"campaign", "show", "cli-1"}, out) == 0);
    CHECK(out.find("\"counts\":") != std::string::npos);
    CHECK(run_cli(d, dir, {"campaign", "create", dir / "campaign.json", "--service", "voirie"}, out) == 1);  // the id is taken
    CHECK(out.find("409") != std::string::npos);
    CHECK(run_cli(d, dir, {"campaign", "list"}, out) == 0);
    CHECK(out.find("cli-1") != std::string::npos);
    CHECK(run_cli(d, dir, {"campaign", "cap", CRIEUR_SOURCE_DIR "/docs/examples/campaigns/flood-alert.cap.xml", "--service", "voirie", "--dry-run"}, out) == 0);
    CHECK(out.find("\"citizens\":" + std::to_string(inside.size()) + ",") != std::string::npos);
    CHECK(d.stop() == 0);
}

TEST_CASE("a campaign's fan-out cut by kill -9 goes on after the restart: every citizen once, none skipped, paced by the backlog") {
    TempDir dir;
    constexpr int kTown = 20'000;
    write_town(make_town(kTown), dir / "directory.db");
    RedisServer redis(dir / "redis");
    // Sends at 4,000 a second (the outbox's rate limit), the fan-out kept 1,000 ahead of them.
    // Jobs wait for their slot in memory (horizon_ms) rather than in the schedule, so that each
    // stream entry is one of the fan-out's.
    DaemonOptions options{.extra_redis = "claim_after_ms = 3000\n",
                          .extra_intake = "max_inflight = 200\n",  // the rest stays unread in the stream
                          .extra_sections = "[campaigns]\npage = 200\nmax_backlog = 1000\n"
                                            "[rate_limits]\noutbox = { per_s = 4000, burst = 100 }\nhorizon_ms = 2000\n"};
    DaemonUnderTest d(dir, redis, options);
    d.start();
    redis::SyncClient client("127.0.0.1", redis.port());
    auto r = d.api("POST", "/v1/campaigns", R"({"id":"coupure-quartier","service":"voirie","template":"street_event","priority":"urgent","audience":{"district":["Presqu'île","Gerland","Croix-Rousse"]},"data":)" +
                                               std::string(kEventData) + "}");
    REQUIRE_MESSAGE(r.status == 202, r.body << read_file(d.log()));
    REQUIRE(parsed(r.body)["members"].GetInt64() == kTown);
    long long most_unread = 0;
    auto unread = [&] {
        auto info = client.command({"XINFO", "GROUPS", "crieur:jobs:urgent"});
        for (std::size_t g = 0; info && g < info->elements; ++g)
            for (std::size_t i = 0; i + 1 < info->element[g]->elements; i += 2)
                if (redis::text(info->element[g]->element[i]) == "lag" && info->element[g]->element[i + 1]->type == REDIS_REPLY_INTEGER)
                    most_unread = std::max(most_unread, info->element[g]->element[i + 1]->integer);
    };
    REQUIRE(wait_until([&] {
        unread();
        return entries_added(client, "crieur:jobs:urgent") >= kTown / 4;
    }, 30s, 20ms));
    d.kill9();
    const auto at_kill = entries_added(client, "crieur:jobs:urgent");
    MESSAGE("killed with " << at_kill << " of " << kTown << " jobs on the stream");
    REQUIRE(at_kill < kTown);  // the kill came in the middle
    d.start();
    REQUIRE(wait_until([&] {
        unread();
        return state_of(d, "coupure-quartier") == "done";
    }, 90s, 50ms));
    // Every citizen's job once on the stream, none skipped: as many entries as citizens, each with its own message.
    CHECK(entries_added(client, "crieur:jobs:urgent") == kTown);
    CHECK(d.metric("crieur_campaign_jobs_queued_total") == static_cast<double>(kTown - at_kill));  // this run's, none again
    CHECK(d.metric("crieur_campaign_fanouts") == 0);
    CHECK(d.query("SELECT count(DISTINCT citizen) FROM messages WHERE campaign = 'coupure-quartier'") == kTown);
    CHECK(d.query("SELECT count(*) FROM messages WHERE campaign = 'coupure-quartier' AND job_id = 'coupure-quartier:' || citizen") == kTown);
    // Paced: never much more unread than max_backlog (a page may go out just under it).
    MESSAGE("most jobs unread at once: " << most_unread);
    CHECK(most_unread >= 800);                // the bound was reached: the fan-out was ahead of the sends
    CHECK(most_unread <= 1000 + 200 + 100);  // and held there (a page may go out just under it)
    CHECK(d.stop() == 0);
}

TEST_CASE("two daemons on one Redis: a campaign's counts add up both daemons' receipts, and a cancellation through one cancels in the other's too") {
    TempDir dir_a, dir_b, dir_redis;
    const Town town = make_town(2'000);
    write_town(town, dir_a / "directory.db");
    write_town(town, dir_b / "directory.db");  // each daemon its own copy of the town's directory
    RedisServer redis(dir_redis / "redis");
    DaemonOptions options{.extra_redis = "claim_job_ids = true\n"};
    DaemonUnderTest a(dir_a, redis, options), b(dir_b, redis, options);
    a.start();
    b.start();
    // Messages for tomorrow: both daemons read their share of the jobs and schedule them.
    const auto tomorrow = format_rfc3339(std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now() + 24h));
    auto r = a.api("POST", "/v1/campaigns", R"({"id":"demain-1","service":"voirie","template":"street_event","not_before":")" + tomorrow +
                                                R"(","audience":{"district":["Gerland","Presqu'île","Croix-Rousse"]},"data":)" + std::string(kEventData) + "}");
    REQUIRE_MESSAGE(r.status == 202, r.body);
    auto scheduled = [](const DaemonUnderTest& d) { return d.query("SELECT count(*) FROM messages WHERE campaign = 'demain-1' AND status = 'scheduled'"); };
    REQUIRE(wait_until([&] { return scheduled(a) + scheduled(b) == 2'000; }, 60s, 100ms));
    const auto on_b = scheduled(b);
    MESSAGE("daemon b holds " << on_b << " of the 2,000 messages");
    REQUIRE(on_b > 0);
    // Its counts through the daemon that keeps it add up both daemons' receipts (once they know each other).
    OpenApiResponses seen(dir_a);
    CHECK(wait_until([&] {
        auto c = campaign(a, "demain-1");
        return c.HasMember("counts") && c["counts"]["messages"].GetInt64() == 2'000 && c["counts"]["by_status"]["scheduled"].GetInt64() == 2'000;
    }, 20s, 200ms));
    seen.add("GET", "/v1/campaigns/{id}", a.api("GET", "/v1/campaigns/demain-1"));
    auto theirs = b.api("GET", "/v1/campaigns/demain-1/counts?keys=demain-1");
    seen.add("GET", "/v1/campaigns/{id}/counts", theirs);
    CHECK(parsed(theirs.body)["reports"][0]["messages"].GetInt64() == on_b);
    CHECK(b.api("GET", "/v1/campaigns/demain-1/counts?keys=other-2").status == 400);
    seen.check();
    auto cancelled = a.api("POST", "/v1/campaigns/demain-1/cancel");
    REQUIRE(cancelled.status == 200);
    // Daemon b hears of it through Redis within a second or two.
    CHECK(wait_until([&] { return b.query("SELECT count(*) FROM messages WHERE campaign = 'demain-1' AND status = 'cancelled'") == on_b; }, 10s, 100ms));
    CHECK(scheduled(a) + scheduled(b) == 0);
    // A job of the campaign that comes after (a service still fanning its own out) is cancelled on either.
    auto client = redis.client();
    enqueue(client, {R"({"v":1,"id":"demain-1:late","service":"voirie","template":"street_event","citizen":"T-1","campaign":"demain-1","data":)" +
                     std::string(kEventData) + "}"});
    REQUIRE(wait_until([&] { return a.query("SELECT count(*) FROM messages WHERE job_id = 'demain-1:late'") +
                                    b.query("SELECT count(*) FROM messages WHERE job_id = 'demain-1:late'") == 1; }, 10s));
    CHECK(a.query("SELECT count(*) FROM messages WHERE job_id = 'demain-1:late' AND status = 'cancelled'") +
              b.query("SELECT count(*) FROM messages WHERE job_id = 'demain-1:late' AND status = 'cancelled'") == 1);
    CHECK(a.stop() == 0);
    CHECK(b.stop() == 0);
}
