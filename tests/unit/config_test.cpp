#include <doctest/doctest.h>

#include <cstdlib>

#include "daemon/config.hpp"

using namespace crieur;

namespace {
constexpr const char* kMinimal = "[receipts]\npath = \"r.sqlite\"\n[outbox]\ndir = \"outbox\"\n";

std::vector<std::string> problems(const std::string& text) {
    try {
        parse_config(text, "crieur.toml", "/etc/crieur");
    } catch (const ConfigError& e) {
        return e.problems();
    }
    FAIL("the config was accepted: " << text);
    return {};
}
}  // namespace

TEST_CASE("a minimal config takes the defaults, with relative paths from the config's folder") {
    Config c = parse_config(kMinimal, "crieur.toml", "/etc/crieur");
    CHECK(c.redis.host == "127.0.0.1");
    CHECK(c.redis.port == 6379);
    CHECK(c.redis.stream == "crieur:jobs");
    CHECK(c.redis.group == "crieurd");
    CHECK(c.intake.on_crash == OnCrash::resend);
    CHECK(c.receipts.path == "/etc/crieur/r.sqlite");
    CHECK(c.outbox.dir == "/etc/crieur/outbox");
    CHECK(c.http.listen == "127.0.0.1");
}

TEST_CASE("values are read into their sections") {
    Config c = parse_config(std::string(kMinimal) +
                                "[redis]\nport = 6380\nbatch = 100\nmax_deliveries = 3\n[intake]\non_crash = \"unknown\"\n"
                                "[log]\nlevel = \"debug\"\n",
                            "crieur.toml", "/");
    CHECK(c.redis.port == 6380);
    CHECK(c.redis.batch == 100);
    CHECK(c.redis.max_deliveries == 3);
    CHECK(c.intake.on_crash == OnCrash::unknown);
    CHECK(c.log.level == "debug");
}

TEST_CASE("an unknown key stops start-up with its file, line and key") {
    auto p = problems(std::string(kMinimal) + "[redis]\nport = 6380\nbacth = 100\n");
    REQUIRE(p.size() == 1);
    CHECK(p[0] == "crieur.toml:7: redis.bacth: unknown key");
}

TEST_CASE("a wrong type names the expected type") {
    auto p = problems(std::string(kMinimal) + "[redis]\nport = \"6380\"\n");
    REQUIRE(p.size() == 1);
    CHECK(p[0] == "crieur.toml:6: redis.port: expected an integer");
}

TEST_CASE("a value out of range gives the range") {
    auto p = problems(std::string(kMinimal) + "[redis]\nport = 70000\n");
    REQUIRE(p.size() == 1);
    CHECK(p[0] == "crieur.toml:6: redis.port: expected an integer from 1 to 65535");
}

TEST_CASE("a missing required key is reported, and every problem at once") {
    auto p = problems("[outbox]\ndir = 1\n[intake]\non_crash = \"maybe\"\n");
    REQUIRE(p.size() == 3);
    CHECK(p[0] == "crieur.toml:4: intake.on_crash: expected one of: resend, unknown");
    CHECK(p[1] == "crieur.toml:1: receipts.path: required key is missing");
    CHECK(p[2] == "crieur.toml:2: outbox.dir: expected a string");
}

TEST_CASE("an unknown section is refused") {
    auto p = problems(std::string(kMinimal) + "[throttle]\nrate = 5\n");
    REQUIRE(p.size() == 1);
    CHECK(p[0] == "crieur.toml:5: throttle: unknown section");
}

TEST_CASE("a TOML syntax error gives its line") {
    auto p = problems("[redis]\nport = = 1\n");
    REQUIRE(p.size() == 1);
    CHECK(p[0].starts_with("crieur.toml:2: "));
}

TEST_CASE("a secret comes from an environment variable, never from the file") {
    setenv("CRIEUR_TEST_REDIS_PASSWORD", "s3cret", 1);
    Config c = parse_config(std::string(kMinimal) + "[redis]\npassword_env = \"CRIEUR_TEST_REDIS_PASSWORD\"\n",
                            "crieur.toml", "/");
    CHECK(c.redis.password == "s3cret");
    auto inline_secret = problems(std::string(kMinimal) + "[redis]\npassword = \"s3cret\"\n");
    REQUIRE(inline_secret.size() == 1);
    CHECK(inline_secret[0].starts_with("crieur.toml:6: redis.password: secrets are not written in the config"));
    auto missing = problems(std::string(kMinimal) + "[redis]\npassword_env = \"CRIEUR_TEST_NOT_SET\"\n");
    REQUIRE(missing.size() == 1);
    CHECK(missing[0] == "crieur.toml:6: redis.password_env: environment variable CRIEUR_TEST_NOT_SET is not set");
}

TEST_CASE("the shipped example configs are valid") {
    for (const char* file : {CRIEUR_SOURCE_DIR "/config/crieur.toml", CRIEUR_SOURCE_DIR "/config/demo.toml"}) {
        CAPTURE(file);
        CHECK_NOTHROW(load_config(file));
    }
}
