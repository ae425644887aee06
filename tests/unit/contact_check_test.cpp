#include <doctest/doctest.h>

#include "daemon/directory/contact_check.hpp"

using namespace crieur::directory;

namespace {
std::string ok(const std::variant<std::string, BadContact>& r) {
    if (auto* bad = std::get_if<BadContact>(&r)) FAIL_CHECK("refused: " << bad->reason);
    return std::holds_alternative<std::string>(r) ? std::get<std::string>(r) : "";
}
bool refused(const std::variant<std::string, BadContact>& r) { return std::holds_alternative<BadContact>(r); }
}  // namespace

TEST_CASE("French numbers in every common format become E.164") {
    ContactCheck check("FR");
    for (const char* written : {"0612345678", "06 12 34 56 78", "06.12.34.56.78", "06-12-34-56-78", "+33612345678",
                                "+33 6 12 34 56 78", "0033612345678", "0033 6 12 34 56 78", "+33 (0)6 12 34 56 78",
                                " 06 12 34 56 78 "}) {
        CAPTURE(written);
        CHECK(ok(check.phone(written)) == "+33612345678");
    }
    CHECK(ok(check.phone("07 81 23 45 67")) == "+33781234567");
    CHECK(ok(check.phone("01 42 76 40 40")) == "+33142764040");  // a landline is a phone number; SMS is the provider's call
}

TEST_CASE("foreign numbers are read with their country code, national ones in the default region") {
    ContactCheck fr("FR");
    CHECK(ok(fr.phone("+44 7911 123456")) == "+447911123456");
    CHECK(refused(fr.phone("+44 7700 900123")));  // Ofcom's range for drama: not a real number
    CHECK(ok(fr.phone("+32 470 12 34 56")) == "+32470123456");
    CHECK(ok(fr.phone("0049 1512 3456789")) == "+4915123456789");
    ContactCheck be("BE");
    CHECK(ok(be.phone("0470 12 34 56")) == "+32470123456");
}

TEST_CASE("what is not a valid phone number is refused with a reason") {
    ContactCheck check("FR");
    for (const char* bad : {"", "06 12 34", "bonjour", "+33 6 12 34 56 78 90 12", "06123456789012345678901234567890123456789012"}) {
        CAPTURE(bad);
        auto r = check.phone(bad);
        REQUIRE(refused(r));
        CHECK(!std::get<BadContact>(r).reason.empty());
    }
}

TEST_CASE("e-mail addresses: trimmed, domain lower-cased, bad syntax refused") {
    ContactCheck check;
    CHECK(ok(check.email("  Marie.Martin@Mairie-Lyon.FR ")) == "Marie.Martin@mairie-lyon.fr");
    CHECK(ok(check.email("a+tag@sub.example.org")) == "a+tag@sub.example.org");
    for (const char* bad : {"", "marie", "marie@", "@lyon.fr", "marie@lyon", "ma rie@lyon.fr", "a@b@lyon.fr",
                            "marie@lyon..fr", ".marie@lyon.fr", "marie@lyon.fr>", "x@y.fr\r\nBcc: z@w.fr"}) {
        CAPTURE(bad);
        CHECK(refused(check.email(bad)));
    }
}

TEST_CASE("push contacts: a Web Push subscription's shape is checked, an FCM token is a token") {
    ContactCheck check;
    // RFC 8291 Appendix A's user agent key and secret.
    const std::string p256dh = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
    const std::string auth = "BTBZMqHH6r4Tts7J_aSIgg";
    auto sub = ok(check.push(R"({"endpoint":"https://push.example.net/push/JzLQ3raZJfFBR0aqvOMsLrt54w4rJUsV","expirationTime":null,"keys":{"p256dh":")" +
                             p256dh + R"(","auth":")" + auth + R"("}})"));
    CHECK(sub == R"({"endpoint":"https://push.example.net/push/JzLQ3raZJfFBR0aqvOMsLrt54w4rJUsV","keys":{"p256dh":")" +
                     p256dh + R"(","auth":")" + auth + R"("}})");
    CHECK(refused(check.push(R"({"endpoint":"http://push.example.net/x","keys":{"p256dh":")" + p256dh + R"(","auth":")" + auth + R"("}})")));
    CHECK(refused(check.push(R"({"endpoint":"https://push.example.net/x","keys":{"p256dh":"AAAA","auth":")" + auth + R"("}})")));
    CHECK(refused(check.push(R"({"endpoint":"https://push.example.net/x","keys":{"p256dh":")" + p256dh + R"(","auth":"AAAA"}})")));
    CHECK(refused(check.push(R"({"endpoint":"https://push.example.net/x"})")));
    CHECK(ok(check.push("fcm-token:APA91bHun4MxP5egoKMwt2KZFBaFUH")) == "fcm-token:APA91bHun4MxP5egoKMwt2KZFBaFUH");
    CHECK(refused(check.push("short")));
    CHECK(refused(check.push("token with spaces in it, twenty+")));
}

TEST_CASE("check() picks the rule by channel") {
    ContactCheck check;
    CHECK(ok(check.check("sms", "06 12 34 56 78")) == "+33612345678");
    CHECK(ok(check.check("whatsapp", "06 12 34 56 78")) == "+33612345678");
    CHECK(ok(check.check("email", "a@b.fr")) == "a@b.fr");
    CHECK(refused(check.check("pigeon", "a@b.fr")));
}
