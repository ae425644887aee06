#include <doctest/doctest.h>

#include <rapidjson/document.h>

#include "channels/whatsapp/cloud_api.hpp"

using namespace crieur;

namespace {
HttpResponse answer(int status, std::string body) {
    HttpResponse r;
    r.status = status;
    r.body = std::move(body);
    r.request_sent = true;
    return r;
}
std::string error_body(int code) {
    return R"({"error":{"message":"(#)" + std::to_string(code) + R"() x","type":"OAuthException","code":)" +
           std::to_string(code) + R"(,"fbtrace_id":"A"}})";
}
}  // namespace

TEST_CASE("WhatsApp's webhook signature: the documented test vector") {
    CHECK(whatsapp_signature("secret", "test") == "sha256=0329a06b62cd16b33eb6792be8c60b158d89a2ee3a876fce9a881ebb488c0914");
    CHECK(whatsapp_signature_valid("secret", "test", "sha256=0329a06b62cd16b33eb6792be8c60b158d89a2ee3a876fce9a881ebb488c0914"));
    CHECK_FALSE(whatsapp_signature_valid("secret", "test ", "sha256=0329a06b62cd16b33eb6792be8c60b158d89a2ee3a876fce9a881ebb488c0914"));
    CHECK_FALSE(whatsapp_signature_valid("secret", "test", ""));
}

TEST_CASE("a 200 with a wamid is accepted") {
    auto o = classify_whatsapp(answer(200, R"({"messaging_product":"whatsapp","contacts":[{"input":"33612345678","wa_id":"33612345678"}],"messages":[{"id":"wamid.HBgLABC","message_status":"accepted"}]})"));
    CHECK(o.kind == OutcomeKind::accepted);
    CHECK(o.provider_id == "wamid.HBgLABC");
}

TEST_CASE("Meta's error codes are classified row by row") {
    struct Row {
        int http, code;
        OutcomeKind kind;
    };
    const Row rows[] = {
        {400, 131026, OutcomeKind::bad_address}, {400, 131047, OutcomeKind::failed}, {400, 132000, OutcomeKind::failed},
        {400, 132001, OutcomeKind::failed},      {400, 131008, OutcomeKind::failed}, {400, 131009, OutcomeKind::failed},
        {400, 100, OutcomeKind::failed},         {429, 130429, OutcomeKind::retry},  {400, 131056, OutcomeKind::retry},
        {400, 131057, OutcomeKind::retry},       {400, 80007, OutcomeKind::retry},   {500, 1, OutcomeKind::retry},
        {503, 2, OutcomeKind::retry},            {500, 131000, OutcomeKind::retry},  {400, 131049, OutcomeKind::retry},
        {400, 131048, OutcomeKind::provider_down}, {400, 131042, OutcomeKind::provider_down},
        {400, 131031, OutcomeKind::provider_down}, {400, 368, OutcomeKind::provider_down},
        {401, 190, OutcomeKind::provider_down},    {403, 10, OutcomeKind::provider_down},
        {403, 250, OutcomeKind::provider_down},         {502, 99999, OutcomeKind::retry},   {400, 99999, OutcomeKind::failed},
    };
    for (auto& row : rows) {
        CAPTURE(row.code);
        auto o = classify_whatsapp(answer(row.http, error_body(row.code)));
        CHECK(o.kind == row.kind);
        CHECK(o.code == std::to_string(row.code));
    }
}

TEST_CASE("the send is the approved template with its ordered parameters, to digits only") {
    render::Rendered c;
    c.whatsapp_name = "appointment_recap_v1";
    c.whatsapp_language = "en_GB";
    c.whatsapp_parameters = {"Mr Bernard", "registry", "12 January"};
    rapidjson::Document d;
    d.Parse(whatsapp_template_body("+33612345678", c, "job-7").c_str());
    REQUIRE(d.IsObject());
    CHECK(std::string(d["messaging_product"].GetString()) == "whatsapp");
    CHECK(std::string(d["to"].GetString()) == "33612345678");
    CHECK(std::string(d["type"].GetString()) == "template");
    CHECK(std::string(d["biz_opaque_callback_data"].GetString()) == "job-7");
    CHECK(std::string(d["template"]["name"].GetString()) == "appointment_recap_v1");
    CHECK(std::string(d["template"]["language"]["code"].GetString()) == "en_GB");
    auto& params = d["template"]["components"][0]["parameters"];
    REQUIRE(params.Size() == 3);
    CHECK(std::string(params[2]["text"].GetString()) == "12 January");
}

TEST_CASE("webhook statuses are read, with the error code of a failure: for good, a bad address, or one that may pass") {
    const std::string body = R"({"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"value":{
        "messaging_product":"whatsapp","statuses":[{"id":"wamid.A","status":"delivered","timestamp":"1"},
        {"id":"wamid.B","status":"failed","timestamp":"2","errors":[{"code":131026,"title":"Message undeliverable"}]},
        {"id":"wamid.C","status":"failed","timestamp":"3","errors":[{"code":131049,"title":"Healthy ecosystem engagement"}]},
        {"id":"wamid.D","status":"failed","timestamp":"4","errors":[{"code":132001,"title":"Template does not exist"}]}]},
        "field":"messages"}]}]})";
    auto n = parse_whatsapp_notification(body);
    REQUIRE(n);
    auto& s = n->statuses;
    REQUIRE(s.size() == 4);
    CHECK(s[0].id == "wamid.A");
    CHECK(s[0].status == "delivered");
    CHECK(s[1].status == "failed");
    CHECK(s[1].provider_status == "failed 131026");
    CHECK(s[1].bad_address);
    CHECK_FALSE(s[1].temporary);
    CHECK(s[2].temporary);  // held for engagement: may go through later
    CHECK_FALSE(s[2].bad_address);
    CHECK_FALSE(s[3].temporary);
    CHECK_FALSE(s[3].bad_address);
    CHECK_FALSE(parse_whatsapp_notification("not json"));
    CHECK(parse_whatsapp_notification(R"({"entry":[{"changes":[{"value":{"messages":[]}}]}]})")->statuses.empty());
}

TEST_CASE("a citizen's WhatsApp text message is read as an inbound message from their E.164 number") {
    const std::string body = R"({"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"value":{
        "messaging_product":"whatsapp","contacts":[{"profile":{"name":"M"},"wa_id":"33612345678"}],
        "messages":[{"from":"33612345678","id":"wamid.IN","timestamp":"1","type":"text","text":{"body":"STOP"}},
                    {"from":"33612345678","id":"wamid.IMG","timestamp":"2","type":"image","image":{"id":"9"}}]},
        "field":"messages"}]}]})";
    auto n = parse_whatsapp_notification(body);
    REQUIRE(n);
    REQUIRE(n->messages.size() == 1);  // the image is not text
    CHECK(n->messages[0].channel == "whatsapp");
    CHECK(n->messages[0].from == "+33612345678");
    CHECK(n->messages[0].text == "STOP");
    CHECK(n->messages[0].provider_id == "wamid.IN");
}

TEST_CASE("a WhatsApp reply names the message it answers (context.id), and a button reply gives its payload") {
    const std::string body = R"({"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"value":{
        "messaging_product":"whatsapp","metadata":{"display_phone_number":"33100000000","phone_number_id":"42"},
        "messages":[
          {"from":"33612345678","id":"wamid.R1","timestamp":"1764835200","type":"text","text":{"body":"oui"},
           "context":{"from":"33100000000","id":"wamid.OURS"}},
          {"from":"33612345678","id":"wamid.R2","timestamp":"1764835201","type":"button",
           "button":{"payload":"AIDE","text":"J'ai besoin d'aide"},"context":{"from":"33100000000","id":"wamid.OURS"}},
          {"from":"33612345678","id":"wamid.R3","timestamp":"x","type":"interactive",
           "interactive":{"type":"button_reply","button_reply":{"id":"OK","title":"Tout va bien"}}}]},
        "field":"messages"}]}]})";
    auto n = parse_whatsapp_notification(body);
    REQUIRE(n);
    REQUIRE(n->messages.size() == 3);
    CHECK(n->messages[0].text == "oui");
    CHECK(n->messages[0].in_reply_to == "wamid.OURS");
    CHECK(n->messages[0].received_ms == 1764835200000LL);
    CHECK(n->messages[1].text == "AIDE");
    CHECK(n->messages[1].in_reply_to == "wamid.OURS");
    CHECK(n->messages[2].text == "OK");
    CHECK(n->messages[2].in_reply_to.empty());
    CHECK(n->messages[2].received_ms == 0);  // an unreadable timestamp: when it reached us
}
