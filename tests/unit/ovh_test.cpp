#include <doctest/doctest.h>

#include "channels/sms/ovh.hpp"

using namespace crieur;

namespace {
HttpResponse answer(int status, std::string body) {
    HttpResponse r;
    r.status = status;
    r.body = std::move(body);
    r.request_sent = true;
    return r;
}
}  // namespace

TEST_CASE("OVHcloud's request signature") {
    // sha1sum of "AS+CK+POST+https://eu.api.ovh.com/1.0/sms/x/jobs+{}+1700000000", computed apart.
    CHECK(ovh_signature("AS", "CK", "POST", "https://eu.api.ovh.com/1.0/sms/x/jobs", "{}", "1700000000") ==
          "$1$821baf024c1a451af7d849b872a5eeeab06bd6a8");
}

TEST_CASE("OVHcloud's answers are classified") {
    auto ok = classify_ovh(answer(200, R"({"totalCreditsRemoved":1,"invalidReceivers":[],"ids":[27814656],"validReceivers":["+33612345678"]})"),
                           "+33612345678");
    CHECK(ok.kind == OutcomeKind::accepted);
    CHECK(ok.provider_id == "27814656");
    auto bad = classify_ovh(answer(200, R"({"totalCreditsRemoved":0,"invalidReceivers":["+33600000000"],"ids":[],"validReceivers":[]})"),
                            "+33600000000");
    CHECK(bad.kind == OutcomeKind::bad_address);
    CHECK(classify_ovh(answer(400, R"({"errorCode":"INVALID_SENDER","message":"Invalid sender"})"), "x").kind == OutcomeKind::failed);
    CHECK(classify_ovh(answer(403, R"({"message":"This credential is not valid"})"), "x").kind == OutcomeKind::provider_down);
    CHECK(classify_ovh(answer(503, ""), "x").kind == OutcomeKind::retry);
    CHECK(classify_ovh(answer(429, ""), "x").kind == OutcomeKind::retry);
    CHECK(ovh_status("1") == "delivered");
    CHECK(ovh_status("2") == "failed");
    CHECK(ovh_status("16") == "failed");
    CHECK(ovh_status("4").empty());
}

TEST_CASE("an OVHcloud incoming message is read with its sender in E.164 and its time, or refused") {
    auto m = crieur::parse_ovh_incoming(
        R"({"creationDatetime":"2026-12-04T15:02:11+01:00","credits":0,"id":41712,"message":"Oui","sender":"0033612345678","tag":""})");
    REQUIRE(m);
    CHECK(m->channel == "sms");
    CHECK(m->from == "+33612345678");
    CHECK(m->text == "Oui");
    CHECK(m->provider_id == "41712");
    CHECK(m->received_ms == 1796392931000LL);  // 14:02:11 UTC
    CHECK(crieur::parse_ovh_incoming(R"({"id":1,"sender":"+33612345678"})")->from == "+33612345678");
    CHECK_FALSE(crieur::parse_ovh_incoming(R"({"id":"1","sender":"+33612345678"})"));  // not OVH's id
    CHECK_FALSE(crieur::parse_ovh_incoming(R"({"id":1})"));
    CHECK_FALSE(crieur::parse_ovh_incoming("null"));
}
