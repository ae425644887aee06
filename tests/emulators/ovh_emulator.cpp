// ovh-emulator: a local stand-in for the OVHcloud SMS API v1, for tests. It checks what the API
// checks: X-Ovh-Application, X-Ovh-Consumer, a timestamp within 5 minutes, and X-Ovh-Signature
// ("$1$" + SHA1(secret+consumer+method+URL+body+timestamp)); then POST /1.0/sms/{service}/jobs
// answers {"totalCreditsRemoved","invalidReceivers","ids","validReceivers"} and, after a moment,
// calls the delivery report URL with ?id=…&dlr=1 (dlr=2 for +33600000002). +33600000000 is an
// invalid receiver; a sender over 11 characters is a 400. GET /emulator/jobs lists the bodies.
//   ovh-emulator --port P --service sms-xx1 --application-key AK --application-secret AS
//                --consumer-key CK --callback URL
#include "emulators/emulator.hpp"

#include <rapidjson/document.h>

#include <chrono>
#include <mutex>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <vector>

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

http::response<http::string_body> send(const emulator::Request& req) {
    const unsigned v = req.version();
    if (req["X-Ovh-Application"] != application_key) return error(403, "INVALID_KEY", "This application key is invalid", v);
    if (req["X-Ovh-Consumer"] != consumer_key) return error(403, "INVALID_CREDENTIAL", "This credential is not valid", v);
    const std::string ts(req["X-Ovh-Timestamp"]);
    const long now = static_cast<long>(std::time(nullptr));
    if (ts.empty() || std::labs(std::atol(ts.c_str()) - now) > 300) return error(400, "QUERY_TIME_OUT", "Query out of time", v);
    const std::string url = "http://" + std::string(req[http::field::host]) + std::string(req.target());
    if (req["X-Ovh-Signature"] != crieur::ovh_signature(application_secret, consumer_key, "POST", url, req.body(), ts))
        return error(400, "INVALID_SIGNATURE", "Invalid signature", v);
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

http::response<http::string_body> handle(const emulator::Request& req) {
    const std::string target(req.target());
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
