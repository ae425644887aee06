// The crieur CLI against a real Redis and a real receipts database.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "support/daemon_fixture.hpp"
#include "daemon/ui/operators.hpp"

using namespace crieur;
using namespace crieur::test;
using namespace std::chrono_literals;

namespace {
int cli(const DaemonUnderTest& d, const TempDir& dir, std::vector<std::string> args, std::string& out) {
    static int n = 0;
    const std::string log = dir / ("cli-" + std::to_string(++n) + ".log");
    args.insert(args.begin(), {CRIEUR_CLI_PATH, "--config", d.config()});
    Process p(args, log, d.env());
    const int rc = p.wait(30s);
    out = read_file(log);
    return rc;
}
}  // namespace

TEST_CASE("crieur enqueue queues valid JSON lines, urgent ones on the urgent stream, and names the invalid ones by line") {
    TempDir dir;
    RedisServer redis(dir / "redis");
    DaemonUnderTest daemon(dir, redis);
    std::ofstream(dir / "jobs.jsonl") << sms_job("cli-1") << "\n\n" << sms_job("cli-2") << "\n"
                                      << R"({"v":1,"id":"cli-3","service":"s"})" << "\n"
                                      << R"({"v":1,"id":"cli-4","service":"s","template":"passport_expiry","to":{"sms":"+33612345678"},"data":{"name":"Martin"}})" << "\n"
                                      << sms_job("cli-5", R"(,"priority":"urgent")") << "\n";
    std::string out;
    CHECK(cli(daemon, dir, {"enqueue", dir / "jobs.jsonl"}, out) == 1);
    CHECK(out.find("jobs.jsonl:4: missing required field 'template'") != std::string::npos);
    CHECK(out.find("jobs.jsonl:5: missing data for template 'passport_expiry': booking_url, document, expires_on") != std::string::npos);
    CHECK(out.find("queued 3 jobs on crieur:jobs (1 urgent on crieur:jobs:urgent)") != std::string::npos);
    auto client = redis.client();
    CHECK(client.integer({"XLEN", "crieur:jobs"}) == 2);
    CHECK(client.integer({"XLEN", "crieur:jobs:urgent"}) == 1);
}

TEST_CASE("crieur status shows a message's attempts, dead list and requeue bring a fixed job back") {
    TempDir dir;
    RedisServer redis(dir / "redis");
    DaemonUnderTest daemon(dir, redis);
    auto client = redis.client();
    enqueue(client, {sms_job("st-1"), R"({"v":1,"id":"st-2","service":"s","template":"passport_expiry","to":{"sms":"+33612345678"},"prority":"bulk"})"});
    daemon.start();
    REQUIRE(wait_until([&] { return pending_count(client) == 0 && client.integer({"XLEN", "crieur:dead"}) == 1; }, 10s));
    std::string out;
    REQUIRE(wait_until([&] { return cli(daemon, dir, {"status", "st-1"}, out) == 0; }, 5s));
    CHECK(out.find("st-1  sent") != std::string::npos);
    CHECK(out.find("attempt 1  sms via outbox  accepted") != std::string::npos);
    CHECK(cli(daemon, dir, {"status", "nope"}, out) == 1);

    CHECK(cli(daemon, dir, {"dead", "list"}, out) == 0);
    CHECK(out.find("job st-2  job_unknown_field: unknown field 'prority'") != std::string::npos);
    const std::string entry = out.substr(0, out.find(' '));
    CHECK(cli(daemon, dir, {"dead", "requeue", entry}, out) == 0);
    CHECK(client.integer({"XLEN", "crieur:dead"}) == 1);  // requeued as is: rejected again, a new dead entry
    REQUIRE(wait_until([&] { return pending_count(client) == 0 && entries_added(client) == 3; }, 10s));
    CHECK(daemon.stop() == 0);
}

TEST_CASE("crieur template preview shows the SMS cost as sent and as written, and --json says the same") {
    TempDir dir;
    std::string out;
    Process q({CRIEUR_CLI_PATH, "template", "check", CRIEUR_SOURCE_DIR "/templates"}, dir / "check.log");
    CHECK(q.wait(30s) == 0);
    CHECK(read_file(dir / "check.log").find("passport_expiry") != std::string::npos);

    std::ofstream(dir / "crieur.toml") << "[receipts]\npath = \"r.sqlite\"\n[outbox]\ndir = \"o\"\n[templates]\ndir = \"" CRIEUR_SOURCE_DIR "/templates\"\n";
    Process text({CRIEUR_CLI_PATH, "--config", dir / "crieur.toml", "template", "preview", "passport_expiry",
                  "--channel", "sms", "--locale", "fr-FR", "--example"},
                 dir / "text.log");
    CHECK(text.wait(30s) == 0);
    out = read_file(dir / "text.log");
    CHECK(out.find("Madame Martin, votre passeport expire le 14 mars 2027.") != std::string::npos);
    CHECK(out.find("gsm7, 159 characters, 1 segment") != std::string::npos);
    CHECK(out.find("as written (policy fidelity): ucs2, 159 characters, 3 segments") != std::string::npos);
    Process json({CRIEUR_CLI_PATH, "--config", dir / "crieur.toml", "template", "preview", "passport_expiry",
                  "--channel", "sms", "--example", "--json"},
                 dir / "json.log");
    CHECK(json.wait(30s) == 0);
    out = read_file(dir / "json.log");
    CHECK(out.find(R"("encoding":"gsm7","segments":1,"characters":159)") != std::string::npos);
}

TEST_CASE("crieur template render follows the spec's escaping and partials for any file") {
    TempDir dir;
    std::filesystem::create_directories(dir / "partials");
    std::ofstream(dir / "t.mustache") << "Hi {{name}} {{{name}}}\n{{#items}}\n  {{> item}}\n{{/items}}\n";
    std::ofstream(dir / "partials/item.mustache") << "- {{.}}\n";
    std::ofstream(dir / "d.json") << R"({"name":"<Tom>","items":["a","b"]})";
    Process p({CRIEUR_CLI_PATH, "template", "render", dir / "t.mustache", "--data", dir / "d.json", "--partials",
               dir / "partials"},
              dir / "out.log");
    CHECK(p.wait(30s) == 0);
    CHECK(read_file(dir / "out.log") == "Hi &lt;Tom&gt; <Tom>\n  - a\n  - b\n");
    std::ofstream(dir / "bad.mustache") << "{{#open}}\nnever closed\n";
    Process bad({CRIEUR_CLI_PATH, "template", "render", dir / "bad.mustache", "--data", dir / "d.json"}, dir / "bad.log");
    CHECK(bad.wait(30s) == 1);
    CHECK(read_file(dir / "bad.log").find("bad.mustache:1:1: section 'open' is never closed") != std::string::npos);
}

TEST_CASE("crieurd refuses to start on an invalid template set and says where") {
    TempDir dir;
    std::filesystem::create_directories(dir / "templates/notice/fr");
    std::ofstream(dir / "templates/notice/manifest.toml")
        << "default_locale = \"fr\"\nlocales = [\"fr\"]\nchannels = [\"sms\"]\n[variables]\n"
           "name = { type = \"string\", example = \"Martin\" }\n";
    std::ofstream(dir / "templates/notice/fr/sms.mustache") << "Bonjour {{nom}}\n";
    std::ofstream(dir / "crieur.toml") << "[receipts]\npath = \"r.sqlite\"\n[outbox]\ndir = \"o\"\n[templates]\ndir = \"templates\"\n";
    Process check({CRIEURD_PATH, "--check-config", dir / "crieur.toml"}, dir / "check.log");
    CHECK(check.wait(30s) == 78);
    const std::string log = read_file(dir / "check.log");
    CHECK(log.find("notice/fr/sms.mustache:1:9: variable 'nom' is used but not declared in manifest.toml") != std::string::npos);
    CHECK(log.find("variables.name: declared but never used") != std::string::npos);
}

TEST_CASE("crieur citizens import: mixed good and bad lines, each bad one named, dry run writes nothing") {
    TempDir dir;
    RedisServer redis(dir / "redis");
    DaemonUnderTest daemon(dir, redis);
    std::ofstream(dir / "citizens.csv")
        << "id,given_name,family_name,sms,email,channels,consent_information\n"
        << "C-1,Marie,Martin,06 12 34 56 78,marie@example.fr,sms;email,email\n"   // 2
        << "C-2,Paul,\"Durand, fils\",+33 7 81 23 45 67,,sms,\n"                    // 3 quoted comma
        << "C-3,Léa,Petit,0033 6 11 22 33 44,lea@example.fr,,\n"                    // 4
        << "C-4,Ana,Silva,+351 912 345 678,ana@example.pt,email;sms,\n"             // 5 foreign
        << "C-5,Tom,Lenoir,06.55.44.33.22,tom@example,,\n"                          // 6 bad e-mail
        << "C-6,Zoé,Roux,06 12,,,\n"                                                // 7 bad number
        << "C-7,Eve,Blanc,,,fax,\n"                                                 // 8 bad channel
        << "C 8,Léo,Noir,,,,\n"                                                     // 9 bad id
        << "C-9,Ian,\"Gris\nde Lyon\",(0)6 10 20 30 40,,,\n"                        // 10-11 a quoted line break
        << "C-10,Max,Vert,06 99 88 77 66,,,\n";                                     // 12
    std::string out;
    CHECK(cli(daemon, dir, {"citizens", "import", dir / "citizens.csv", "--dry-run"}, out) == 1);
    CHECK(out.find("dry run, 10 lines: 6 created, 0 updated, 4 rejected (nothing written)") != std::string::npos);
    CHECK(cli(daemon, dir, {"citizens", "show", "C-1"}, out) == 1);  // nothing written
    CHECK(out.find("no citizen 'C-1'") != std::string::npos);

    CHECK(cli(daemon, dir, {"citizens", "import", dir / "citizens.csv"}, out) == 1);
    CHECK(out.find("citizens.csv:6: email: the domain is not a dotted host name") != std::string::npos);
    CHECK(out.find("citizens.csv:7: sms: not a valid number for its country") != std::string::npos);
    CHECK(out.find("citizens.csv:8: channels: unknown channel 'fax' (sms, email, whatsapp, push)") != std::string::npos);
    CHECK(out.find("citizens.csv:9: id: only letters, digits and - _ . : may stand in an id") != std::string::npos);
    CHECK(out.find("10 lines: 6 created, 0 updated, 4 rejected") != std::string::npos);
    REQUIRE(cli(daemon, dir, {"citizens", "show", "C-3"}, out) == 0);
    CHECK(out.find(R"("address":"+33611223344")") != std::string::npos);
    REQUIRE(cli(daemon, dir, {"citizens", "show", "C-4"}, out) == 0);
    CHECK(out.find(R"("address":"+351912345678")") != std::string::npos);
    REQUIRE(cli(daemon, dir, {"citizens", "show", "C-9"}, out) == 0);
    CHECK(out.find(R"("family_name":"Gris\nde Lyon")") != std::string::npos);
    CHECK(out.find(R"("address":"+33610203040")") != std::string::npos);
    REQUIRE(cli(daemon, dir, {"citizens", "show", "C-1"}, out) == 0);
    CHECK(out.find(R"("channel":"email","category":"information","granted":true,"source":"import")") != std::string::npos);

    // Again, as JSON lines: upserts, and an unknown field is named.
    std::ofstream(dir / "citizens.jsonl") << R"({"id":"C-1","contacts":{"email":"marie.martin@example.fr"}})" << "\n"
                                          << R"({"id":"C-11","colour":"red"})" << "\n";
    CHECK(cli(daemon, dir, {"citizens", "import", dir / "citizens.jsonl"}, out) == 1);
    CHECK(out.find("citizens.jsonl:2: colour: unknown field") != std::string::npos);
    CHECK(out.find("2 lines: 0 created, 1 updated, 1 rejected") != std::string::npos);
    REQUIRE(cli(daemon, dir, {"citizens", "show", "C-1"}, out) == 0);
    CHECK(out.find("marie.martin@example.fr") != std::string::npos);
    CHECK(out.find("+33612345678") == std::string::npos);  // the contact list is replaced
}

TEST_CASE("crieur citizens import: a stray quote costs its own record, not the rest of the file") {
    TempDir dir;
    RedisServer redis(dir / "redis");
    DaemonUnderTest daemon(dir, redis);
    {
        std::ofstream csv(dir / "quote.csv");
        csv << "id,given_name,family_name\n" << "C-1,\"Marie,Martin\n";  // the quote is never closed
        for (int i = 0; i < 3000; ++i) csv << "C-" << 100 + i << ",Someone,Withalongishfamilyname\n";  // ~100 KB
    }
    std::string out;
    CHECK(cli(daemon, dir, {"citizens", "import", dir / "quote.csv"}, out) == 1);
    CHECK(out.find("quote.csv:2: a quoted field is not closed (or the record is longer than 64 KiB)") != std::string::npos);
    // What lay past the bound is read again as records and imported.
    CHECK(cli(daemon, dir, {"citizens", "show", "C-3099"}, out) == 0);
}

TEST_CASE("crieur --help and a command's --help answer with the usage, with no config anywhere") {
    TempDir dir;
    for (std::vector<std::string> args : {std::vector<std::string>{"--help"}, {"citizens", "import", "--help"}, {"-h"}}) {
        args.insert(args.begin(), {CRIEUR_CLI_PATH, "--config", dir / "absent.toml"});
        Process p(args, dir / "help.log");
        CHECK(p.wait(10s) == 0);
        const std::string out = read_file(dir / "help.log");
        CHECK(out.find("usage: crieur") != std::string::npos);
        CHECK(out.find("cannot open the config file") == std::string::npos);
    }
}

TEST_CASE("crieur operators: an account added with its password from standard input, its password changed, "
          "disabled, listed, and a bad line in the file stops crieurd naming it") {
    TempDir dir;
    RedisServer redis(dir / "redis");
    DaemonUnderTest daemon(dir, redis, DaemonOptions{.extra_http = "operators_file = \"operators.jsonl\"\n"});
    auto cli = [&](const std::string& input, const std::string& args, std::string& out) {
        static int n = 0;
        const std::string log = dir / ("operators-" + std::to_string(++n) + ".log");
        Process p({"/bin/sh", "-c", "printf '%s\\n' '" + input + "' | " + CRIEUR_CLI_PATH + " --config " + daemon.config() +
                                        " operators " + args},
                  log, daemon.env());
        const int rc = p.wait(std::chrono::seconds(30));
        out = read_file(log);
        return rc;
    };
    const std::string file = dir / "operators.jsonl";
    std::string out;
    CHECK(cli("short", "add --name lea --role agent", out) == 1);
    CHECK(out.find("at least 12 characters") != std::string::npos);
    CHECK(cli("a long passphrase", "add --name lea --role root", out) == 1);
    CHECK(out.find("--role") != std::string::npos);
    REQUIRE(cli("a long passphrase", "add --name lea --role agent", out) == 0);
    CHECK(cli("another passphrase", "add --name lea --role viewer", out) == 1);  // one account per name
    auto read = ui::read_operator_file(file);
    REQUIRE(read.error.empty());
    REQUIRE(read.operators.size() == 1);
    CHECK(read.operators[0].role == ui::Role::agent);
    CHECK(ui::password_matches("a long passphrase", read.operators[0].password_hash));
    CHECK(read_file(file).find("a long passphrase") == std::string::npos);
    CHECK((std::filesystem::status(file).permissions() & std::filesystem::perms::others_read) == std::filesystem::perms::none);

    REQUIRE(cli("a new long passphrase", "passwd --name lea", out) == 0);
    read = ui::read_operator_file(file);
    CHECK(ui::password_matches("a new long passphrase", read.operators[0].password_hash));
    CHECK_FALSE(ui::password_matches("a long passphrase", read.operators[0].password_hash));
    REQUIRE(cli("", "disable --name lea", out) == 0);
    CHECK(ui::read_operator_file(file).operators[0].disabled);
    REQUIRE(cli("", "list", out) == 0);
    CHECK(out.find("lea") != std::string::npos);
    CHECK(out.find("disabled") != std::string::npos);
    CHECK(cli("", "passwd --name nobody", out) == 1);

    // A line that is not an account: the daemon does not start, and says where.
    std::ofstream(file, std::ios::app) << R"({"name":"max","role":"agent","password_hash":"plain"})" << "\n";
    std::string check;
    Process p({CRIEURD_PATH, "--check-config", daemon.config()}, dir / "check.log", daemon.env());
    CHECK(p.wait(std::chrono::seconds(30)) != 0);
    check = read_file(dir / "check.log");
    CHECK(check.find("operators.jsonl:3: password_hash") != std::string::npos);
}
