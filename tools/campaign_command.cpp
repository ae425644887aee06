// `crieur campaign`: campaigns through the daemon's API (docs/campaigns.md), with the operators'
// token of the config (http.api_token_env or _file), on the daemon's internal listener. The
// daemon takes the snapshot and fans the jobs out; the command shows its progress.
#include "tools/campaign_command.hpp"

#include <curl/curl.h>
#include <unistd.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace crieur::cli {

namespace {
struct Answer {
    long status = 0;
    std::string body;
};

struct CurlFree {
    void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistFree {
    void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

std::size_t collect(char* data, std::size_t size, std::size_t n, void* out) {
    static_cast<std::string*>(out)->append(data, size * n);
    return size * n;
}

// Where the daemon's API is: its advertised URL, else its listener (a wildcard one on loopback).
std::string base_url(const Config& c) {
    if (!c.http.advertise_url.empty()) return c.http.advertise_url;
    std::string host = c.http.listen;
    if (host == "0.0.0.0" || host.empty()) host = "127.0.0.1";
    else if (host == "::") host = "[::1]";
    else if (host.find(':') != std::string::npos) host = "[" + host + "]";
    return "http://" + host + ":" + std::to_string(c.http.port);
}

Answer call(const Config& c, const std::string& method, const std::string& path, const std::string& body = {}) {
    if (c.http.api_token.empty())
        throw std::runtime_error("the config gives no operators' token (http.api_token_env or http.api_token_file)");
    std::unique_ptr<CURL, CurlFree> curl(curl_easy_init());
    if (!curl) throw std::runtime_error("libcurl could not start");
    std::unique_ptr<curl_slist, SlistFree> headers(curl_slist_append(nullptr, ("Authorization: Bearer " + c.http.api_token).c_str()));
    headers.reset(curl_slist_append(headers.release(), "Content-Type: application/json"));
    Answer a;
    const std::string url = base_url(c) + path;
    curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl.get(), CURLOPT_CUSTOMREQUEST, method.c_str());
    curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, headers.get());
    if (method == "POST") {
        curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDS, body.c_str());
        curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    }
    curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &a.body);
    curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT, 60L);
    const CURLcode rc = curl_easy_perform(curl.get());
    if (rc != CURLE_OK) throw std::runtime_error("the daemon at " + base_url(c) + " did not answer: " + curl_easy_strerror(rc));
    curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &a.status);
    return a;
}

std::string read_input(const std::string& file) {
    std::stringstream body;
    if (file == "-") body << std::cin.rdbuf();
    else {
        std::ifstream in(file, std::ios::binary);
        if (!in) throw std::runtime_error("cannot read " + file);
        body << in.rdbuf();
    }
    return body.str();
}

// A refusal as the operator reads it: the field and the detail of the problem document.
int refused(const Answer& a, const std::string& what) {
    rapidjson::Document d;
    d.Parse(a.body.c_str());
    std::string detail = a.body;
    if (d.IsObject() && d.HasMember("detail") && d["detail"].IsString()) detail = d["detail"].GetString();
    std::fprintf(stderr, "crieur: %s: %ld %s\n", what.c_str(), a.status, detail.c_str());
    return a.status == 503 ? 75 : 1;
}

std::string with_service(const std::string& body, const std::string& service) {
    if (service.empty()) return body;
    rapidjson::Document d;
    d.Parse(body.c_str());
    if (!d.IsObject()) return body;  // the daemon names what is wrong
    d.RemoveMember("service");
    d.AddMember("service", rapidjson::Value(service.c_str(), d.GetAllocator()), d.GetAllocator());
    rapidjson::StringBuffer b;
    rapidjson::Writer<rapidjson::StringBuffer> w(b);
    d.Accept(w);
    return b.GetString();
}

std::int64_t number(const rapidjson::Value& v, const char* key) {
    return v.IsObject() && v.HasMember(key) && v[key].IsInt64() ? v[key].GetInt64() : 0;
}

// Shows the fan-out going until every job is on the stream (or the campaign ends), on one line
// rewritten in place when stderr is a terminal.
int follow(const Config& c, const std::string& id) {
    const bool tty = isatty(fileno(stderr));
    std::string state;
    for (;;) {
        auto a = call(c, "GET", "/v1/campaigns/" + id);
        if (a.status != 200) return refused(a, id);
        rapidjson::Document d;
        d.Parse(a.body.c_str());
        state = d["state"].GetString();
        const auto members = number(d, "members"), queued = number(d, "queued");
        const auto messages = d.HasMember("counts") ? number(d["counts"], "messages") : 0;
        std::fprintf(stderr, "%s%s: %s, %lld of %lld jobs queued (%lld %%), %lld messages recorded%s", tty ? "\r" : "", id.c_str(),
                     state.c_str(), static_cast<long long>(queued), static_cast<long long>(members),
                     static_cast<long long>(members ? queued * 100 / members : 100), static_cast<long long>(messages), tty ? "   " : "\n");
        if (state != "launching") {
            if (tty) std::fputc('\n', stderr);
            std::printf("%s\n", a.body.c_str());
            return state == "cancelled" ? 1 : 0;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
}
}  // namespace

int campaign_command(const Config& config, const std::vector<std::string>& args) {
    if (args.empty()) return 2;
    const std::string& what = args[0];
    if ((what == "create" || what == "followup") && args.size() >= 2) {
        std::string id, file, service;
        bool wait = true;
        std::size_t i = 1;
        if (what == "followup") id = args[i++];
        for (; i < args.size(); ++i) {
            if (args[i] == "--service" && i + 1 < args.size() && what == "create") service = args[++i];
            else if (args[i] == "--no-wait") wait = false;
            else if (file.empty()) file = args[i];
            else return 2;
        }
        if (file.empty()) return 2;
        const std::string path = what == "create" ? "/v1/campaigns" : "/v1/campaigns/" + id + "/followups";
        auto a = call(config, "POST", path, with_service(read_input(file), service));
        if (a.status != 200 && a.status != 201 && a.status != 202) return refused(a, file);
        rapidjson::Document d;
        d.Parse(a.body.c_str());
        if (a.status != 202 || !wait || !d.IsObject() || !d.HasMember("id")) {
            std::printf("%s\n", a.body.c_str());  // a dry run, a draft, or not waited for
            return 0;
        }
        const std::string key = d["id"].GetString();
        std::fprintf(stderr, "crieur: campaign %s launched for %lld citizens\n", key.c_str(), static_cast<long long>(number(d, "members")));
        return follow(config, key);
    }
    if (what == "cap" && args.size() >= 2) {
        std::string file, query;
        bool wait = true;
        for (std::size_t i = 1; i < args.size(); ++i) {
            auto param = [&](const char* name) { query += (query.empty() ? "?" : "&") + std::string(name) + "=" + args[++i]; };
            if (args[i] == "--service" && i + 1 < args.size()) param("service");
            else if (args[i] == "--language" && i + 1 < args.size()) param("language");
            else if (args[i] == "--template" && i + 1 < args.size()) param("template");
            else if (args[i] == "--dry-run") query += (query.empty() ? "?" : "&") + std::string("dry_run=1");
            else if (args[i] == "--no-wait") wait = false;
            else if (file.empty()) file = args[i];
            else return 2;
        }
        if (file.empty()) return 2;
        auto a = call(config, "POST", "/v1/campaigns/cap" + query, read_input(file));
        if (a.status != 200 && a.status != 202) return refused(a, file);
        rapidjson::Document d;
        d.Parse(a.body.c_str());
        if (a.status != 202 || !wait || !d.IsObject() || !d.HasMember("id")) {
            std::printf("%s\n", a.body.c_str());
            return 0;
        }
        std::fprintf(stderr, "crieur: campaign %s launched for %lld citizens\n", d["id"].GetString(), static_cast<long long>(number(d, "members")));
        return follow(config, d["id"].GetString());
    }
    if (what == "show" && args.size() == 2) {
        auto a = call(config, "GET", "/v1/campaigns/" + args[1]);
        if (a.status != 200) return refused(a, args[1]);
        std::printf("%s\n", a.body.c_str());
        return 0;
    }
    if ((what == "launch" || what == "cancel") && args.size() == 2) {
        auto a = call(config, "POST", "/v1/campaigns/" + args[1] + "/" + what);
        if (a.status != 200 && a.status != 202) return refused(a, args[1]);
        if (what == "launch") return follow(config, args[1]);
        std::printf("%s\n", a.body.c_str());
        return 0;
    }
    if (what == "list") {
        std::string query;
        for (std::size_t i = 1; i + 1 < args.size(); i += 2) {
            if (args[i] == "--service") query += (query.empty() ? "?" : "&") + std::string("service=") + args[i + 1];
            else if (args[i] == "--limit") query += (query.empty() ? "?" : "&") + std::string("limit=") + args[i + 1];
            else return 2;
        }
        auto a = call(config, "GET", "/v1/campaigns" + query);
        if (a.status != 200) return refused(a, "list");
        std::printf("%s\n", a.body.c_str());
        return 0;
    }
    return 2;
}

}  // namespace crieur::cli
