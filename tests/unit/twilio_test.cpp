#include <doctest/doctest.h>

#include <curl/curl.h>

#include "channels/sms/twilio.hpp"

using namespace crieur;

namespace {
HttpResponse answer(int status, std::string body, std::map<std::string, std::string> headers = {}) {
    HttpResponse r;
    r.status = status;
    r.body = std::move(body);
    r.headers = std::move(headers);
    r.request_sent = true;
    return r;
}
std::string error_body(int code) {
    return R"({"code": )" + std::to_string(code) + R"(, "message": "from Twilio", "more_info": "https://www.twilio.com/docs/errors/)" +
           std::to_string(code) + R"(", "status": 400})";
}
}  // namespace

TEST_CASE("Twilio's signature test vector") {
    const std::vector<std::pair<std::string, std::string>> params{
        {"CallSid", "CA1234567890ABCDE"}, {"Caller", "+12349013030"}, {"Digits", "1234"},
        {"From", "+12349013030"},         {"To", "+18005551212"}};
    const std::string url = "https://mycompany.com/myapp.php?foo=1&bar=2";
    CHECK(twilio_signature("12345", url, params) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
    CHECK(twilio_signature_valid("12345", url, params, "0/KCTR6DLpKmkAf8muzZqo1nDgQ="));
    CHECK_FALSE(twilio_signature_valid("12345", url, params, "0/KCTR6DLpKmkAf8muzZqo1nDgQ!"));
    CHECK_FALSE(twilio_signature_valid("12346", url, params, "0/KCTR6DLpKmkAf8muzZqo1nDgQ="));
    CHECK_FALSE(twilio_signature_valid("12345", url + "&x=1", params, "0/KCTR6DLpKmkAf8muzZqo1nDgQ="));
}

TEST_CASE("a 201 with a sid is accepted with the provider's id") {
    auto o = classify_twilio(answer(201, R"({"sid": "SM0123456789abcdef0123456789abcdef", "status": "queued"})"));
    CHECK(o.kind == OutcomeKind::accepted);
    CHECK(o.provider_id == "SM0123456789abcdef0123456789abcdef");
    CHECK(o.code == "queued");
}

TEST_CASE("Twilio's error codes are classified row by row") {
    struct Row {
        int http;
        int code;
        OutcomeKind kind;
    };
    const Row rows[] = {
        {429, 20429, OutcomeKind::retry},       {400, 21611, OutcomeKind::retry},
        {429, 63017, OutcomeKind::retry},       {400, 21211, OutcomeKind::bad_address},
        {400, 21614, OutcomeKind::bad_address}, {400, 21635, OutcomeKind::bad_address},
        {400, 21610, OutcomeKind::bad_address}, {400, 21612, OutcomeKind::failed},
        {400, 21408, OutcomeKind::failed},      {400, 21602, OutcomeKind::failed},
        {400, 21603, OutcomeKind::failed},      {401, 20003, OutcomeKind::provider_down},
        {400, 21606, OutcomeKind::provider_down}, {400, 21608, OutcomeKind::provider_down},
        {400, 12345, OutcomeKind::failed},      {500, 20500, OutcomeKind::retry},
        {503, 0, OutcomeKind::retry},
    };
    for (auto& row : rows) {
        CAPTURE(row.code);
        auto o = classify_twilio(answer(row.http, row.code ? error_body(row.code) : "<html>oops</html>"));
        CHECK(o.kind == row.kind);
        CHECK(o.provider == "twilio");
        if (row.code) CHECK(o.code == std::to_string(row.code));
    }
}

TEST_CASE("Retry-After is honoured on a retry") {
    auto o = classify_twilio(answer(429, error_body(20429), {{"retry-after", "7"}}));
    CHECK(o.kind == OutcomeKind::retry);
    CHECK(o.retry_after_ms == 7000);
}

TEST_CASE("no answer: unknown once the request went out, retry when it never left") {
    HttpResponse timeout;
    timeout.request_sent = true;
    timeout.error = curl_error(CURLE_OPERATION_TIMEDOUT);
    CHECK(timeout.timed_out());
    CHECK(classify_twilio(timeout).kind == OutcomeKind::unknown);
    CHECK(classify_twilio(timeout).code == "timeout");
    CHECK(classify_twilio(timeout).reason == "Timeout was reached");  // libcurl's own words
    HttpResponse refused;
    refused.error = curl_error(CURLE_COULDNT_CONNECT);
    CHECK_FALSE(refused.timed_out());
    CHECK(classify_twilio(refused).kind == OutcomeKind::retry);
    CHECK(classify_twilio(refused).code == "network");
}

TEST_CASE("Twilio's callback statuses map to ours") {
    CHECK(twilio_status("delivered") == "delivered");
    CHECK(twilio_status("undelivered") == "failed");
    CHECK(twilio_status("failed") == "failed");
    CHECK(twilio_status("read") == "read");
    CHECK(twilio_status("queued").empty());
}

TEST_CASE("forms are encoded and decoded as providers do") {
    const std::vector<std::pair<std::string, std::string>> form{{"To", "+33612345678"}, {"Body", "Ça va ? 100% & plus"}};
    const std::string encoded = form_encode(form);
    CHECK(encoded == "To=%2B33612345678&Body=%C3%87a+va+%3F+100%25+%26+plus");
    CHECK(form_decode(encoded) == form);
}

TEST_CASE("SMS keywords: STOP and its kin opt out, START opts back in, anything else is a reply") {
    for (const char* w : {"STOP", "stop", " Stop. ", "STOPALL", "unsubscribe", "END", "quit", "Arret", "ARRÊT", "arrêt", "cancel"}) {
        CAPTURE(w);
        CHECK(sms_keyword(w) == SmsKeyword::opt_out);
    }
    for (const char* w : {"START", "unstop", "Start!"}) {
        CAPTURE(w);
        CHECK(sms_keyword(w) == SmsKeyword::opt_in);
    }
    for (const char* w : {"", "merci", "stop please call me", "STOPS", "je ne veux plus de stop"}) {
        CAPTURE(w);
        CHECK(sms_keyword(w) == SmsKeyword::none);
    }
    CHECK(twilio_late_failure("30006") == TwilioLateFailure::bad_address);
    CHECK(twilio_late_failure("30003") == TwilioLateFailure::temporary);  // unreachable handset: it may come back
    CHECK(twilio_late_failure("30007") == TwilioLateFailure::for_good);   // filtered as spam
    CHECK(twilio_late_failure("") == TwilioLateFailure::for_good);
}

TEST_CASE("a Twilio signature is accepted over the URL variants Twilio's validateRequest accepts") {
    const std::string token = "12345";
    const std::vector<std::pair<std::string, std::string>> form{{"MessageSid", "SM1"}, {"MessageStatus", "delivered"}};
    // Twilio signed the URL with the port written out; we were configured without it, and back.
    CHECK(twilio_signature_valid(token, "https://mairie.example.fr/hooks/twilio", form,
                                 twilio_signature(token, "https://mairie.example.fr:443/hooks/twilio", form)));
    CHECK(twilio_signature_valid(token, "https://mairie.example.fr:443/hooks/twilio", form,
                                 twilio_signature(token, "https://mairie.example.fr/hooks/twilio", form)));
    CHECK(twilio_signature_valid(token, "http://mairie.example.fr/hooks/twilio", form,
                                 twilio_signature(token, "http://mairie.example.fr:80/hooks/twilio", form)));
    // Credentials in the configured URL are not signed.
    CHECK(twilio_signature_valid(token, "https://user:pass@mairie.example.fr/hooks/twilio?x=1", form,
                                 twilio_signature(token, "https://mairie.example.fr/hooks/twilio?x=1", form)));
    // Another path, another token, another port: refused.
    CHECK_FALSE(twilio_signature_valid(token, "https://mairie.example.fr/hooks/twilio", form,
                                       twilio_signature(token, "https://mairie.example.fr/hooks/other", form)));
    CHECK_FALSE(twilio_signature_valid(token, "https://mairie.example.fr/hooks/twilio", form,
                                       twilio_signature("other", "https://mairie.example.fr/hooks/twilio", form)));
    CHECK_FALSE(twilio_signature_valid(token, "https://mairie.example.fr/hooks/twilio", form,
                                       twilio_signature(token, "https://mairie.example.fr:8443/hooks/twilio", form)));
    CHECK(twilio_signed_urls("https://u:p@mairie.example.fr/hooks/twilio") ==
          std::vector<std::string>{"https://mairie.example.fr/hooks/twilio", "https://mairie.example.fr:443/hooks/twilio"});
}
