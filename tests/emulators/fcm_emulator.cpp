// fcm-emulator: a local stand-in for Google's OAuth2 token endpoint and FCM HTTP v1, for tests.
//   POST /token  grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<JWT>: the RS256
//                signature is verified with the service account's key, and iss, scope, aud, exp
//                checked; answers {"access_token","expires_in":3600,"token_type":"Bearer"}.
//   POST /v1/projects/{project}/messages:send  with a token it issued: 200 {"name": …}; a
//                registration token starting with "unregistered" → 404 UNREGISTERED.
//   GET /emulator/messages, /emulator/tokens: what it received, how many tokens it issued.
//   fcm-emulator --port P --project ID --key-file service-account.json
#include "emulators/emulator.hpp"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <rapidjson/document.h>

#include <atomic>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "channels/encoding.hpp"
#include "channels/http_client.hpp"
#include "channels/push/fcm.hpp"

namespace http = emulator::http;
using emulator::json;

namespace {

std::string project;
crieur::ServiceAccount account;
std::mutex mutex;
std::set<std::string> issued;
std::vector<std::string> messages;
std::atomic<int> exchanges{0};

bool verify_rs256(const std::string& jwt, rapidjson::Document& claims) {
    const auto dot1 = jwt.find('.'), dot2 = jwt.rfind('.');
    if (dot1 == std::string::npos || dot2 == dot1) return false;
    const std::string input = jwt.substr(0, dot2);
    auto sig = crieur::base64url_decode(jwt.substr(dot2 + 1));
    auto payload = crieur::base64url_decode(jwt.substr(dot1 + 1, dot2 - dot1 - 1));
    if (!sig || !payload) return false;
    BIO* bio = BIO_new_mem_buf(account.private_key_pem.data(), static_cast<int>(account.private_key_pem.size()));
    EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    EVP_MD_CTX* md = EVP_MD_CTX_new();
    const bool ok = key && EVP_DigestVerifyInit(md, nullptr, EVP_sha256(), nullptr, key) > 0 &&
                    EVP_DigestVerify(md, reinterpret_cast<const unsigned char*>(sig->data()), sig->size(),
                                     reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(key);
    if (!ok) return false;
    claims.Parse(payload->c_str());
    return !claims.HasParseError() && claims.IsObject();
}

http::response<http::string_body> oauth_error(const std::string& what, unsigned v) {
    return json(400, R"({"error":"invalid_grant","error_description":")" + what + R"("})", v);
}

http::response<http::string_body> token(const emulator::Request& req) {
    std::string grant, assertion;
    for (auto& [k, v] : crieur::form_decode(req.body())) {
        if (k == "grant_type") grant = v;
        else if (k == "assertion") assertion = v;
    }
    if (grant != "urn:ietf:params:oauth:grant-type:jwt-bearer") return oauth_error("unsupported grant_type", req.version());
    rapidjson::Document claims;
    if (!verify_rs256(assertion, claims)) return oauth_error("Invalid JWT Signature.", req.version());
    auto str = [&](const char* k) { return claims.HasMember(k) && claims[k].IsString() ? std::string(claims[k].GetString()) : ""; };
    const long now = static_cast<long>(std::time(nullptr));
    if (str("iss") != account.client_email || str("aud") != account.token_uri ||
        str("scope").find("https://www.googleapis.com/auth/firebase.messaging") == std::string::npos ||
        !claims.HasMember("exp") || !claims["exp"].IsInt64() || claims["exp"].GetInt64() < now ||
        claims["exp"].GetInt64() > now + 3700)
        return oauth_error("Invalid JWT: claims", req.version());
    static std::mt19937_64 rng{std::random_device{}()};
    std::string t;
    {
        std::lock_guard lock(mutex);
        t = "ya29.emulator-" + std::to_string(rng());
        issued.insert(t);
    }
    ++exchanges;
    return json(200, R"({"access_token":")" + t + R"(","expires_in":3599,"token_type":"Bearer"})", req.version());
}

http::response<http::string_body> fcm_error(unsigned status, const char* state, const char* code, const char* message, unsigned v) {
    return json(status, std::string(R"({"error":{"code":)") + std::to_string(status) + R"(,"message":")" + message +
                            R"(","status":")" + state +
                            R"(","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":")" +
                            code + R"("}]}})", v);
}

http::response<http::string_body> send(const emulator::Request& req) {
    const unsigned v = req.version();
    const std::string auth(req[http::field::authorization]);
    {
        std::lock_guard lock(mutex);
        if (!auth.starts_with("Bearer ") || !issued.count(auth.substr(7)))
            return json(401, R"({"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}})", v);
    }
    rapidjson::Document d;
    d.Parse(req.body().c_str());
    if (d.HasParseError() || !d.IsObject() || !d.HasMember("message") || !d["message"].IsObject() ||
        !d["message"].HasMember("token") || !d["message"]["token"].IsString())
        return fcm_error(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "Invalid JSON payload received.", v);
    const std::string to = d["message"]["token"].GetString();
    if (to.starts_with("unregistered")) return fcm_error(404, "NOT_FOUND", "UNREGISTERED", "Requested entity was not found.", v);
    {
        std::lock_guard lock(mutex);
        messages.push_back(req.body());
    }
    static std::atomic<unsigned long long> n{1};
    return json(200, R"({"name":"projects/)" + project + "/messages/0:" + std::to_string(n++) + R"("})", v);
}

http::response<http::string_body> handle(const emulator::Request& req) {
    const std::string target(req.target());
    if (req.method() == http::verb::post && target == "/token") return token(req);
    if (req.method() == http::verb::post && target == "/v1/projects/" + project + "/messages:send") return send(req);
    if (req.method() == http::verb::get && target == "/emulator/messages") {
        std::lock_guard lock(mutex);
        std::string all = "[";
        for (auto& m : messages) all += (all.size() > 1 ? "," : "") + m;
        return json(200, all + "]", req.version());
    }
    if (req.method() == http::verb::get && target == "/emulator/tokens")
        return json(200, R"({"exchanges":)" + std::to_string(exchanges.load()) + "}", req.version());
    return json(404, R"({"error":{"code":404,"status":"NOT_FOUND"}})", req.version());
}

}  // namespace

int main(int argc, char** argv) {
    int port = 0;
    std::string key_file;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string a = argv[i];
        if (a == "--port") port = std::atoi(argv[i + 1]);
        else if (a == "--project") project = argv[i + 1];
        else if (a == "--key-file") key_file = argv[i + 1];
    }
    if (project.empty() || key_file.empty()) {
        std::fprintf(stderr, "usage: fcm-emulator --port P --project ID --key-file service-account.json\n");
        return 2;
    }
    account = crieur::read_service_account(key_file);
    emulator::serve(static_cast<unsigned short>(port), "fcm-emulator", handle);
}
