// ovh-emulator: a local stand-in for the OVHcloud SMS API v1, for tests. It checks what the API
// checks: X-Ovh-Application, X-Ovh-Consumer, a timestamp within 5 minutes, and X-Ovh-Signature
// ("$1$" + SHA1(secret+consumer+method+URL+body+timestamp)); then POST /1.0/sms/{service}/jobs
// answers {"totalCreditsRemoved","invalidReceivers","ids","validReceivers"} and, after a moment,
// calls the delivery report URL with ?id=…&dlr=1 (dlr=2 for +33600000002). +33600000000 is an
// invalid receiver; a sender over 11 characters is a 400. GET /emulator/jobs lists the bodies.
// Citizens' replies wait under GET /1.0/sms/{service}/incoming[/{id}] until DELETEd, as OVH
// keeps them; POST /emulator/inbound (form: From, Body) plays one.
//   ovh-emulator --port P --service sms-xx1 --application-key AK --application-secret AS
//                --consumer-key CK --callback URL
#include "emulators/emulator.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <ctime>
#include <optional>

#include <chrono>
#include <mutex>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "channels/encoding.hpp"
#include "channels/sms/ovh.hpp"

namespace http = emulator::http;
using emulator::json;

namespace {

std::string service, application_key, application_secret, consumer_key, callback;
std::mutex mutex;
std::vector<std::string> jobs;

http::response<http::string_body> error(unsigned status, const std::string& code, const std::string& message, unsigned v) {
    return json(status, R"({"errorCode":")" + code + R"(","httpCode":")" + std::to_string(status) + R"(","message":")" +
                            message + R"("})", v);
}

// What the API answers a request whose credentials or signature do not hold; nullopt: they hold.
std::optional<http::response<http::string_body>> refused(const emulator::Request& req) {
    const unsigned v = req.version();
    if (req["X-Ovh-Application"] != application_key) return error(403, "INVALID_KEY", "This application key is invalid", v);
    if (req["X-Ovh-Consumer"] != consumer_key) return error(403, "INVALID_CREDENTIAL", "This credential is not valid", v);
    const std::string ts(req["X-Ovh-Timestamp"]);
    const long now = static_cast<long>(std::time(nullptr));
    if (ts.empty() || std::labs(std::atol(ts.c_str()) - now) > 300) return error(400, "QUERY_TIME_OUT", "Query out of time", v);
    const std::string url = "http://" + std::string(req[http::field::host]) + std::string(req.target());
    const std::string method(req.method_string());
    if (req["X-Ovh-Signature"] != crieur::ovh_signature(application_secret, consumer_key, method, url, req.body(), ts))
        return error(400, "INVALID_SIGNATURE", "Invalid signature", v);
    return std::nullopt;
}

// Citizens' SMS to the service's number, waiting to be read (OVH pushes none).
struct Incoming {
    long long id;
    std::string sender, message, created;
};
std::vector<Incoming> incoming;
long long next_incoming = 1000;

http::response<http::string_body> send(const emulator::Request& req) {
    const unsigned v = req.version();
    if (auto no = refused(req)) return *no;
    rapidjson::Document d;
    d.Parse(req.body().c_str());
    if (d.HasParseError() || !d.IsObject() || !d.HasMember("message") || !d["message"].IsString() ||
        !d.HasMember("receivers") || !d["receivers"].IsArray())
        return error(400, "INVALID_PARAMETER", "Missing parameter message or receivers", v);
    if (d.HasMember("sender") && d["sender"].IsString() && d["sender"].GetStringLength() > 11)
        return error(400, "INVALID_SENDER", "Invalid sender", v);
    {
        std::lock_guard lock(mutex);
        jobs.push_back(req.body());
    }
    static std::mt19937_64 rng{std::random_device{}()};
    std::string valid, invalid, ids;
    for (auto& r : d["receivers"].GetArray()) {
        const std::string to = r.GetString();
        if (to == "+33600000000") {
            invalid += (invalid.empty() ? "\"" : ",\"") + to + "\"";
            continue;
        }
        std::uint64_t id;
        {
            std::lock_guard lock(mutex);
            id = rng() % 1'000'000'000ULL + 1;
        }
        valid += (valid.empty() ? "\"" : ",\"") + to + "\"";
        ids += (ids.empty() ? "" : ",") + std::to_string(id);
        if (!callback.empty())
            std::thread([id, to] {
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
                const std::string dlr = to == "+33600000002" ? "2" : "1";
                emulator::post(callback + "?id=" + std::to_string(id) + "&dlr=" + dlr, "", {});
            }).detach();
    }
    return json(200, R"({"totalCreditsRemoved":)" + std::to_string(ids.empty() ? 0 : 1) + R"(,"invalidReceivers":[)" +
                         invalid + R"(],"ids":[)" + ids + R"(],"validReceivers":[)" + valid + "]}",
                v);
}

// GET /1.0/sms/{service}/incoming: the ids; GET .../incoming/{id}: one, as sms.Incoming;
// DELETE .../incoming/{id}: gone.
http::response<http::string_body> incoming_route(const emulator::Request& req, const std::string& id) {
    const unsigned v = req.version();
    if (auto no = refused(req)) return *no;
    std::lock_guard lock(mutex);
    if (id.empty()) {
        std::string ids;
        for (auto& m : incoming) ids += (ids.empty() ? "" : ",") + std::to_string(m.id);
        return json(200, "[" + ids + "]", v);
    }
    auto it = std::find_if(incoming.begin(), incoming.end(), [&](const Incoming& m) { return std::to_string(m.id) == id; });
    if (it == incoming.end()) return error(404, "NOT_FOUND", "The requested object (id = " + id + ") does not exist", v);
    if (req.method() == http::verb::delete_) {
        incoming.erase(it);
        return json(200, "null", v);
    }
    rapidjson::StringBuffer b;
    rapidjson::Writer<rapidjson::StringBuffer> w(b);
    w.StartObject();
    w.Key("creationDatetime"); w.String(it->created.c_str());
    w.Key("credits"); w.Int(0);
    w.Key("id"); w.Int64(it->id);
    w.Key("message"); w.String(it->message.c_str());
    w.Key("sender"); w.String(it->sender.c_str());
    w.Key("tag"); w.String("");
    w.EndObject();
    return json(200, b.GetString(), v);
}

// POST /emulator/inbound (form: From, Body) plays a citizen's SMS; GET /emulator/incoming says
// how many wait (read and not deleted).
http::response<http::string_body> play_inbound(const emulator::Request& req) {
    std::string from, body;
    for (auto& [k, v] : crieur::form_decode(req.body())) {
        if (k == "From") from = v;
        else if (k == "Body") body = v;
    }
    if (from.starts_with("+")) from = "00" + from.substr(1);  // as OVH writes it
    const std::time_t t = std::time(nullptr);
    char created[32];
    std::strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%S+00:00", std::gmtime(&t));
    std::lock_guard lock(mutex);
    incoming.push_back({next_incoming++, from, body, created});
    return json(200, "{\"id\":" + std::to_string(incoming.back().id) + "}", req.version());
}

http::response<http::string_body> handle(const emulator::Request& req) {
    const std::string target(req.target());
    const std::string in = "/1.0/sms/" + service + "/incoming";
    if (target == in && req.method() == http::verb::get) return incoming_route(req, "");
    if (target.starts_with(in + "/") && (req.method() == http::verb::get || req.method() == http::verb::delete_))
        return incoming_route(req, target.substr(in.size() + 1));
    if (req.method() == http::verb::post && target == "/emulator/inbound") return play_inbound(req);
    if (req.method() == http::verb::get && target == "/emulator/incoming") {
        std::lock_guard lock(mutex);
        return json(200, "{\"waiting\":" + std::to_string(incoming.size()) + "}", req.version());
    }
    if (req.method() == http::verb::post && target == "/1.0/sms/" + service + "/jobs") return send(req);
    if (req.method() == http::verb::get && target == "/emulator/jobs") {
        std::lock_guard lock(mutex);
        std::string all = "[";
        for (auto& j : jobs) all += (all.size() > 1 ? "," : "") + j;
        return json(200, all + "]", req.version());
    }
    return error(404, "NOT_FOUND", "The requested object does not exist", req.version());
}

}  // namespace

int main(int argc, char** argv) {
    int port = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string a = argv[i];
        if (a == "--port") port = std::atoi(argv[i + 1]);
        else if (a == "--service") service = argv[i + 1];
        else if (a == "--application-key") application_key = argv[i + 1];
        else if (a == "--application-secret") application_secret = argv[i + 1];
        else if (a == "--consumer-key") consumer_key = argv[i + 1];
        else if (a == "--callback") callback = argv[i + 1];
    }
    if (service.empty() || application_key.empty() || application_secret.empty() || consumer_key.empty()) {
        std::fprintf(stderr, "usage: ovh-emulator --port P --service S --application-key AK --application-secret AS --consumer-key CK [--callback URL]\n");
        return 2;
    }
    emulator::serve(static_cast<unsigned short>(port), "ovh-emulator", handle);
}
