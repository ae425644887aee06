// API keys (daemon/keys/api_keys.hpp): minting, checking, the keys file. Pure but for a temp file.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include <sys/stat.h>
#include <unistd.h>

#include "daemon/keys/api_keys.hpp"

using namespace crieur;
using namespace crieur::keys;

namespace {
constexpr Scopes kRead = static_cast<Scopes>(Scope::read);
}

TEST_CASE("a minted key is checked by its secret, its flavour, its expiry and its revocation") {
    auto m = mint("etat-civil", "registry", kRead | static_cast<Scopes>(Scope::send), false, 1000, 5000);
    CHECK(m.token.rfind("crieur_live_" + m.key.id + "_", 0) == 0);
    CHECK(m.token.size() == 12 + 16 + 1 + 43);
    CHECK(m.token.find(m.key.secret_sha256) == std::string::npos);
    KeyRing ring({m.key});
    auto ok = ring.authenticate("Bearer " + m.token, 2000);
    REQUIRE(std::holds_alternative<Caller>(ok));
    const Caller& c = std::get<Caller>(ok);
    CHECK(c.service == "etat-civil");
    CHECK(c.has(Scope::send));
    CHECK(c.has(Scope::read));
    CHECK_FALSE(c.has(Scope::cancel));
    CHECK_FALSE(c.every_service());

    auto refused = [&](const std::string& header, std::int64_t now) {
        auto r = ring.authenticate(header, now);
        return std::holds_alternative<Refusal>(r) ? std::get<Refusal>(r).reason : std::string("accepted");
    };
    CHECK(refused("Bearer " + m.token, 5000) == "the API key " + m.key.id + " has expired");
    std::string wrong = m.token;
    wrong.back() = wrong.back() == 'A' ? 'B' : 'A';
    CHECK(refused("Bearer " + wrong, 2000) == "the API key is not valid");
    CHECK(refused("Bearer crieur_test_" + m.token.substr(12), 2000) == "the API key is not valid");
    CHECK(refused("Bearer crieur_live_0000000000000000_" + m.token.substr(29), 2000) == "the API key is not valid");
    CHECK(refused("Bearer short", 2000) == "the API key is not valid");
    CHECK(refused("Basic " + m.token, 2000) == "an API key is required (Authorization: Bearer <key>)");

    ApiKey revoked = m.key;
    revoked.revoked_ms = 1500;
    CHECK(std::get<Refusal>(KeyRing({revoked}).authenticate("Bearer " + m.token, 2000)).reason ==
          "the API key " + m.key.id + " was revoked");
    CHECK(std::get<Refusal>(KeyRing().authenticate("", 0)).reason.find("none is configured") != std::string::npos);
}

TEST_CASE("a test key is a test key, and the operators' token is every scope on every service") {
    auto t = mint("social", "", kRead, true, 0, 0);
    CHECK(t.token.rfind("crieur_test_", 0) == 0);
    KeyRing ring({t.key}, "operators-token");
    CHECK(std::get<Caller>(ring.authenticate("Bearer " + t.token, 1)).test);
    auto op = std::get<Caller>(ring.authenticate("Bearer operators-token", 1));
    CHECK(op.every_service());
    CHECK(op.has(Scope::citizens_write));
    CHECK(std::holds_alternative<Refusal>(ring.authenticate("Bearer operators-token2", 1)));
}

TEST_CASE("scopes are read by name, and an unknown one is named") {
    std::string bad;
    CHECK(parse_scopes("send, read,citizens:read") ==
          (static_cast<Scopes>(Scope::send) | kRead | static_cast<Scopes>(Scope::citizens_read)));
    CHECK_FALSE(parse_scopes("send,citizens:reed", &bad));
    CHECK(bad == "citizens:reed");
    CHECK_FALSE(parse_scopes("", &bad));
    CHECK(format_scopes(static_cast<Scopes>(Scope::events) | kRead) == "read,events");
}

TEST_CASE("the keys file: written with mode 0600, read back the same, a bad line named with its file and number") {
    const auto dir = std::filesystem::temp_directory_path() / ("crieur-keys-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const std::string path = (dir / "keys.jsonl").string();
    auto a = mint("etat-civil", "registry \"main\"", kRead, false, 10, 0);
    auto b = mint("", "on call", static_cast<Scopes>(Scope::operator_), false, 11, 99);
    write_key_file(path, {a.key, b.key});
    CHECK((std::filesystem::status(path).permissions() & (std::filesystem::perms::group_all | std::filesystem::perms::others_all)) ==
          std::filesystem::perms::none);
    auto read = read_key_file(path);
    CHECK(read.error.empty());
    REQUIRE(read.keys.size() == 2);
    CHECK(read.keys[0] == a.key);
    CHECK(read.keys[1] == b.key);

    std::ofstream(path, std::ios::app) << R"({"id":"0123456789abcdef","scopes":"read","secret_sha256":")" << std::string(64, 'a') << "\"}\n";
    read = read_key_file(path);
    CHECK(read.error == path + ":4: service: missing (only an operator key serves every service)");
    CHECK(read.keys.empty());
    CHECK(read_key_file((dir / "none.jsonl").string()).error.empty());  // no file yet: no keys
    if (::geteuid() == 0) {  // root rewriting the daemon user's file leaves it theirs
        REQUIRE(::chown(path.c_str(), 65534, 65534) == 0);
        write_key_file(path, {a.key});
        struct stat after {};
        REQUIRE(::stat(path.c_str(), &after) == 0);
        CHECK(after.st_uid == 65534);
        CHECK(after.st_gid == 65534);
    }
    std::filesystem::remove_all(dir);
}
