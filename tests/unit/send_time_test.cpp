#include <doctest/doctest.h>

#include <random>
#include <sstream>

#include "daemon/sendtime/files.hpp"
#include "daemon/sendtime/send_time.hpp"

using namespace crieur;
using namespace crieur::sendtime;
using namespace std::chrono_literals;

namespace {
TimePoint at(const char* s) {
    auto t = parse_time(s);
    REQUIRE(t);
    return *t;
}
}  // namespace

TEST_CASE("send time: the hard rules hold on random queries") {
    Model model;
    std::mt19937_64 rng(11);
    const TimePoint base = at("2026-09-01T00:00:00Z");
    int checked = 0;
    for (int i = 0; i < 3000; ++i) {
        Query q;
        q.id = "q" + std::to_string(i);
        q.citizen = "nobody";
        q.channel = i % 3 ? "sms" : "email";
        q.not_before = base + std::chrono::minutes(rng() % (14 * 24 * 60));
        q.deadline = q.not_before + std::chrono::minutes(rng() % (4 * 24 * 60));
        q.urgent = rng() % 10 == 0;
        q.quiet = {static_cast<int>(rng() % 1440), static_cast<int>(rng() % 1440)};
        q.policy_utc_offset_minutes = static_cast<int>(rng() % 1561) - 720;
        const TimePoint s = model.choose(q, nullptr);
        CAPTURE(q.id);
        CHECK(s >= q.not_before);
        CHECK(s <= std::max(q.deadline, q.not_before));
        if (q.urgent) {
            CHECK(s - q.not_before <= 15min);
        } else if (first_allowed_at_offset(q.not_before, q.policy_utc_offset_minutes, q.quiet) <= q.deadline) {
            CHECK_FALSE(is_quiet_at_offset(s, q.policy_utc_offset_minutes, q.quiet));
            ++checked;
        }
    }
    CHECK(checked > 1000);
}

TEST_CASE("send time: a citizen who reads in the evening what was sent at 09:00 is sent it before the evening") {
    std::vector<HistoryEvent> history;
    std::map<std::string, CitizenInfo> citizens{{"C-1", {0, 0, false}}, {"C-2", {0, 0, false}}};
    TimePoint day = at("2026-05-04T00:00:00Z");  // a Monday
    for (int d = 0; d < 60; ++d, day += 24h) {
        const auto weekday = (d % 7);
        if (weekday >= 5) continue;
        const std::string m1 = "a" + std::to_string(d), m2 = "b" + std::to_string(d);
        history.push_back({day + 9h, "C-1", m1, "sms", "sent", "batch"});
        history.push_back({day + 9h + 5s, "C-1", m1, "sms", "delivered", ""});
        history.push_back({day + 19h + 10min, "C-1", m1, "sms", "click", ""});  // read in the evening
        history.push_back({day + 9h, "C-2", m2, "sms", "sent", "batch"});
        history.push_back({day + 9h + 5s, "C-2", m2, "sms", "delivered", ""});
        history.push_back({day + 9h + 12min, "C-2", m2, "sms", "click", ""});   // read at once
    }
    Model model;
    model.learn(history, citizens);
    const Rates r1 = model.rates("C-1", Group::phone), r2 = model.rates("C-2", Group::phone);
    CHECK(r1[19] > 3 * r1[10]);  // corrected for the 09:00 sends: the evening is when C-1 reads
    CHECK(r2[9] > 3 * r1[9]);  // C-2 reads at once what comes at 09:00; C-1 does not
    Query q;
    q.id = "q-evening";  // not an exploring one: checked below
    q.channel = "sms";
    q.not_before = at("2026-07-06T08:00:00Z");
    q.deadline = at("2026-07-07T08:00:00Z");
    q.quiet = {21 * 60, 8 * 60};
    q.citizen = "C-1";
    Options no_exploration;
    no_exploration.explore = 0;
    Model quiet_model(no_exploration);
    quiet_model.learn(history, citizens);
    const TimePoint s1 = quiet_model.choose(q, &citizens["C-1"]);
    CHECK(s1 >= at("2026-07-06T16:00:00Z"));
    CHECK(s1 <= at("2026-07-06T19:30:00Z"));
    CHECK(quiet_model.expected(q, &citizens["C-1"], s1) > quiet_model.expected(q, &citizens["C-1"], q.not_before));
    // With no history, the population's rhythm: here, the evening C-1 taught it.
    q.citizen = "C-new";
    CHECK(quiet_model.choose(q, nullptr) >= at("2026-07-06T12:00:00Z"));
}

TEST_CASE("send time files: the formats, and errors that name file, line and column") {
    std::istringstream citizens("citizen_id,utc_offset_minutes,policy_utc_offset_minutes,channels,quiet_start,quiet_end,app_user\n"
                                "C-1,,60,sms;email,21:00,08:00,1\nC-2,120,120,sms,21:00,08:00,0\n");
    auto c = read_citizens(citizens, "citizens.csv");
    CHECK_FALSE(c["C-1"].utc_offset_minutes.has_value());
    CHECK(c["C-1"].app_user);
    CHECK(*c["C-2"].utc_offset_minutes == 120);
    std::istringstream queries("query_id,citizen_id,channel,created_at,not_before,deadline,urgency,quiet_start,quiet_end,policy_utc_offset_minutes\n"
                               "Q1,C-1,sms,2026-09-01T08:00:00Z,2026-09-01T08:00:00Z,2026-09-02T08:00:00+02:00,soon,21:00,08:00,60\n");
    CHECK_THROWS_WITH(read_queries(queries, "queries.csv"), "queries.csv:2: urgency: expected normal or urgent");
    CHECK(format_time(at("2026-09-01T08:00:00.250Z")) == "2026-09-01T08:00:00Z");
    CHECK(parse_time("2026-09-01T10:00:00+02:00") == at("2026-09-01T08:00:00Z"));
    CHECK_FALSE(parse_time("yesterday"));
}
