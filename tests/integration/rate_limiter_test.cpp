// The rate limiter's Lua meter against a real redis-server: paces in messages and in SMS segments,
// and the priorities (urgent and normal borrow the bulk slots beyond the horizon, a bulk job back
// at its slot gives it up while a debt is owed). Waits are read from Redis's clock, which moves a
// little between two reservations: hence the tolerances.
#include <doctest/doctest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <optional>
#include <thread>

#include "daemon/rate_limiter.hpp"
#include "support/process.hpp"
#include "support/redis_server.hpp"

using namespace crieur;

namespace {

struct Harness {
    test::TempDir dir;
    test::RedisServer redis{dir / "redis"};
    boost::asio::io_context io;
    redis::RedisConnection conn{io, {"127.0.0.1", redis.port()}, "rate-limiter-test"};

    Harness() {
        conn.start();
        auto work = boost::asio::make_work_guard(io);
        while (!conn.connected()) io.run_one();
    }
    ~Harness() { conn.stop(); }
    bool last_reserved = false;

    std::int64_t reserve(RateLimiter& limiter, int segments, Priority priority, bool returning = false,
                         const std::string& recipient = "+33612345678") {
        std::optional<std::int64_t> out;
        auto work = boost::asio::make_work_guard(io);
        limiter.reserve("twilio", recipient, segments, priority, returning, [&](std::error_code e, RateLimiter::Slot slot) {
            REQUIRE_FALSE(e);
            out = slot.wait_ms;
            last_reserved = slot.reserved;
        });
        io.restart();
        while (!out) io.run_one();
        return *out;
    }
};

constexpr int kSlack = 25;  // ms of Redis clock that may pass between two reservations in a test
}  // namespace

TEST_CASE("rate limiter: a messages meter and a segments meter hold together") {
    Harness h;
    SUBCASE("both: the segments meter paces long messages, the messages meter short ones") {
        RateLimiter limiter(h.conn, "t:", {{"twilio", {.per_s = 10, .segments_per_s = 20}}});
        // 3 segments at 20 segments/s: 150 ms each, although 10 messages/s would allow 100 ms.
        CHECK(h.reserve(limiter, 3, Priority::bulk) == 0);
        { const auto w = h.reserve(limiter, 3, Priority::bulk); CHECK(w >= 150 - kSlack); CHECK(w <= 150); }
        const auto third = h.reserve(limiter, 3, Priority::bulk);
        CHECK(third >= 300 - kSlack);
        CHECK(third <= 300);
        // Then 1-segment messages: 10 messages/s is now the tighter limit (100 ms apart).
        const auto a = h.reserve(limiter, 1, Priority::bulk), b = h.reserve(limiter, 1, Priority::bulk);
        CHECK(a >= 450 - kSlack);
        CHECK(a <= 450);
        CHECK(b - a >= 100 - kSlack);
        CHECK(b - a <= 100 + kSlack);
    }
    SUBCASE("per_s in segments alone") {
        RateLimiter limiter(h.conn, "s:", {{"twilio", {.per_s = 20, .segments = true}}});
        CHECK(h.reserve(limiter, 4, Priority::bulk) == 0);
        const auto w = h.reserve(limiter, 1, Priority::bulk);
        CHECK(w >= 200 - kSlack);
        CHECK(w <= 200);
    }
    SUBCASE("a provider without a limit goes at once") {
        RateLimiter limiter(h.conn, "n:", {{"ovh", {.per_s = 1}}});
        for (int i = 0; i < 5; ++i) CHECK(h.reserve(limiter, 1, Priority::bulk) == 0);
    }
}

TEST_CASE("rate limiter: urgent and normal borrow bulk slots, the bulk job back at its slot gives it up") {
    Harness h;
    RateLimiter limiter(h.conn, "p:", {{"twilio", {.per_s = 10}}});
    SUBCASE("one pace for all: a normal job takes the bulk job's slot, which then queues again") {
        CHECK(h.reserve(limiter, 1, Priority::normal) == 0);
        const auto b = h.reserve(limiter, 1, Priority::bulk);
        CHECK(b >= 100 - kSlack);
        CHECK(b <= 100);
        const auto n = h.reserve(limiter, 1, Priority::normal);  // normal's pace: 100 ms after the first
        CHECK(n >= 100 - kSlack);
        CHECK(n <= 100);
        const auto again = h.reserve(limiter, 1, Priority::bulk, true);  // the bulk job, at its slot
        CHECK(again >= 200 - kSlack);
        CHECK(again <= 200);
        CHECK(h.reserve(limiter, 1, Priority::bulk, true) == 0);  // and at its new one
    }
    SUBCASE("a bulk backlog of 10 s") {
        std::int64_t last = 0;
        for (int i = 0; i < 100; ++i) last = h.reserve(limiter, 1, Priority::bulk);
        CHECK(last >= 9900 - 4 * kSlack);
        // Normal does not wait for the 10 s backlog; a second normal one keeps normal's own pace.
        const auto n1 = h.reserve(limiter, 1, Priority::normal), n2 = h.reserve(limiter, 1, Priority::normal);
        CHECK(n1 == 0);
        CHECK(n2 - n1 >= 100 - kSlack);
        CHECK(n2 - n1 <= 100);
        CHECK(h.reserve(limiter, 1, Priority::urgent) == 0);
        // Three slots borrowed: the first three bulk jobs back at their slots queue again at the
        // end of the backlog; the fourth keeps its own.
        for (int i = 0; i < 3; ++i) {
            const auto again = h.reserve(limiter, 1, Priority::bulk, true);
            CHECK(again >= 10000 - 4 * kSlack);
            CHECK(again <= 10000 + 100 * i);
        }
        CHECK(h.reserve(limiter, 1, Priority::bulk, true) == 0);
        // A new bulk job still queues at the end, after the three that queued again.
        const auto tail = h.reserve(limiter, 1, Priority::bulk);
        CHECK(tail >= 10300 - 4 * kSlack);
    }
    SUBCASE("a debt nobody can pay back is dropped when the backlog is gone") {
        CHECK(h.reserve(limiter, 1, Priority::bulk) == 0);
        CHECK(h.reserve(limiter, 1, Priority::bulk) > 0);  // one reservation ahead
        CHECK(h.reserve(limiter, 1, Priority::urgent) == 0);  // borrows it
        std::this_thread::sleep_for(std::chrono::milliseconds(400));
        CHECK(h.reserve(limiter, 1, Priority::bulk) == 0);  // nothing ahead any more: the debt is dropped
        const auto next = h.reserve(limiter, 1, Priority::bulk);
        CHECK(next > 0);
        CHECK(h.reserve(limiter, 1, Priority::bulk, true) == 0);  // at its slot, nothing owed
    }
}

TEST_CASE("rate limiter: one recipient's pace holds for every priority, others go at the provider's pace") {
    Harness h;
    RateLimiter limiter(h.conn, "r:", {{"twilio", {.per_s = 100, .recipient_every_s = 1}}});
    const std::string a = "+33611111111", b = "+33622222222";
    CHECK(h.reserve(limiter, 1, Priority::normal, false, a) == 0);
    CHECK(h.last_reserved);
    // A second to the same person: nothing reserved, come back when they may be sent to again.
    const auto again = h.reserve(limiter, 1, Priority::normal, false, a);
    CHECK_FALSE(h.last_reserved);
    CHECK(again >= 1000 - kSlack);
    CHECK(again <= 1000);
    // Another person goes at the provider's pace: the held message took no provider slot.
    const auto other = h.reserve(limiter, 1, Priority::normal, false, b);
    CHECK(h.last_reserved);
    CHECK(other <= 10);
    // Urgent too waits for the person's slot.
    const auto urgent = h.reserve(limiter, 1, Priority::urgent, false, a);
    CHECK_FALSE(h.last_reserved);
    CHECK(urgent >= 1000 - 2 * kSlack);
    CHECK(urgent <= 1000);
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    CHECK(h.reserve(limiter, 1, Priority::urgent, false, a) == 0);
    CHECK(h.last_reserved);
    // No address in Redis's keys: a digest of it.
    auto keys = h.redis.client().command({"KEYS", "r:*"});
    REQUIRE(keys->elements > 0);
    for (std::size_t i = 0; i < keys->elements; ++i) CHECK(std::string(keys->element[i]->str).find("3361") == std::string::npos);
}
