#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "channels/sms/twilio.hpp"
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
    setenv("CRIEUR_DEMO_API_TOKEN", "demo-api-key", 0);  // as tools/quickstart sets it
    for (const char* file : {CRIEUR_SOURCE_DIR "/config/crieur.toml", CRIEUR_SOURCE_DIR "/config/demo.toml"}) {
        CAPTURE(file);
        CHECK_NOTHROW(load_config(file));
    }
}

TEST_CASE("the directory and the router: defaults, values, and errors with their line") {
    Config c = parse_config(kMinimal, "crieur.toml", "/etc/crieur");
    CHECK(c.directory.path == "/etc/crieur/directory.db");  // beside the receipts
    CHECK(c.directory.default_region == "FR");
    CHECK(c.router.consent_required == std::vector<std::string>{"information"});
    CHECK(c.router.escalate_after_s.at("sms") == 1800);
    c = parse_config(std::string(kMinimal) +
                         "[router]\ndefault_order = [\"email\", \"sms\"]\nservice_order = { roads = [\"push\"] }\n"
                         "escalate_after_s = { whatsapp = 60 }\n[directory]\ndefault_region = \"BE\"\npath = \"d.db\"\n",
                     "crieur.toml", "/etc/crieur");
    CHECK(c.router.default_order == std::vector<std::string>{"email", "sms"});
    CHECK(c.router.service_order.at("roads") == std::vector<std::string>{"push"});
    CHECK(c.router.escalate_after_s.size() == 1);  // the table replaces the defaults
    CHECK(c.directory.default_region == "BE");
    CHECK(c.directory.path == "/etc/crieur/d.db");

    CHECK(problems(std::string(kMinimal) + "[router]\ndefault_order = [\"sms\", \"fax\"]\n")[0] ==
          "crieur.toml:6: router.default_order: 'fax' is not one of: sms, email, whatsapp, push");
    CHECK(problems(std::string(kMinimal) + "[router]\nservice_order = { roads = \"sms\" }\n")[0] ==
          "crieur.toml:6: router.service_order.roads: expected an array of strings");
    CHECK(problems(std::string(kMinimal) + "[router]\nescalate_after_s = { sms = 0 }\n")[0] ==
          "crieur.toml:6: router.escalate_after_s.sms: expected an integer from 1 to 2592000");
    CHECK(problems(std::string(kMinimal) + "[router]\nconsent_required = [\"spam\"]\n")[0] ==
          "crieur.toml:6: router.consent_required: 'spam' is not one of: service, information, alert");
    CHECK(problems(std::string(kMinimal) + "[directory]\ndefault_region = \"france\"\n")[0] ==
          "crieur.toml:6: directory.default_region: expected a two-letter country code such as FR");
}

namespace {
// Three SMS and WhatsApp instances, for what is keyed by provider name (their secrets in the environment).
std::string sms_providers() {
    setenv("CRIEUR_CONFIG_TEST_SECRET", "s-123", 1);
    return "[[providers]]\ntype = \"twilio\"\naccount_sid = \"AC1\"\nauth_token_env = \"CRIEUR_CONFIG_TEST_SECRET\"\n"
           "from = \"+33700000000\"\n"
           "[[providers]]\ntype = \"ovh\"\nservice_name = \"sms-1\"\napplication_key = \"k\"\n"
           "application_secret_env = \"CRIEUR_CONFIG_TEST_SECRET\"\nconsumer_key_env = \"CRIEUR_CONFIG_TEST_SECRET\"\n"
           "sender = \"Mairie\"\n"
           "[[providers]]\ntype = \"whatsapp\"\nphone_number_id = \"1\"\naccess_token_env = \"CRIEUR_CONFIG_TEST_SECRET\"\n"
           "app_secret_env = \"CRIEUR_CONFIG_TEST_SECRET\"\n";
}
}  // namespace

TEST_CASE("rate limits: per provider instance, with their errors on their line, the horizon stays below the claim time") {
    const std::string providers = sms_providers();
    Config c = parse_config(std::string(kMinimal) + "[rate_limits]\ntwilio = { per_s = 50, burst = 10 }\n"
                                                     "ovh = { per_s = 5.5, segments = true }\n"
                                                     "whatsapp = { per_s = 80, segments_per_s = 100, segments_burst = 5, recipient_every_s = 6 }\n" +
                                providers,
                            "crieur.toml", "/etc/crieur");
    CHECK(c.rate_limits.providers.at("twilio").per_s == 50);
    CHECK(c.rate_limits.providers.at("whatsapp").segments_per_s == 100);
    CHECK(c.rate_limits.providers.at("whatsapp").segments_burst == 5);
    CHECK(c.rate_limits.providers.at("whatsapp").recipient_every_s == 6);
    CHECK(problems(std::string(kMinimal) + "[rate_limits]\nwhatsapp = { recipient_every_s = 0 }\n" + providers)[0] ==
          "crieur.toml:6: rate_limits.whatsapp.recipient_every_s: expected a number of seconds above 0 (at most 86400)");
    CHECK(problems(std::string(kMinimal) + "[rate_limits]\ntwilio = { per_s = 5, segments = true, segments_per_s = 9 }\n" + providers)[0] ==
          "crieur.toml:6: rate_limits.twilio.segments: per_s in segments and segments_per_s together: give per_s in "
          "messages, or drop segments_per_s");
    CHECK(problems(std::string(kMinimal) + "[rate_limits]\ntwilio = { segments_per_s = -1 }\n" + providers)[0] ==
          "crieur.toml:6: rate_limits.twilio.segments_per_s: expected a number of SMS segments per second above 0");
    CHECK(c.rate_limits.providers.at("twilio").burst == 10);
    CHECK(c.rate_limits.providers.at("ovh").segments);
    CHECK(problems(std::string(kMinimal) + "[rate_limits]\npigeon = { per_s = 1 }\n" + providers)[0] ==
          "crieur.toml:6: rate_limits.pigeon: no provider of that name (configured: outbox, twilio, ovh, whatsapp)");
    CHECK(problems(std::string(kMinimal) + "[rate_limits]\ntwilio = { per_s = 0 }\n" + providers)[0] ==
          "crieur.toml:6: rate_limits.twilio.per_s: expected a number of messages per second above 0");
    CHECK(problems(std::string(kMinimal) + "[redis]\nclaim_after_ms = 1000\n[rate_limits]\ntwilio = { per_s = 1 }\n" + providers)[0] ==
          "crieur.toml: rate_limits.horizon_ms (5000) must be below redis.claim_after_ms (1000): a job waiting for its "
          "slot would be claimed by another daemon");
}

TEST_CASE("providers are instances: two accounts of one type by name, each read by its type, rate limits by name") {
    setenv("CRIEUR_CONFIG_TEST_SECRET", "s-123", 1);
    Config c = parse_config(std::string(kMinimal) +
                                "[rate_limits]\nsms-ccas = { per_s = 2 }\n"
                                "[[providers]]\ntype = \"twilio\"\nname = \"sms-etat-civil\"\naccount_sid = \"AC1\"\n"
                                "auth_token_env = \"CRIEUR_CONFIG_TEST_SECRET\"\nfrom = \"+33700000001\"\nweight = 3\n"
                                "[[providers]]\ntype = \"twilio\"\nname = \"sms-ccas\"\naccount_sid = \"AC2\"\n"
                                "auth_token_env = \"CRIEUR_CONFIG_TEST_SECRET\"\nmessaging_service_sid = \"MG2\"\nmax_connections = 8\n"
                                "[[providers]]\ntype = \"fcm\"\nproject_id = \"ville\"\nservice_account_file = \"sa.json\"\nenabled = false\n",
                            "crieur.toml", "/etc/crieur");
    REQUIRE(c.providers.size() == 2);  // the one switched off is not there
    CHECK(c.providers[0].name == "sms-etat-civil");
    CHECK(c.providers[0].weight == 3);
    CHECK(c.providers[0].settings_as<TwilioConfig>().account_sid == "AC1");
    CHECK(c.providers[0].settings_as<TwilioConfig>().auth_token == "s-123");
    CHECK(c.providers[1].settings_as<TwilioConfig>().messaging_service_sid == "MG2");
    CHECK(c.providers[1].max_connections == 8);
    CHECK(c.providers[0].line == 7);
    CHECK(c.rate_limits.providers.at("sms-ccas").per_s == 2);
    CHECK_FALSE(c.providers[0] == c.providers[1]);
    // The same file read twice gives equal instances (a reload that changed nothing).
    Config again = parse_config(std::string(kMinimal) + "[[providers]]\ntype = \"twilio\"\naccount_sid = \"AC1\"\n"
                                "auth_token_env = \"CRIEUR_CONFIG_TEST_SECRET\"\nfrom = \"+33700000001\"\n", "crieur.toml", "/");
    Config other = parse_config(std::string(kMinimal) + "[[providers]]\ntype = \"twilio\"\naccount_sid = \"AC1\"\n"
                                "auth_token_env = \"CRIEUR_CONFIG_TEST_SECRET\"\nfrom = \"+33700000009\"\n", "crieur.toml", "/");
    CHECK(again.providers == parse_config(std::string(kMinimal) + "[[providers]]\ntype = \"twilio\"\naccount_sid = \"AC1\"\n"
                                          "auth_token_env = \"CRIEUR_CONFIG_TEST_SECRET\"\nfrom = \"+33700000001\"\n", "crieur.toml", "/").providers);
    CHECK_FALSE(again.providers == other.providers);
}

TEST_CASE("a provider entry's problems name its index, key and line, and names are unique and safe in a URL") {
    setenv("CRIEUR_CONFIG_TEST_SECRET", "s-123", 1);
    auto p = problems(std::string(kMinimal) + "[[providers]]\ntype = \"twilio\"\nfrom = \"+33700000001\"\n");
    REQUIRE(p.size() == 2);
    CHECK(p[0] == "crieur.toml:5: providers[0].account_sid: required key is missing");
    CHECK(p[1] == "crieur.toml:5: providers[0].auth_token_env: required (or auth_token_file)");
    CHECK(problems(std::string(kMinimal) + "[[providers]]\ntype = \"pigeon\"\n")[0] ==
          "crieur.toml:6: providers[0].type: 'pigeon' is not a provider type (twilio, ovh, smtp, whatsapp, webpush, fcm)");
    CHECK(problems(std::string(kMinimal) + "[[providers]]\nname = \"x\"\n")[0] ==
          "crieur.toml:5: providers[0].type: required key is missing");
    CHECK(problems(std::string(kMinimal) + "[[providers]]\ntype = \"twilio\"\nname = \"SMS/../x\"\n")[0] ==
          "crieur.toml:7: providers[0].name: expected lower-case letters, digits, '-' and '_' (at most 63), not \"outbox\"");
    const std::string twilio = "[[providers]]\ntype = \"twilio\"\naccount_sid = \"AC1\"\n"
                               "auth_token_env = \"CRIEUR_CONFIG_TEST_SECRET\"\nfrom = \"+33700000001\"\n";
    CHECK(problems(std::string(kMinimal) + twilio + twilio)[0] ==
          "crieur.toml:10: providers[1].name: 'twilio' is already the name of the provider at line 5: each instance "
          "needs its own name");
    CHECK(problems(std::string(kMinimal) + twilio + "colour = \"blue\"\n")[0] == "crieur.toml:10: providers[0].colour: unknown key");
}

TEST_CASE("the older one-section-per-type form is still read, as an instance named after its type, and said so") {
    setenv("CRIEUR_CONFIG_TEST_SECRET", "s-123", 1);
    Config c = parse_config(std::string(kMinimal) +
                                "[providers]\nmax_connections = 12\n"
                                "[twilio]\nenabled = true\naccount_sid = \"AC1\"\nauth_token_env = \"CRIEUR_CONFIG_TEST_SECRET\"\n"
                                "from = \"+33700000001\"\nweight = 2\n"
                                "[ovh]\nenabled = false\nanything = 1\n"
                                "[smtp]\nunsubscribe_url = \"https://m.example.fr/u\"\nunsubscribe_secret_env = \"CRIEUR_CONFIG_TEST_SECRET\"\n",
                            "crieur.toml", "/");
    REQUIRE(c.providers.size() == 1);
    CHECK(c.providers[0].name == "twilio");
    CHECK(c.providers[0].weight == 2);
    CHECK(c.provider_defaults.max_connections == 12);
    CHECK(c.links.unsubscribe_url == "https://m.example.fr/u");  // the links lived in [smtp]
    CHECK(c.links.secret == "s-123");
    CHECK(std::count(c.notices.begin(), c.notices.end(),
                     "crieur.toml:7: [twilio] is read as [[providers]] type = \"twilio\", name = \"twilio\"") == 1);
    CHECK(problems(std::string(kMinimal) + "[links]\nunsubscribe_url = \"https://m.example.fr/u\"\n")[0] ==
          "crieur.toml:5: links.secret_env: required (or secret_file) with unsubscribe_url or tracking_url: it signs the links");
}

TEST_CASE("a listener reachable from other machines without an API key stops start-up, naming the line") {
    auto p = problems(std::string(kMinimal) + "[http]\nport = 8080\nlisten = \"0.0.0.0\"\n");
    REQUIRE(p.size() == 1);
    CHECK(p[0].starts_with("crieur.toml:7: http.listen: 0.0.0.0 is reachable from other machines"));
    CHECK(problems(std::string(kMinimal) + "[http]\nlisten = \"mairie.local\"\n")[0] ==
          "crieur.toml:6: http.listen: 'mairie.local' is not an IP address (127.0.0.1, ::1, 0.0.0.0, ...)");
    // Loopback, or a key: accepted.
    CHECK(parse_config(std::string(kMinimal) + "[http]\nlisten = \"::1\"\n", "crieur.toml", "/").http.listen == "::1");
    setenv("CRIEUR_CONFIG_TEST_KEY", "k-123", 1);
    CHECK(parse_config(std::string(kMinimal) + "[http]\nlisten = \"0.0.0.0\"\napi_token_env = \"CRIEUR_CONFIG_TEST_KEY\"\n",
                       "crieur.toml", "/")
              .http.api_token == "k-123");
}

TEST_CASE("an empty API key file or variable is a config error, not an open API") {
    const std::string path = "/tmp/crieur-config-test-empty-key";
    std::ofstream(path) << "\n";
    auto p = problems(std::string(kMinimal) + "[http]\napi_token_file = \"" + path + "\"\n");
    REQUIRE(p.size() == 1);
    CHECK(p[0] == "crieur.toml:6: http.api_token_file: " + path + " is empty: an empty secret would open what it guards");
    std::remove(path.c_str());
    setenv("CRIEUR_CONFIG_TEST_EMPTY", "", 1);
    p = problems(std::string(kMinimal) + "[http]\napi_token_env = \"CRIEUR_CONFIG_TEST_EMPTY\"\n");
    REQUIRE(p.size() == 1);
    CHECK(p[0] == "crieur.toml:6: http.api_token_env: environment variable CRIEUR_CONFIG_TEST_EMPTY is empty");
}

TEST_CASE("retention: 7 and 90 days by default, days never shorter than personal_days, 0 keeps for ever and says so") {
    Config c = parse_config(kMinimal, "crieur.toml", "/");
    CHECK(c.retention.personal_days == 7);
    CHECK(c.retention.days == 90);
    CHECK(c.retention.trim_streams);
    auto p = problems(std::string(kMinimal) + "[retention]\npersonal_days = 30\ndays = 10\n");
    REQUIRE(p.size() == 1);
    CHECK(p[0].rfind("crieur.toml:7: retention.days: days = 10 removes receipts before their personal fields are due", 0) == 0);
    Config forever = parse_config(std::string(kMinimal) + "[retention]\npersonal_days = 0\ndays = 0\n", "crieur.toml", "/");
    CHECK(forever.retention.days == 0);
    CHECK(std::count_if(forever.notices.begin(), forever.notices.end(),
                        [](const std::string& n) { return n.find("kept for ever") != std::string::npos; }) == 2);
    // Personal fields kept until the receipts go: allowed. A batch too small: its range.
    CHECK(parse_config(std::string(kMinimal) + "[retention]\npersonal_days = 0\n", "crieur.toml", "/").retention.days == 90);
    CHECK(problems(std::string(kMinimal) + "[retention]\nbatch = 5\n") ==
          std::vector<std::string>{"crieur.toml:6: retention.batch: expected an integer from 10 to 10000"});
}

TEST_CASE("the public listener: a port of its own, and one listener for all said at start-up") {
    Config one = parse_config(kMinimal, "crieur.toml", "/");
    CHECK(one.http.public_port == 0);
    CHECK(std::count_if(one.notices.begin(), one.notices.end(),
                        [](const std::string& n) { return n.rfind("http.public_port is not set", 0) == 0; }) == 1);
    Config two = parse_config(std::string(kMinimal) + "[http]\npublic_port = 8081\n", "crieur.toml", "/");
    CHECK(two.http.public_port == 8081);
    CHECK(std::none_of(two.notices.begin(), two.notices.end(),
                       [](const std::string& n) { return n.find("public_port") != std::string::npos; }));
    CHECK(problems(std::string(kMinimal) + "[http]\nport = 8080\npublic_port = 8080\n") ==
          std::vector<std::string>{"crieur.toml:7: http.public_port: 8080 is http.port too: the public listener needs a port of its own"});
    CHECK(problems(std::string(kMinimal) + "[http]\npublic_listen = \"here\"\npublic_port = 8081\n")[0] ==
          "crieur.toml:6: http.public_listen: 'here' is not an IP address");
}

TEST_CASE("Redis Sentinel: host:port of each sentinel and the set's name, host and port then refused, each error on its line") {
    Config c = parse_config(std::string(kMinimal) + "[redis]\nsentinels = [\"10.0.0.1:26379\", \"[::1]:26380\"]\nmaster_name = \"crieur\"\n",
                            "crieur.toml", "/");
    CHECK(c.redis.sentinels == std::vector<std::string>{"10.0.0.1:26379", "[::1]:26380"});
    CHECK(c.redis.master_name == "crieur");
    auto p = problems(std::string(kMinimal) + "[redis]\nsentinels = [\"10.0.0.1\"]\n");
    REQUIRE(p.size() == 2);
    CHECK(p[0] == "crieur.toml:6: redis.sentinels: \"10.0.0.1\" is not host:port (an IPv6 address as [::1]:26379)");
    CHECK(p[1].starts_with("crieur.toml:5: redis.master_name: required with sentinels"));
    p = problems(std::string(kMinimal) + "[redis]\nhost = \"10.0.0.9\"\nsentinels = [\"10.0.0.1:26379\"]\nmaster_name = \"m\"\n");
    REQUIRE(p.size() == 1);
    CHECK(p[0] == "crieur.toml:6: redis.host: not used with sentinels (they name the primary): remove it");
    p = problems(std::string(kMinimal) + "[redis]\nmaster_name = \"m\"\n");
    REQUIRE(p.size() == 1);
    CHECK(p[0] == "crieur.toml:6: redis.master_name: needs sentinels = [\"host:port\", ...]");
}

TEST_CASE("the dashboard's keys are read and checked: a tile URL without its placeholders, a proxy that is no address") {
    Config c = parse_config(std::string(kMinimal) +
                                "[http]\nui_session_idle_s = 600\nui_trusted_proxies = [\"10.0.0.1\", \"::1\"]\n"
                                "ui_tiles_url = \"https://tiles.example.org/{z}/{x}/{y}.png\"\nui_town_name = \"Mairie de Lyon\"\n",
                            "crieur.toml", "/");
    CHECK(c.http.ui_session_idle_s == 600);
    CHECK(c.http.ui_session_max_s == 43200);
    CHECK(c.http.ui_trusted_proxies == std::vector<std::string>{"10.0.0.1", "::1"});
    CHECK(c.http.ui_town_name == "Mairie de Lyon");
    auto p = problems(std::string(kMinimal) + "[http]\nui_tiles_url = \"https://tiles.example.org/map.png\"\n");
    REQUIRE(p.size() == 1);
    CHECK(p[0].starts_with("crieur.toml:6: http.ui_tiles_url: expected a tile URL with {z}, {x} and {y}"));
    p = problems(std::string(kMinimal) + "[http]\nui_trusted_proxies = [\"proxy.lan\"]\n");
    REQUIRE(p.size() == 1);
    CHECK(p[0] == "crieur.toml:6: http.ui_trusted_proxies: 'proxy.lan' is not an IP address (the proxy's, as crieurd sees it)");
}
