// The SMTP driver end to end against a real SMTP server (aiosmtpd, tests/emulators/smtp_server.py).
#include <doctest/doctest.h>

#include <filesystem>

#include "channels/email/smtp.hpp"
#include "support/daemon_fixture.hpp"
#include "provider_conformance.hpp"

using namespace crieur;
using namespace crieur::test;
using namespace std::chrono_literals;

namespace {

struct SmtpRig {
    TempDir dir;
    RedisServer redis{dir / "redis"};
    int smtp_port = free_port();
    int http_port = free_port();
    Process smtp{{"/usr/bin/python3", CRIEUR_SOURCE_DIR "/tests/emulators/smtp_server.py", std::to_string(smtp_port),
                  dir / "mail"},
                 dir / "smtp.log"};
    DaemonUnderTest daemon{
        dir, redis,
        DaemonOptions{.extra_sections = "[links]\nunsubscribe_url = \"https://mairie.example.fr/u\"\n"
                                        "secret_env = \"CRIEUR_TEST_UNSUB\"\n"
                                        "tracking_url = \"http://127.0.0.1:" + std::to_string(http_port) + "/t\"\n"
                                        "[[providers]]\ntype = \"smtp\"\nurl = \"smtp://127.0.0.1:" + std::to_string(smtp_port) +
                                        "\"\nstarttls = \"none\"\nfrom = \"Ville de Lyon <noreply@mairie.example.fr>\"\n",
                      .env = {"CRIEUR_TEST_UNSUB=s3cret"}},
        http_port};

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

// A MIME part's quoted-printable text decoded (soft line breaks, =XX).
std::string qp_decode(const std::string& in) {
    std::string out;
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (in[i] != '=' || i + 2 >= in.size()) {
            out += in[i];
            continue;
        }
        if (in[i + 1] == '\r' && in[i + 2] == '\n') {
            i += 2;
            continue;
        }
        if (!std::isxdigit(static_cast<unsigned char>(in[i + 1])) || !std::isxdigit(static_cast<unsigned char>(in[i + 2]))) {
            out += in[i];  // a header's '=' (boundary=, =?UTF-8?), not an escape
            continue;
        }
        out += static_cast<char>(std::stoi(in.substr(i + 1, 2), nullptr, 16));
        i += 2;
    }
    return out;
}

// The value of the first `attribute="..."` after `marker` in `html`.
std::string attribute_after(const std::string& html, const std::string& marker, const std::string& attribute) {
    const auto at = html.find(marker);
    if (at == std::string::npos) return {};
    const auto start = html.find(attribute + "=\"", at);
    if (start == std::string::npos) return {};
    const auto value = start + attribute.size() + 2;
    return html.substr(value, html.find('"', value) - value);
}

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

TEST_CASE("tracking: an e-mail's image records an open and its link a click, then redirects, a forged link does not") {
    SmtpRig rig;
    auto client = rig.redis.client();
    enqueue(client, {email_job("mail-tracked", "jeanne.martin@example.fr")});
    REQUIRE(wait_until([&] { return rig.count("messages WHERE job_id = 'mail-tracked' AND status = 'sent'") == 1; }, 15s));
    const std::string mail = qp_decode(rig.mails().at(0));
    const std::string base = "http://127.0.0.1:" + std::to_string(rig.http_port) + "/t/";
    // The link to the booking page goes through /t/c/ and carries its target; the image is /t/o/.
    std::string link = attribute_after(mail, "<a ", "href");
    const std::string image = attribute_after(mail, "<img src=\"" + base + "o/", "src");
    REQUIRE(link.starts_with(base + "c/"));
    REQUIRE(image.starts_with(base + "o/"));
    CHECK(link.find("u=https%3A%2F%2Fmairie.example.fr%2Frdv") != std::string::npos);
    // The HTML part links only through /t/c/; the text part keeps the plain URL (nothing to track there).
    const std::string html = mail.substr(mail.find("Content-Type: text/html"));
    CHECK(html.find(">Prendre rendez-vous</a>") != std::string::npos);
    CHECK(html.find("https://mairie.example.fr/rdv") == std::string::npos);
    CHECK(mail.substr(0, mail.find("Content-Type: text/html")).find("https://mairie.example.fr/rdv") != std::string::npos);
    for (std::size_t at; (at = link.find("&amp;")) != std::string::npos;) link.replace(at, 5, "&");
    const std::string link_path = link.substr(base.size() - 3), image_path = image.substr(base.size() - 3);

    // A forged token, or the right token sending elsewhere: 404, never a redirect.
    const auto token = link_path.substr(5, link_path.find('?') - 5);
    CHECK(http_get(rig.daemon.http_port(), "/t/c/" + token + "?u=https%3A%2F%2Fevil.example%2F").status == 404);
    CHECK(http_get(rig.daemon.http_port(), "/t/c/" + token.substr(0, token.size() - 1) + "0?u=https%3A%2F%2Fmairie.example.fr%2Frdv").status == 404);
    CHECK(http_get(rig.daemon.http_port(), "/t/o/" + token).status == 404);  // a click token is not an open token
    CHECK(rig.count("events WHERE status IN ('open', 'click')") == 0);

    const auto opened = http_get(rig.daemon.http_port(), image_path);
    CHECK(opened.status == 200);
    CHECK(opened.header("content-type") == "image/gif");
    CHECK(opened.body.starts_with("GIF89a"));
    CHECK(http_get(rig.daemon.http_port(), image_path).status == 200);  // shown again: one open kept
    const auto clicked = http_get(rig.daemon.http_port(), link_path);
    CHECK(clicked.status == 302);
    CHECK(clicked.header("location") == "https://mairie.example.fr/rdv");
    REQUIRE(wait_until([&] { return rig.count("events WHERE status IN ('open', 'click')") == 2; }, 5s));
    CHECK(rig.count("events e JOIN attempts a ON a.id = e.attempt_id WHERE e.status = 'open' AND e.provider_status = 'image' AND a.channel = 'email'") == 1);
    CHECK(rig.count("events WHERE status = 'click' AND provider_status = 'link'") == 1);
    CHECK(rig.count("messages WHERE job_id = 'mail-tracked' AND status = 'sent'") == 1);  // engagement is not a status
    CHECK(rig.daemon.stop() == 0);
}

CRIEUR_CONFORMANCE_EXEMPT("smtp", "speaks SMTP, not HTTP: the tests above run it against a real SMTP server "
                                  "(tests/emulators/smtp_server.py), refusals and timeouts included");
