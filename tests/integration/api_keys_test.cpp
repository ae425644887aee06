// API keys per service (issue 13): keys made by `crieur keys`, checked by crieurd against a real
// Redis and receipts database, reloaded on SIGHUP.
#include <doctest/doctest.h>

#include "support/daemon_fixture.hpp"

using namespace crieur;
using namespace crieur::test;
using namespace std::chrono_literals;

namespace {
std::string id_of(const std::string& token) { return token.substr(12, 16); }  // crieur_live_<id>_<secret>
}  // namespace

TEST_CASE("API keys: a service sees its own messages only, each route asks for its scope, keys change on SIGHUP") {
    TempDir dir;
    RedisServer redis(dir / "redis");
    DaemonOptions options;
    options.extra_http = "keys_file = \"keys.jsonl\"\n";
    DaemonUnderTest daemon(dir, redis, options);
    const std::string registry = create_api_key(daemon, dir, {"--service", "etat-civil", "--scopes", "read", "--name", "registry"});
    const std::string social = create_api_key(daemon, dir, {"--service", "social", "--scopes", "read,cancel"});
    const std::string sender = create_api_key(daemon, dir, {"--service", "etat-civil", "--scopes", "send"});
    const std::string ops = create_api_key(daemon, dir, {"--operator", "--name", "on call"});
    std::string out;
    REQUIRE(run_cli(daemon, dir, {"keys", "list"}, out) == 0);
    CHECK(out.find(id_of(registry) + "  etat-civil") != std::string::npos);
    CHECK(out.find(registry.substr(29)) == std::string::npos);  // the secret is shown once, never listed
    CHECK(read_file(dir / "keys.jsonl").find(registry.substr(29)) == std::string::npos);
    CHECK((std::filesystem::status(dir / "keys.jsonl").permissions() & std::filesystem::perms::others_read) ==
          std::filesystem::perms::none);

    auto client = redis.client();
    enqueue(client, {sms_job("k-civil"), R"({"v":1,"id":"k-social","service":"social","template":"passport_expiry","to":{"sms":"+33612345678"},"data":)" +
                                             std::string(kPassportData) + "}"});
    daemon.start();
    REQUIRE(wait_until([&] { return daemon.query("SELECT count(*) FROM messages WHERE status = 'sent'") == 2; }, 10s));

    CHECK(request_as(daemon, registry, "GET", "/v1/messages/k-civil").status == 200);
    const HttpResult others = request_as(daemon, social, "GET", "/v1/messages/k-civil");
    CHECK(others.status == 404);  // another service's message does not exist for this key
    CHECK(others.body.find("no message with id k-civil") != std::string::npos);
    CHECK(request_as(daemon, social, "GET", "/v1/messages/k-social").status == 200);
    CHECK(request_as(daemon, social, "POST", "/v1/messages/k-civil/cancel").status == 404);
    const HttpResult scope = request_as(daemon, sender, "GET", "/v1/messages/k-civil");
    CHECK(scope.status == 403);
    CHECK(scope.body.find("lacks the scope 'read'") != std::string::npos);
    CHECK(request_as(daemon, registry, "GET", "/metrics").status == 403);  // the operators'
    CHECK(request_as(daemon, registry, "GET", "/v1/citizens/C-1").status == 403);
    CHECK(request_as(daemon, ops, "GET", "/metrics").status == 200);
    CHECK(request_as(daemon, ops, "GET", "/v1/messages/k-social").status == 200);
    CHECK(request_as(daemon, kTestApiToken, "GET", "/v1/messages/k-civil").status == 200);  // http.api_token: an operator
    CHECK(request_as(daemon, "", "GET", "/v1/messages/k-civil").status == 401);
    CHECK(request_as(daemon, registry.substr(0, registry.size() - 1) + "x", "GET", "/v1/messages/k-civil").status == 401);
    CHECK(request_as(daemon, "crieur_test_" + registry.substr(12), "GET", "/v1/messages/k-civil").status == 401);

    // Revoked, and a new key: both wait for the reload.
    REQUIRE(run_cli(daemon, dir, {"keys", "revoke", id_of(registry)}, out) == 0);
    const std::string later = create_api_key(daemon, dir, {"--service", "etat-civil", "--scopes", "read"});
    CHECK(request_as(daemon, registry, "GET", "/v1/messages/k-civil").status == 200);
    CHECK(request_as(daemon, later, "GET", "/v1/messages/k-civil").status == 401);
    daemon.process().signal(SIGHUP);
    REQUIRE(wait_until([&] { return request_as(daemon, later, "GET", "/v1/messages/k-civil").status == 200; }, 5s));
    const HttpResult revoked = request_as(daemon, registry, "GET", "/v1/messages/k-civil");
    CHECK(revoked.status == 401);
    CHECK(revoked.body.find("was revoked") != std::string::npos);
    REQUIRE(run_cli(daemon, dir, {"keys", "list"}, out) == 0);
    CHECK(out.find(id_of(registry) + "  etat-civil       live     read                           ") != std::string::npos);
    CHECK(daemon.stop() == 0);
}

TEST_CASE("API keys: a broken keys file stops start-up with its file and line, and a listener open to others needs a key") {
    TempDir dir;
    RedisServer redis(dir / "redis");
    DaemonOptions options;
    options.extra_http = "keys_file = \"keys.jsonl\"\n";
    DaemonUnderTest daemon(dir, redis, options);
    std::ofstream(dir / "keys.jsonl") << "# comment\n"
                                         R"({"id":"0123456789abcdef","service":"s","scopes":"send,raed","secret_sha256":"00"})" "\n";
    Process check({CRIEURD_PATH, "--check-config", daemon.config()}, dir / "check.log", daemon.env());
    CHECK(check.wait(10s) != 0);
    CHECK(read_file(dir / "check.log").find("keys.jsonl:2: secret_sha256: not a SHA-256 in hex") != std::string::npos);

    std::ofstream(dir / "open.toml") << "[receipts]\npath = \"r.sqlite\"\n[outbox]\ndir = \"o\"\n[http]\nlisten = \"0.0.0.0\"\n";
    Process open({CRIEURD_PATH, "--check-config", dir / "open.toml"}, dir / "open.log");
    CHECK(open.wait(10s) != 0);
    CHECK(read_file(dir / "open.log").find("set http.keys_file (crieur keys create)") != std::string::npos);
}
