#include <doctest/doctest.h>

#include "channels/push/fcm.hpp"

using namespace crieur;

namespace {
HttpResponse answer(int status, std::string body) {
    HttpResponse r;
    r.status = status;
    r.body = std::move(body);
    r.request_sent = true;
    return r;
}
std::string error(int status, const char* state, const char* code) {
    return std::string(R"({"error":{"code":)") + std::to_string(status) + R"(,"message":"m","status":")" + state +
           R"(","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":")" + code + R"("}]}})";
}
}  // namespace

TEST_CASE("FCM's answers are classified by its error code") {
    auto ok = classify_fcm(answer(200, R"({"name":"projects/p/messages/0:1500415314455276%31bd1c9631bd1c96"})"));
    CHECK(ok.kind == OutcomeKind::accepted);
    CHECK(ok.provider_id == "projects/p/messages/0:1500415314455276%31bd1c9631bd1c96");
    CHECK(classify_fcm(answer(404, error(404, "NOT_FOUND", "UNREGISTERED"))).kind == OutcomeKind::bad_address);
    CHECK(classify_fcm(answer(403, error(403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH"))).kind == OutcomeKind::bad_address);
    CHECK(classify_fcm(answer(403, error(403, "PERMISSION_DENIED", "PERMISSION_DENIED"))).kind == OutcomeKind::provider_down);
    CHECK(classify_fcm(answer(429, error(429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED"))).kind == OutcomeKind::retry);
    CHECK(classify_fcm(answer(503, error(503, "UNAVAILABLE", "UNAVAILABLE"))).kind == OutcomeKind::retry);
    CHECK(classify_fcm(answer(500, error(500, "INTERNAL", "INTERNAL"))).kind == OutcomeKind::retry);
    CHECK(classify_fcm(answer(400, error(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT"))).kind == OutcomeKind::failed);
    CHECK(classify_fcm(answer(401, error(401, "UNAUTHENTICATED", "THIRD_PARTY_AUTH_ERROR"))).kind == OutcomeKind::provider_down);
    CHECK(classify_fcm(answer(401, R"({"error":{"code":401,"status":"UNAUTHENTICATED"}})")).kind == OutcomeKind::retry);
}
