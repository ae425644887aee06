#include <doctest/doctest.h>

#include <cstring>
#include <deque>

#include "daemon/redis/redis_client.hpp"
#include "daemon/redis/sentinel.hpp"

using namespace crieur;

namespace {
// Builds hiredis reply trees by hand, the shapes Redis 7 sends.
struct Builder {
    std::deque<redisReply> nodes;
    std::deque<std::vector<redisReply*>> arrays;
    std::deque<std::string> strings;

    redisReply* str(const std::string& s) {
        strings.push_back(s);
        redisReply& r = nodes.emplace_back();
        std::memset(&r, 0, sizeof r);
        r.type = REDIS_REPLY_STRING;
        r.str = strings.back().data();
        r.len = strings.back().size();
        return &r;
    }
    redisReply* nil() {
        redisReply& r = nodes.emplace_back();
        std::memset(&r, 0, sizeof r);
        r.type = REDIS_REPLY_NIL;
        return &r;
    }
    redisReply* array(std::vector<redisReply*> items) {
        arrays.push_back(std::move(items));
        redisReply& r = nodes.emplace_back();
        std::memset(&r, 0, sizeof r);
        r.type = REDIS_REPLY_ARRAY;
        r.elements = arrays.back().size();
        r.element = arrays.back().data();
        return &r;
    }
};
}  // namespace

TEST_CASE("XREADGROUP replies become entries with their job field") {
    Builder b;
    auto* reply = b.array({b.array({b.str("crieur:jobs"),
                                    b.array({b.array({b.str("1-0"), b.array({b.str("job"), b.str("{\"v\":1}")})}),
                                             b.array({b.str("2-0"), b.array({b.str("other"), b.str("x")})}),
                                             b.array({b.str("3-0"), b.nil()})})})});
    auto entries = redis::parse_xreadgroup(reply);
    REQUIRE(entries.size() == 3);
    CHECK(entries[0].entry_id == "1-0");
    CHECK(entries[0].has_job);
    CHECK(entries[0].job_json == "{\"v\":1}");
    CHECK_FALSE(entries[1].has_job);
    CHECK_FALSE(entries[1].deleted);
    CHECK(entries[2].deleted);
}

TEST_CASE("a timed-out XREADGROUP (nil) gives no entries") {
    Builder b;
    CHECK(redis::parse_xreadgroup(b.nil()).empty());
    CHECK(redis::parse_xreadgroup(nullptr).empty());
}

TEST_CASE("an error reply or a lost connection is a failed status") {
    Builder b;
    auto* err = b.str("NOGROUP No such key");
    err->type = REDIS_REPLY_ERROR;
    CHECK_FALSE(redis::to_status(err).ok());
    CHECK(redis::to_status(err).code == errc::redis_error);
    CHECK(redis::to_status(err).detail == "NOGROUP No such key");
    CHECK(redis::to_status(nullptr).code == errc::redis_disconnected);
    CHECK(redis::to_status(nullptr).what() == "redis disconnected");
    CHECK(redis::to_status(b.str("OK")).ok());
}

TEST_CASE("the resume field is read as written, and an earlier version's fields as the resume they meant") {
    Builder b;
    auto entry = [&](std::vector<redisReply*> fields) {
        fields.insert(fields.begin(), {b.str("job"), b.str("{}")});
        return b.array({b.str("1-0"), b.array(std::move(fields))});
    };
    auto* reply = b.array({entry({b.str("resume"), b.str("fallback:sms")}),
                           entry({b.str("escalate"), b.str("sms,whatsapp")}),
                           entry({b.str("escalate"), b.str("sms"), b.str("fallback"), b.str("on_failure")}),
                           entry({b.str("escalate"), b.str("-")}),
                           entry({b.str("slot"), b.str("twilio")}),
                           entry({b.str("sendtime"), b.str("chosen")}),
                           entry({})});
    auto entries = redis::parse_entries(reply);
    REQUIRE(entries.size() == 7);
    CHECK(entries[0].resume == "fallback:sms");
    CHECK(entries[1].resume == "escalation:sms,whatsapp");
    CHECK(entries[2].resume == "fallback:sms");
    CHECK(entries[3].resume == "escalation:");
    CHECK(entries[4].resume == "slot:twilio");
    CHECK(entries[5].resume == "send_time");
    CHECK(entries[6].resume.empty());
}

TEST_CASE("a sentinel's answer names the primary, nil (an unknown set) or a wrong shape names none") {
    Builder b;
    auto primary = redis::parse_master_reply(b.array({b.str("10.0.0.7"), b.str("6380")}));
    REQUIRE(primary);
    CHECK(*primary == redis::Address{"10.0.0.7", 6380});
    CHECK_FALSE(redis::parse_master_reply(b.nil()));
    CHECK_FALSE(redis::parse_master_reply(b.array({b.str("10.0.0.7")})));
    CHECK_FALSE(redis::parse_master_reply(b.array({b.str("10.0.0.7"), b.str("port")})));
    CHECK_FALSE(redis::parse_master_reply(nullptr));
}

TEST_CASE("addresses: host:port, [v6]:port, but no port, a bare v6 or a port out of range are not addresses") {
    CHECK(*redis::parse_address("sentinel-1.mairie.lan:26379") == redis::Address{"sentinel-1.mairie.lan", 26379});
    CHECK(*redis::parse_address("[fd00::5]:26379") == redis::Address{"fd00::5", 26379});
    CHECK_FALSE(redis::parse_address("10.0.0.1"));
    CHECK_FALSE(redis::parse_address("fd00::5:26379"));
    CHECK_FALSE(redis::parse_address("10.0.0.1:0"));
    CHECK_FALSE(redis::parse_address("10.0.0.1:65536"));
    CHECK_FALSE(redis::parse_address(":26379"));
    CHECK_FALSE(redis::parse_address("10.0.0.1:26379x"));
}
