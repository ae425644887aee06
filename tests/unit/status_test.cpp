#include <doctest/doctest.h>

#include "daemon/status.hpp"

using namespace crieur;

TEST_CASE("status names round-trip") {
    for (int i = 0; i <= static_cast<int>(Status::unknown); ++i) {
        auto s = static_cast<Status>(i);
        CHECK(parse_status(to_string(s)) == s);
    }
    CHECK_FALSE(parse_status("lost"));
}

TEST_CASE("the happy path moves forward only") {
    CHECK(can_transition(Status::queued, Status::sending));
    CHECK(can_transition(Status::queued, Status::scheduled));
    CHECK(can_transition(Status::scheduled, Status::sending));
    CHECK(can_transition(Status::sending, Status::sent));
    CHECK(can_transition(Status::sent, Status::delivered));
    CHECK(can_transition(Status::delivered, Status::read));
    CHECK(can_transition(Status::sent, Status::read));  // a read receipt may overtake the delivery receipt
    CHECK_FALSE(can_transition(Status::read, Status::delivered));
    CHECK_FALSE(can_transition(Status::delivered, Status::sent));
    CHECK_FALSE(can_transition(Status::sent, Status::sending));
    CHECK_FALSE(can_transition(Status::sent, Status::sent));
}

TEST_CASE("final failures are final, but a provider may report failure after sent") {
    CHECK(can_transition(Status::sent, Status::failed));
    CHECK(can_transition(Status::sending, Status::failed));
    for (auto from : {Status::failed, Status::cancelled, Status::expired})
        for (int i = 0; i <= static_cast<int>(Status::unknown); ++i) CHECK_FALSE(can_transition(from, static_cast<Status>(i)));
}

TEST_CASE("only what has not gone out can be cancelled, expired or rejected") {
    CHECK(can_transition(Status::queued, Status::cancelled));
    CHECK(can_transition(Status::scheduled, Status::expired));
    CHECK(can_transition(Status::queued, Status::rejected));
    CHECK_FALSE(can_transition(Status::sent, Status::cancelled));
    CHECK_FALSE(can_transition(Status::sent, Status::expired));
    CHECK_FALSE(can_transition(Status::sending, Status::rejected));
}

TEST_CASE("a rejected job can be corrected and queued again, unknown waits for an operator") {
    CHECK(can_transition(Status::rejected, Status::queued));
    CHECK(can_transition(Status::rejected, Status::sending));
    CHECK_FALSE(can_transition(Status::rejected, Status::sent));
    CHECK(can_transition(Status::sending, Status::unknown));
    CHECK(can_transition(Status::unknown, Status::sending));
    CHECK(can_transition(Status::unknown, Status::failed));
    CHECK_FALSE(can_transition(Status::sent, Status::unknown));
}

TEST_CASE("final statuses are those after which the stream entry may be acknowledged") {
    CHECK_FALSE(is_final(Status::queued));
    CHECK_FALSE(is_final(Status::scheduled));
    CHECK_FALSE(is_final(Status::sending));
    for (auto s : {Status::sent, Status::delivered, Status::read, Status::failed, Status::rejected, Status::cancelled,
                   Status::expired, Status::unknown})
        CHECK(is_final(s));
}
