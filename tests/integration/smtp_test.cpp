// The SMTP driver end to end against a real SMTP server (aiosmtpd, tests/emulators/smtp_server.py).
#include <doctest/doctest.h>

#include <filesystem>

#include "channels/email/smtp.hpp"
#include "support/daemon_fixture.hpp"

using namespace crieur;
using namespace crieur::test;
using namespace std::chrono_literals;

namespace {

struct SmtpRig {
    TempDir dir;
    RedisServer redis{dir / "redis"};
    int smtp_port = free_port();
    Process smtp{{"/usr/bin/python3", CRIEUR_SOURCE_DIR "/tests/emulators/smtp_server.py", std::to_string(smtp_port),
                  dir / "mail"},
                 dir / "smtp.log"};
    DaemonUnderTest daemon{
        dir, redis,
        DaemonOptions{.extra_sections = "[smtp]\nenabled = true\nurl = \"smtp://127.0.0.1:" + std::to_string(smtp_port) +
                                        "\"\nstarttls = \"none\"\nfrom = \"Ville de Lyon <noreply@mairie.example.fr>\"\n"
                                        "unsubscribe_url = \"https://mairie.example.fr/u\"\n"
                                        "unsubscribe_secret_env = \"CRIEUR_TEST_UNSUB\"\n",
                      .env = {"CRIEUR_TEST_UNSUB=s3cret"}}};

    SmtpRig() {
        REQUIRE(wait_until([&] { return read_file(dir / "smtp.log").find("listening") != std::string::npos; }, 15s));
        daemon.start();
    }
    std::vector<std::string> mails() {
        std::vector<std::string> out;
        if (!std::filesystem::exists(dir / "mail")) return out;
        std::vector<std::filesystem::path> files;
        for (auto& e : std::filesystem::directory_iterator(dir / "mail"))
            if (e.path().extension() == ".eml") files.push_back(e.path());
        std::sort(files.begin(), files.end());
        for (auto& f : files) out.push_back(read_file(f.string()));
        return out;
    }
    std::int64_t count(const std::string& where) { return daemon.query("SELECT count(*) FROM " + where); }
};

std::string email_job(const std::string& id, const std::string& to, const std::string& tmpl = "passport_expiry",
                      const std::string& data = kPassportData) {
    return R"({"v":1,"id":")" + id + R"(","service":"etat-civil","template":")" + tmpl + R"(","to":{"email":")" + to +
           R"("},"data":)" + data + "}";
}

}  // namespace

TEST_CASE("an e-mail goes out by SMTP as text and HTML with Date, Message-ID and Auto-Submitted") {
    SmtpRig rig;
    auto client = rig.redis.client();
    enqueue(client, {email_job("mail-ok", "jeanne.martin@example.fr")});
    REQUIRE(wait_until([&] { return rig.count("messages WHERE job_id = 'mail-ok' AND status = 'sent'") == 1; }, 15s));
    auto mails = rig.mails();
    REQUIRE(mails.size() == 1);
    const std::string& m = mails[0];
    CHECK(m.find("X-Envelope-From: noreply@mairie.example.fr") != std::string::npos);
    CHECK(m.find("X-Envelope-To: jeanne.martin@example.fr") != std::string::npos);
    CHECK(m.find("From: Ville de Lyon <noreply@mairie.example.fr>") != std::string::npos);
    CHECK(m.find("Subject: Votre passeport expire le 14 mars 2027\r\n") != std::string::npos);
    CHECK(m.find("Content-Language: fr") != std::string::npos);
    CHECK(m.find("<strong>passeport</strong>") != std::string::npos);  // the HTML part, from the Markdown
    CHECK(m.find("Message-ID: <mail-ok.") != std::string::npos);
    CHECK(m.find("Date: ") != std::string::npos);
    CHECK(m.find("Auto-Submitted: auto-generated") != std::string::npos);
    CHECK(m.find("Content-Type: multipart/alternative; boundary=") != std::string::npos);
    CHECK(m.find("Content-Type: text/plain; charset=utf-8") != std::string::npos);
    CHECK(m.find("Content-Type: text/html; charset=utf-8") != std::string::npos);
    CHECK(m.find("List-Unsubscribe") == std::string::npos);  // a "service" template
    CHECK(rig.count("attempts WHERE provider = 'smtp' AND outcome = 'accepted' AND provider_message_id LIKE '<mail-ok.%@mairie.example.fr>'") == 1);
    CHECK(rig.daemon.stop() == 0);
}

TEST_CASE("an information e-mail carries a signed one-click List-Unsubscribe (RFC 8058)") {
    SmtpRig rig;
    auto client = rig.redis.client();
    enqueue(client, {email_job("mail-info", "paul@example.org", "welcome_resident",
                               R"({"name":"Paul","district":"la Croix-Rousse","services_url":"https://mairie.example.fr/b"})")});
    REQUIRE(wait_until([&] { return rig.mails().size() == 1; }, 15s));
    const std::string m = rig.mails()[0];
    CHECK(m.find("List-Unsubscribe: <https://mairie.example.fr/u/" + unsubscribe_token("s3cret", "mail-info") + ">") != std::string::npos);
    CHECK(m.find("List-Unsubscribe-Post: List-Unsubscribe=One-Click") != std::string::npos);
    CHECK(unsubscribe_token("s3cret", "mail-info") != unsubscribe_token("other", "mail-info"));
    CHECK(rig.daemon.stop() == 0);
}

TEST_CASE("SMTP refusals: 550 5.1.1 is a bad address, 452 a retry, 550 5.7.1 a failure about us") {
    SmtpRig rig;
    auto client = rig.redis.client();
    enqueue(client, {email_job("mail-bounce", "bounce@example.org"), email_job("mail-busy", "busy@example.org"),
                     email_job("mail-policy", "policy@example.org"),
                     email_job("mail-inject", "x@example.org>\\r\\nBcc: <victim@example.org")});
    REQUIRE(wait_until([&] { return rig.count("attempts WHERE error_code IN ('550', '452')") >= 3; }, 15s));
    CHECK(rig.count("attempts WHERE outcome = 'bad_address' AND error_code = '550' AND error_text LIKE '%5.1.1%'") == 1);
    CHECK(rig.count("attempts WHERE outcome = 'retry' AND error_code = '452'") >= 1);
    CHECK(rig.count("attempts WHERE outcome = 'failed' AND error_code = '550' AND error_text LIKE '%5.7.1%'") == 1);
    REQUIRE(wait_until([&] { return rig.count("attempts WHERE outcome = 'bad_address' AND error_text = 'not an e-mail address'") == 1; }, 10s));
    CHECK(rig.mails().empty());
    CHECK(rig.daemon.stop() == 0);
}

TEST_CASE("SMTP classification and header encoding") {
    CHECK(classify_smtp(0, 250, "", true).kind == OutcomeKind::accepted);
    CHECK(classify_smtp(55, 550, "550 5.1.1 No such user", true).kind == OutcomeKind::bad_address);
    CHECK(classify_smtp(55, 553, "553 5.1.3 Bad address syntax", true).kind == OutcomeKind::bad_address);
    CHECK(classify_smtp(55, 550, "550 5.7.1 Refused", true).kind == OutcomeKind::failed);
    CHECK(classify_smtp(67, 535, "535 5.7.8 Authentication failed", true).kind == OutcomeKind::provider_down);
    CHECK(classify_smtp(55, 452, "452 4.2.2 Mailbox full", true).kind == OutcomeKind::retry);
    CHECK(classify_smtp(8, 451, "451 4.3.0 Local error", true).kind == OutcomeKind::retry);
    CHECK(classify_smtp(7, 0, "", false).kind == OutcomeKind::retry);       // could not connect
    CHECK(classify_smtp(28, 0, "", true).kind == OutcomeKind::unknown);     // timed out mid-transaction
    CHECK(encode_header("Plain subject") == "Plain subject");
    CHECK(encode_header("Été") == "=?UTF-8?B?w4l0w6k=?=");
}
