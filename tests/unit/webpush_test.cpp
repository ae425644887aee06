#include <doctest/doctest.h>

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "channels/push/webpush.hpp"

using namespace crieur;

namespace {
std::string b64(const char* text) { return *base64url_decode(text); }
}  // namespace

TEST_CASE("RFC 8291 Appendix A: the encryptor reproduces the example byte for byte") {
    const std::string body = webpush_encrypt("When I grow up, I want to be a watermelon",
                                             b64("BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"),
                                             b64("BTBZMqHH6r4Tts7J_aSIgg"), b64("yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw"),
                                             b64("DGv6ra1nlYgDCS1FRnbzlw"));
    CHECK(base64url_encode(body) ==
          "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN");
    CHECK(body.size() == 144);
}

TEST_CASE("each message gets its own salt and ephemeral key") {
    const std::string ua = b64("BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4");
    const std::string a = webpush_encrypt("hello", ua, b64("BTBZMqHH6r4Tts7J_aSIgg"));
    const std::string b = webpush_encrypt("hello", ua, b64("BTBZMqHH6r4Tts7J_aSIgg"));
    CHECK(a.size() == 86 + 5 + 1 + 16);
    CHECK(a.substr(0, 16) != b.substr(0, 16));
    CHECK(a.substr(21, 65) != b.substr(21, 65));
}

TEST_CASE("subscriptions are checked for shape") {
    const std::string keys = R"("keys":{"p256dh":"BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4","auth":"BTBZMqHH6r4Tts7J_aSIgg"})";
    CHECK(parse_subscription(R"({"endpoint":"https://push.example.net/wpush/v2/abc",)" + keys + "}"));
    std::string why;
    CHECK_FALSE(parse_subscription(R"({"endpoint":"http://push.example.net/x",)" + keys + "}", &why));
    CHECK(why == "the endpoint must be an https URL");
    CHECK_FALSE(parse_subscription(R"({"endpoint":"https://p.example/x","keys":{"p256dh":"AAAA","auth":"BTBZMqHH6r4Tts7J_aSIgg"}})", &why));
    CHECK(why == "keys.p256dh must be a 65-byte P-256 point");
    CHECK_FALSE(parse_subscription("+33612345678", &why));
}

TEST_CASE("a VAPID authorization is an ES256 JWT for the endpoint's origin, with our public key") {
    const auto pem = std::filesystem::temp_directory_path() / "crieur-vapid-test.pem";
    REQUIRE(std::system(("openssl ecparam -name prime256v1 -genkey -noout -out " + pem.string() + " 2>/dev/null").c_str()) == 0);
    Vapid vapid(pem.string(), "mailto:ops@mairie.example.fr");
    const std::string auth = vapid.authorization("https://updates.push.services.mozilla.com:443/wpush/v2/xyz", 1800000000);
    std::filesystem::remove(pem);
    REQUIRE(auth.starts_with("vapid t="));
    const auto k = auth.find(", k=");
    REQUIRE(k != std::string::npos);
    CHECK(auth.substr(k + 4) == vapid.public_key());
    CHECK(base64url_decode(vapid.public_key())->size() == 65);
    const std::string jwt = auth.substr(8, k - 8);
    const auto dot1 = jwt.find('.'), dot2 = jwt.rfind('.');
    CHECK(*base64url_decode(jwt.substr(0, dot1)) == R"({"typ":"JWT","alg":"ES256"})");
    CHECK(*base64url_decode(jwt.substr(dot1 + 1, dot2 - dot1 - 1)) ==
          R"({"aud":"https://updates.push.services.mozilla.com:443","exp":1800000000,"sub":"mailto:ops@mairie.example.fr"})");
    CHECK(base64url_decode(jwt.substr(dot2 + 1))->size() == 64);
}

TEST_CASE("push services' answers are classified") {
    auto answer = [](int status) {
        HttpResponse r;
        r.status = status;
        r.request_sent = true;
        return r;
    };
    CHECK(classify_webpush(answer(201)).kind == OutcomeKind::accepted);
    CHECK(classify_webpush(answer(202)).kind == OutcomeKind::accepted);
    CHECK(classify_webpush(answer(404)).kind == OutcomeKind::bad_address);
    CHECK(classify_webpush(answer(410)).kind == OutcomeKind::bad_address);
    CHECK(classify_webpush(answer(400)).kind == OutcomeKind::failed);
    CHECK(classify_webpush(answer(403)).kind == OutcomeKind::provider_down);
    CHECK(classify_webpush(answer(413)).kind == OutcomeKind::failed);
    CHECK(classify_webpush(answer(429)).kind == OutcomeKind::retry);
    CHECK(classify_webpush(answer(503)).kind == OutcomeKind::retry);
}

TEST_CASE("the push Topic is a digest of the whole job id: ids with a long common prefix never share one") {
    const std::string a = "campagne-canicule-2026-quartier-des-brotteaux-citizen-000001";
    const std::string b = "campagne-canicule-2026-quartier-des-brotteaux-citizen-000002";
    CHECK(push_topic(a) != push_topic(b));
    CHECK(push_topic(a) == push_topic(a));
    CHECK(push_topic(a).size() == 32);  // RFC 8030 §5.4: at most 32 characters
    for (char c : push_topic(a))
        CHECK((std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_'));
}

TEST_CASE("a push endpoint must name an allowed push service: no aiming crieurd at the town's network") {
    const std::vector<std::string> allowed{"fcm.googleapis.com", ".push.apple.com", "127.0.0.1"};
    CHECK(push_host_allowed("https://fcm.googleapis.com/fcm/send/abc", allowed));
    CHECK(push_host_allowed("https://web.push.apple.com/QO5", allowed));
    CHECK(push_host_allowed("http://127.0.0.1:8443/push/1", allowed));
    CHECK_FALSE(push_host_allowed("https://10.0.0.5/admin", allowed));
    CHECK_FALSE(push_host_allowed("https://fcm.googleapis.com.evil.tld/x", allowed));
    CHECK_FALSE(push_host_allowed("https://evilpush.apple.com.example/x", allowed));
    CHECK_FALSE(push_host_allowed("https://127.0.0.1.evil.tld/x", allowed));
    CHECK_FALSE(push_host_allowed("not a url", allowed));
    // The loopback exception to https is read from the parsed host, not a string prefix.
    const std::string keys = R"("keys":{"p256dh":"BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4","auth":"BTBZMqHH6r4Tts7J_aSIgg"})";
    std::string why;
    CHECK_FALSE(parse_subscription(R"({"endpoint":"http://127.0.0.1.evil.tld/x",)" + keys + "}", &why));
    CHECK(why == "the endpoint must be an https URL");
    CHECK(parse_subscription(R"({"endpoint":"http://127.0.0.1:9/x",)" + keys + "}"));
}
