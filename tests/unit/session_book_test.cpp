#include <doctest/doctest.h>

#include <set>
#include <vector>

#include "daemon/ui/session_book.hpp"

using namespace crieur::ui;

TEST_CASE("a dashboard session ends after its idle time or its whole life, and a self-refreshing page keeps none alive") {
    SessionBook book(/*idle*/ 1000, /*max*/ 5000);
    const std::string token = book.open("lea", Role::agent, 0);
    CHECK(token.size() == 43);
    const Session* s = book.find(token, 900);
    REQUIRE(s);
    CHECK(s->operator_name == "lea");
    CHECK(s->csrf.size() == 43);
    CHECK(s->csrf != token);
    CHECK(book.find(token, 1800));  // 900 ms after the last request
    // A page refreshing itself (touch = false) is not a request of the agent's.
    CHECK(book.find(token, 2700, false));
    CHECK_FALSE(book.find(token, 2900));  // 1100 ms after 1800
    CHECK(book.size() == 0);

    const std::string busy = book.open("lea", Role::agent, 0);
    for (int t = 900; t < 5000; t += 900) CHECK(book.find(busy, t));
    CHECK_FALSE(book.find(busy, 5000));  // active all along, but 5 s after it opened
    CHECK_FALSE(book.find("made-up", 0));
}

TEST_CASE("dashboard sessions are closed one by one, by account, and swept when expired") {
    SessionBook book(1000, 10'000);
    const auto a = book.open("lea", Role::agent, 0), b = book.open("vic", Role::viewer, 0), c = book.open("vic", Role::viewer, 500);
    CHECK(a != b);
    book.close(a);
    CHECK_FALSE(book.find(a, 10));
    book.retain([](const Session& s) { return s.operator_name != "vic" || s.opened_ms > 0; });
    CHECK_FALSE(book.find(b, 10));
    CHECK(book.find(c, 600));
    book.sweep(2000);
    CHECK(book.size() == 0);
}

TEST_CASE("random tokens do not repeat and compare only when equal") {
    std::set<std::string> seen;
    for (int i = 0; i < 1000; ++i) seen.insert(random_token());
    CHECK(seen.size() == 1000);
    const auto t = random_token();
    CHECK(same_token(t, t));
    CHECK_FALSE(same_token(t, t.substr(1)));
    CHECK_FALSE(same_token("", ""));
}

TEST_CASE("sign-ins are refused past 5 failures per name or 20 per address within the window, until it passes") {
    LoginThrottle throttle({5, 20, 60'000});
    for (int i = 0; i < 4; ++i) throttle.failed("lea", "10.0.0.1", i * 1000);
    CHECK(throttle.wait_ms("lea", "10.0.0.1", 4500) == 0);
    throttle.failed("lea", "10.0.0.1", 5000);
    CHECK(throttle.wait_ms("lea", "10.0.0.1", 5000) == 55'000);  // until the first failure (at 0) is a window old
    CHECK(throttle.wait_ms("lea", "10.0.0.9", 5000) == 55'000);  // the name, from anywhere
    CHECK(throttle.wait_ms("vic", "10.0.0.1", 5000) == 0);       // another name from that address: not yet
    CHECK(throttle.wait_ms("lea", "10.0.0.1", 60'500) == 0);     // the first failure aged out
    // Many names from one address.
    for (int i = 0; i < 20; ++i) throttle.failed("name" + std::to_string(i), "10.0.0.2", 70'000);
    CHECK(throttle.wait_ms("anyone", "10.0.0.2", 70'001) > 0);
    CHECK(throttle.wait_ms("anyone", "10.0.0.3", 70'001) == 0);
    // A success clears the name's failures.
    for (int i = 0; i < 5; ++i) throttle.failed("zoe", "10.0.0.4", 80'000);
    CHECK(throttle.wait_ms("zoe", "10.0.0.4", 80'001) > 0);
    throttle.succeeded("zoe");
    CHECK(throttle.wait_ms("zoe", "10.0.0.5", 80'002) == 0);
}

TEST_CASE("an operator has at most 20 sessions: the least recently used ends first") {
    SessionBook book(60'000, 600'000);
    std::vector<std::string> tokens;
    for (int i = 0; i < 20; ++i) tokens.push_back(book.open("lea", Role::agent, i));
    book.find(tokens[0], 100);  // used again: now the most recent
    const auto other = book.open("vic", Role::viewer, 100);
    const auto extra = book.open("lea", Role::agent, 200);
    CHECK(book.size() == 21);
    CHECK(book.find(tokens[0], 300));
    CHECK_FALSE(book.find(tokens[1], 300));  // the least recently used of lea's
    CHECK(book.find(tokens[2], 300));
    CHECK(book.find(extra, 300));
    CHECK(book.find(other, 300));
}
