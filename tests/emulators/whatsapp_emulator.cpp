// whatsapp-emulator: a local stand-in for Meta's WhatsApp Cloud API, for tests. It speaks the
// documented protocol: POST /{version}/{phone-number-id}/messages with a bearer token and a JSON
// template message; 200 with {"messaging_product","contacts","messages":[{"id":"wamid…"}]};
// Graph API error bodies ({"error":{"message","type","code","fbtrace_id"}}); then status
// webhooks (sent, delivered, read, or failed with errors[].code) to --webhook, signed with
// X-Hub-Signature-256 (HMAC-SHA256 of the raw body with the app secret). Fault modes by the
// destination: 33600131026 accepted then failed 131026 (not on WhatsApp), 33600130429 429
// (130429), 33600000500 500 (code 2). GET /emulator/messages lists the bodies it received.
// POST /emulator/inbound {"from","text","button","context"} plays a citizen's message (below).
//   whatsapp-emulator --port P --phone-number-id ID --access-token T --app-secret S --webhook URL
#include "emulators/emulator.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <chrono>
#include <ctime>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "channels/whatsapp/cloud_api.hpp"

namespace http = emulator::http;
using emulator::json;

namespace {

std::string phone_number_id, access_token, app_secret, webhook;
std::mutex received_mutex;
std::vector<std::string> received;
std::map<std::string, std::vector<std::string>> sent_ids;  // by destination: the wamids given, in order

http::response<http::string_body> error(unsigned status, int code, const std::string& message, unsigned version) {
    rapidjson::StringBuffer b;
    rapidjson::Writer<rapidjson::StringBuffer> w(b);
    w.StartObject();
    w.Key("error");
    w.StartObject();
    w.Key("message"); w.String(("(#" + std::to_string(code) + ") " + message).c_str());
    w.Key("type"); w.String(code == 190 ? "OAuthException" : "OAuthException");
    w.Key("code"); w.Int(code);
    w.Key("fbtrace_id"); w.String("AbCdEfGhIjKlMnOp");
    w.EndObject();
    w.EndObject();
    return json(status, b.GetString(), version);
}

std::string wamid() {
    static std::mt19937_64 rng{std::random_device{}()};
    static std::mutex m;
    std::lock_guard lock(m);
    char buf[64];
    std::snprintf(buf, sizeof buf, "wamid.HBgL%016llX%08X", static_cast<unsigned long long>(rng()),
                  static_cast<unsigned>(rng()));
    return buf;
}

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

// POSTs a `messages` webhook to --webhook, signed as Meta signs it: the envelope around what
// `value` writes (statuses, or a citizen's messages). Returns the daemon's HTTP status.
long post_webhook(const std::function<void(Writer&)>& value) {
    rapidjson::StringBuffer b;
    Writer w(b);
    w.StartObject();
    w.Key("object"); w.String("whatsapp_business_account");
    w.Key("entry"); w.StartArray(); w.StartObject();
    w.Key("id"); w.String("102290129340398");
    w.Key("changes"); w.StartArray(); w.StartObject();
    w.Key("value"); w.StartObject();
    w.Key("messaging_product"); w.String("whatsapp");
    w.Key("metadata"); w.StartObject();
    w.Key("display_phone_number"); w.String("33700000001");
    w.Key("phone_number_id"); w.String(phone_number_id.c_str());
    w.EndObject();
    value(w);
    w.EndObject();
    w.Key("field"); w.String("messages");
    w.EndObject(); w.EndArray();
    w.EndObject(); w.EndArray();
    w.EndObject();
    const std::string body = b.GetString();
    return emulator::post(webhook, body,
                          {"Content-Type: application/json", "X-Hub-Signature-256: " + crieur::whatsapp_signature(app_secret, body)});
}

void notify(const std::string& id, const std::string& to, const std::string& status, int error_code,
            const std::string& opaque) {
    const long code = post_webhook([&](Writer& w) {
        w.Key("statuses"); w.StartArray(); w.StartObject();
        w.Key("id"); w.String(id.c_str());
        w.Key("status"); w.String(status.c_str());
        w.Key("timestamp"); w.String(std::to_string(std::time(nullptr)).c_str());
        w.Key("recipient_id"); w.String(to.c_str());
        w.Key("biz_opaque_callback_data"); w.String(opaque.c_str());
        if (error_code) {
            w.Key("errors"); w.StartArray(); w.StartObject();
            w.Key("code"); w.Int(error_code);
            w.Key("title"); w.String("Message undeliverable");
            w.Key("message"); w.String("Message undeliverable");
            w.EndObject(); w.EndArray();
        }
        w.EndObject(); w.EndArray();
    });
    if (code / 100 != 2) std::fprintf(stderr, "whatsapp-emulator: webhook %s for %s answered %ld\n", status.c_str(), id.c_str(), code);
}

http::response<http::string_body> send(const emulator::Request& req) {
    const unsigned v = req.version();
    if (req[http::field::authorization] != "Bearer " + access_token) return error(401, 190, "Invalid OAuth access token.", v);
    rapidjson::Document d;
    d.Parse(req.body().c_str());
    auto str = [&](const rapidjson::Value& o, const char* k) {
        return o.IsObject() && o.HasMember(k) && o[k].IsString() ? std::string(o[k].GetString()) : std::string();
    };
    if (d.HasParseError() || !d.IsObject()) return error(400, 100, "Invalid parameter", v);
    if (str(d, "messaging_product") != "whatsapp") return error(400, 100, "Param messaging_product is required", v);
    const std::string to = str(d, "to");
    static const std::regex digits(R"([1-9][0-9]{6,14})");
    if (!std::regex_match(to, digits)) return error(400, 100, "Invalid parameter: to", v);
    if (str(d, "type") != "template" || !d.HasMember("template")) return error(400, 131047, "Re-engagement message", v);
    const auto& t = d["template"];
    if (str(t, "name").empty() || !t.HasMember("language") || str(t["language"], "code").empty())
        return error(400, 132001, "Template name does not exist in the translation", v);
    if (to == "33600130429") return error(429, 130429, "Rate limit hit", v);
    if (to == "33600000500") return error(500, 2, "Service temporarily unavailable", v);
    {
        std::lock_guard lock(received_mutex);
        received.push_back(req.body());
    }
    const std::string id = wamid(), opaque = str(d, "biz_opaque_callback_data");
    {
        std::lock_guard lock(received_mutex);
        sent_ids[to].push_back(id);
    }
    if (!webhook.empty())
        std::thread([id, to, opaque] {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            notify(id, to, "sent", 0, opaque);
            if (to == "33600131026") return notify(id, to, "failed", 131026, opaque);
            notify(id, to, "delivered", 0, opaque);
            notify(id, to, "read", 0, opaque);
        }).detach();
    return json(200,
                R"({"messaging_product":"whatsapp","contacts":[{"input":")" + to + R"(","wa_id":")" + to +
                    R"("}],"messages":[{"id":")" + id + R"(","message_status":"accepted"}]})",
                v);
}

// A citizen's message to the business number, as the `messages` webhook posts it: a text, or a
// template's quick-reply button (its payload); `context` names the message answered, as WhatsApp
// does when the citizen replies to one: "latest" (the latest sent to them), "first" or none.
http::response<http::string_body> inbound(const emulator::Request& req) {
    rapidjson::Document in;
    in.Parse(req.body().c_str());
    auto str = [&](const char* k) {
        return in.IsObject() && in.HasMember(k) && in[k].IsString() ? std::string(in[k].GetString()) : std::string();
    };
    const std::string from = str("from"), context = str("context"), button = str("button");
    std::string answered;
    {
        std::lock_guard lock(received_mutex);
        auto& ids = sent_ids[from];
        if (!ids.empty() && context == "latest") answered = ids.back();
        if (!ids.empty() && context == "first") answered = ids.front();
    }
    const long code = post_webhook([&](Writer& w) {
        w.Key("contacts"); w.StartArray(); w.StartObject();
        w.Key("profile"); w.StartObject(); w.Key("name"); w.String("Citizen"); w.EndObject();
        w.Key("wa_id"); w.String(from.c_str());
        w.EndObject(); w.EndArray();
        w.Key("messages"); w.StartArray(); w.StartObject();
        if (!answered.empty()) {
            w.Key("context"); w.StartObject();
            w.Key("from"); w.String("33700000001");
            w.Key("id"); w.String(answered.c_str());
            w.EndObject();
        }
        w.Key("from"); w.String(from.c_str());
        w.Key("id"); w.String(wamid().c_str());
        w.Key("timestamp"); w.String(std::to_string(std::time(nullptr)).c_str());
        if (!button.empty()) {
            w.Key("type"); w.String("button");
            w.Key("button"); w.StartObject();
            w.Key("payload"); w.String(button.c_str());
            w.Key("text"); w.String(str("text").c_str());
            w.EndObject();
        } else {
            w.Key("type"); w.String("text");
            w.Key("text"); w.StartObject(); w.Key("body"); w.String(str("text").c_str()); w.EndObject();
        }
        w.EndObject(); w.EndArray();
    });
    return json(200, "{\"webhook_status\":" + std::to_string(code) + ",\"context\":\"" + answered + "\"}", req.version());
}

http::response<http::string_body> handle(const emulator::Request& req) {
    static const std::regex messages(R"(/v[0-9.]+/([^/]+)/messages)");
    std::smatch m;
    const std::string target(req.target());
    if (req.method() == http::verb::post && std::regex_match(target, m, messages)) {
        if (m[1] != phone_number_id) return error(400, 100, "Unsupported post request", req.version());
        return send(req);
    }
    if (req.method() == http::verb::post && target == "/emulator/inbound" && !webhook.empty()) return inbound(req);
    if (req.method() == http::verb::get && target == "/emulator/messages") {
        std::lock_guard lock(received_mutex);
        std::string all = "[";
        for (auto& r : received) all += (all.size() > 1 ? "," : "") + r;
        return json(200, all + "]", req.version());
    }
    return error(404, 100, "Unknown path", req.version());
}

}  // namespace

int main(int argc, char** argv) {
    int port = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string a = argv[i];
        if (a == "--port") port = std::atoi(argv[i + 1]);
        else if (a == "--phone-number-id") phone_number_id = argv[i + 1];
        else if (a == "--access-token") access_token = argv[i + 1];
        else if (a == "--app-secret") app_secret = argv[i + 1];
        else if (a == "--webhook") webhook = argv[i + 1];
    }
    if (phone_number_id.empty() || access_token.empty() || app_secret.empty()) {
        std::fprintf(stderr, "usage: whatsapp-emulator --port P --phone-number-id ID --access-token T --app-secret S [--webhook URL]\n");
        return 2;
    }
    emulator::serve(static_cast<unsigned short>(port), "whatsapp-emulator", handle);
}
