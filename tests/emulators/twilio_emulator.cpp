// twilio-emulator: a local stand-in for Twilio's Messages API, for tests and the quick start.
// It speaks the documented protocol: POST /2010-04-01/Accounts/{AccountSid}/Messages.json,
// form-encoded, HTTP Basic auth; 201 with the Message resource; Twilio's error bodies
// ({"code","message","more_info","status"}); then status callbacks to StatusCallback, form-encoded
// and signed with X-Twilio-Signature. Fault modes are chosen by the destination number:
//   +33600000429  429 (20429) with Retry-After: 2      +33600000500  500 (20500)
//   +33600021610  400 21610 (unsubscribed)             +33600000408  answers after 3 s
//   +33600030006  accepted, then "undelivered" 30006   +33600000111  "sent" callback before the 201
//   +33600000499  the connection is dropped, no answer  +33600021211  400 21211 (invalid 'To' number)
//   +33600030003  accepted, then "undelivered" 30003 (handset unreachable: switched off) the first
//                 time, delivered the times after (switched on again)
// GET /emulator/messages lists what it received (JSON), for the tests to check every field.
// POST /emulator/inbound (form: From, Body) plays a citizen's reply: the incoming-message webhook
// goes to --inbound-url, signed, with OptOutType as Advanced Opt-Out adds it for its keywords.
// --latency-ms N makes every answer to a send take N ms more (a slow provider).
//   twilio-emulator --port P --account-sid AC… --auth-token T [--callback-delay-ms N] [--inbound-url URL] [--latency-ms N]
#include "emulators/emulator.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "channels/encoding.hpp"
#include "channels/http_client.hpp"
#include "channels/sms/twilio.hpp"

namespace http = emulator::http;
using emulator::json;
using Fields = std::vector<std::pair<std::string, std::string>>;

namespace {

std::string account_sid, auth_token;
int latency_ms = 0;
int callback_delay_ms = 50;
std::string inbound_url;
std::mutex received_mutex;
std::vector<Fields> received;  // each message's form, plus its sid

std::string get(const Fields& f, const std::string& k) {
    for (auto& [n, v] : f)
        if (n == k) return v;
    return {};
}
bool has(const Fields& f, const std::string& k) {
    for (auto& [n, v] : f)
        if (n == k) return true;
    return false;
}

// How many messages were received for `to`, this one included.
std::size_t sent_to_count(const std::string& to) {
    std::lock_guard lock(received_mutex);
    return static_cast<std::size_t>(
        std::count_if(received.begin(), received.end(), [&](const Fields& f) { return get(f, "To") == to; }));
}

std::string new_sid() {
    static std::mt19937_64 rng{std::random_device{}()};
    static std::mutex m;
    std::lock_guard lock(m);
    char buf[35];
    std::snprintf(buf, sizeof buf, "SM%016llx%016llx", static_cast<unsigned long long>(rng()),
                  static_cast<unsigned long long>(rng()));
    return buf;
}

std::string rfc2822_now() {
    char buf[64];
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    return buf;
}

http::response<http::string_body> error(unsigned status, int code, const std::string& message, unsigned version) {
    rapidjson::StringBuffer b;
    rapidjson::Writer<rapidjson::StringBuffer> w(b);
    w.StartObject();
    w.Key("code"); w.Int(code);
    w.Key("message"); w.String(message.c_str());
    w.Key("more_info"); w.String(("https://www.twilio.com/docs/errors/" + std::to_string(code)).c_str());
    w.Key("status"); w.Int(static_cast<int>(status));
    w.EndObject();
    return json(status, b.GetString(), version);
}

// A status callback, as Twilio sends it: a signed form POST.
void callback(const Fields& msg, const std::string& sid, const std::string& status, const std::string& error_code) {
    const std::string url = get(msg, "StatusCallback");
    Fields form{{"MessageSid", sid},      {"SmsSid", sid},           {"MessageStatus", status},
                {"SmsStatus", status},    {"AccountSid", account_sid}, {"From", get(msg, "From")},
                {"To", get(msg, "To")},   {"ApiVersion", "2010-04-01"}};
    if (!error_code.empty()) form.emplace_back("ErrorCode", error_code);
    const std::string body = crieur::form_encode(form);
    const long code = emulator::post(url, body,
                                     {"X-Twilio-Signature: " + crieur::twilio_signature(auth_token, url, form),
                                      "Content-Type: application/x-www-form-urlencoded", "User-Agent: TwilioProxy/1.1"});
    if (code / 100 != 2)
        std::fprintf(stderr, "twilio-emulator: callback %s for %s answered %ld\n", status.c_str(), sid.c_str(), code);
}

http::response<http::string_body> create_message(const http::request<http::string_body>& req, const std::string& sid_in_path) {
    const unsigned v = req.version();
    // Basic auth: AccountSid:AuthToken
    if (req[http::field::authorization] != "Basic " + crieur::base64_encode(account_sid + ":" + auth_token)) return error(401, 20003, "Authenticate", v);
    if (sid_in_path != account_sid) return error(404, 20404, "The requested resource was not found", v);
    if (req[http::field::content_type].find("application/x-www-form-urlencoded") == std::string::npos)
        return error(400, 20001, "Content-Type must be application/x-www-form-urlencoded", v);
    Fields f = crieur::form_decode(req.body());
    const std::string to = get(f, "To");
    if (to.empty()) return error(400, 21604, "A 'To' phone number is required.", v);
    if (!has(f, "From") && !has(f, "MessagingServiceSid")) return error(400, 21603, "A 'From' phone number is required.", v);
    if (get(f, "Body").empty()) return error(400, 21602, "Message body is required.", v);
    if (get(f, "Body").size() > 1600) return error(400, 21617, "The concatenated message body exceeds the 1600 character limit.", v);
    static const std::regex e164(R"(\+[1-9][0-9]{6,14})");
    if (!std::regex_match(to, e164)) return error(400, 21211, "The 'To' number " + to + " is not a valid phone number.", v);
    if (to == "+33600000429") {
        auto r = error(429, 20429, "Too Many Requests", v);
        r.set(http::field::retry_after, "2");
        return r;
    }
    if (to == "+33600000500") return error(500, 20500, "Internal Server Error", v);
    if (to == "+33600021610") return error(400, 21610, "Attempt to send to unsubscribed recipient", v);
    if (to == "+33600021211") return error(400, 21211, "The 'To' number " + to + " is not a valid phone number.", v);
    if (to == "+33600000408") std::this_thread::sleep_for(std::chrono::seconds(3));
    if (latency_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(latency_ms));
    if (to == "+33600000499") return emulator::drop_connection();

    const std::string sid = new_sid();
    f.emplace_back("Sid", sid);
    {
        std::lock_guard lock(received_mutex);
        received.push_back(f);
    }
    // The unreachable handset is switched on again after its first message.
    const bool switched_off = to == "+33600030003" && sent_to_count(to) == 1;
    if (has(f, "StatusCallback")) {
        if (to == "+33600000111") callback(f, sid, "sent", "");  // before the create call is answered
        std::thread([f, sid, to, switched_off] {
            std::this_thread::sleep_for(std::chrono::milliseconds(callback_delay_ms));
            if (to != "+33600000111") callback(f, sid, "sent", "");
            if (to == "+33600030006") callback(f, sid, "undelivered", "30006");
            else if (switched_off) callback(f, sid, "undelivered", "30003");
            else callback(f, sid, "delivered", "");
        }).detach();
    }
    rapidjson::StringBuffer b;
    rapidjson::Writer<rapidjson::StringBuffer> w(b);
    const std::string now = rfc2822_now();
    w.StartObject();
    auto field = [&](const char* k, const std::string& val) { w.Key(k); w.String(val.c_str()); };
    field("account_sid", account_sid);
    field("api_version", "2010-04-01");
    field("body", get(f, "Body"));
    field("date_created", now);
    field("date_sent", "");
    field("date_updated", now);
    field("direction", "outbound-api");
    w.Key("error_code"); w.Null();
    w.Key("error_message"); w.Null();
    field("from", get(f, "From"));
    if (has(f, "MessagingServiceSid")) field("messaging_service_sid", get(f, "MessagingServiceSid"));
    else { w.Key("messaging_service_sid"); w.Null(); }
    field("num_media", "0");
    field("num_segments", "1");
    w.Key("price"); w.Null();
    field("price_unit", "USD");
    field("sid", sid);
    field("status", "queued");
    field("to", to);
    field("uri", "/2010-04-01/Accounts/" + account_sid + "/Messages/" + sid + ".json");
    w.EndObject();
    return json(201, b.GetString(), v);
}

http::response<http::string_body> list_received(unsigned version) {
    rapidjson::StringBuffer b;
    rapidjson::Writer<rapidjson::StringBuffer> w(b);
    w.StartArray();
    std::lock_guard lock(received_mutex);
    for (auto& f : received) {
        w.StartObject();
        for (auto& [k, v] : f) {
            w.Key(k.c_str());
            w.String(v.c_str());
        }
        w.EndObject();
    }
    w.EndArray();
    return json(200, b.GetString(), version);
}

// A citizen's SMS to our number, as Twilio posts it to the number's webhook.
http::response<http::string_body> inbound(const emulator::Request& req) {
    std::string from, body;
    for (auto& [k, v] : crieur::form_decode(req.body())) {
        if (k == "From") from = v;
        else if (k == "Body") body = v;
    }
    std::string word;
    for (unsigned char c : body) word += static_cast<char>(std::toupper(c));
    std::string opt_out_type;  // Advanced Opt-Out's default keywords
    for (const char* k : {"STOP", "STOPALL", "UNSUBSCRIBE", "END", "QUIT", "REVOKE", "OPTOUT", "CANCEL"})
        if (word == k) opt_out_type = "STOP";
    if (word == "START" || word == "UNSTOP") opt_out_type = "START";
    const std::string sid = new_sid();
    Fields form{{"ToCountry", "FR"},   {"SmsMessageSid", sid}, {"NumMedia", "0"},        {"SmsSid", sid},
                {"SmsStatus", "received"}, {"Body", body},     {"FromCountry", "FR"},    {"To", "+33700000001"},
                {"NumSegments", "1"},  {"MessageSid", sid},    {"AccountSid", account_sid}, {"From", from},
                {"ApiVersion", "2010-04-01"}};
    if (!opt_out_type.empty()) form.emplace_back("OptOutType", opt_out_type);
    const long code = emulator::post(inbound_url, crieur::form_encode(form),
                                     {"X-Twilio-Signature: " + crieur::twilio_signature(auth_token, inbound_url, form),
                                      "Content-Type: application/x-www-form-urlencoded", "User-Agent: TwilioProxy/1.1"});
    return json(200, "{\"webhook_status\":" + std::to_string(code) + "}", req.version());
}

http::response<http::string_body> handle(const emulator::Request& req) {
    static const std::regex create(R"(/2010-04-01/Accounts/([^/]+)/Messages\.json)");
    std::smatch m;
    const std::string target(req.target());
    if (req.method() == http::verb::post && std::regex_match(target, m, create)) return create_message(req, m[1]);
    if (req.method() == http::verb::get && target == "/emulator/messages") return list_received(req.version());
    if (req.method() == http::verb::post && target == "/emulator/inbound" && !inbound_url.empty()) return inbound(req);
    return error(404, 20404, "The requested resource was not found", req.version());
}

}  // namespace

int main(int argc, char** argv) {
    int port = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string a = argv[i];
        if (a == "--port") port = std::atoi(argv[i + 1]);
        else if (a == "--account-sid") account_sid = argv[i + 1];
        else if (a == "--auth-token") auth_token = argv[i + 1];
        else if (a == "--callback-delay-ms") callback_delay_ms = std::atoi(argv[i + 1]);
        else if (a == "--inbound-url") inbound_url = argv[i + 1];
        else if (a == "--latency-ms") latency_ms = std::atoi(argv[i + 1]);
    }
    if (account_sid.empty() || auth_token.empty()) {
        std::fprintf(stderr, "usage: twilio-emulator --port P --account-sid AC... --auth-token T [--callback-delay-ms N]\n");
        return 2;
    }
    emulator::serve(static_cast<unsigned short>(port), "twilio-emulator", handle);
}
