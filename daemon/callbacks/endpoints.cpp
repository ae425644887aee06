#include "daemon/callbacks/endpoints.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "channels/url.hpp"
#include "daemon/callbacks/signature.hpp"
#include "daemon/private_file.hpp"

namespace crieur::callbacks {

std::string to_json_line(const Endpoint& e) {
    rapidjson::StringBuffer b;
    rapidjson::Writer<rapidjson::StringBuffer> w(b);
    auto str = [&](const std::string& v) { w.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size())); };
    w.StartObject();
    w.Key("service");
    str(e.service);
    w.Key("url");
    str(e.url);
    w.Key("secrets");
    w.StartArray();
    for (const auto& s : e.secrets) str(s);
    w.EndArray();
    w.Key("created_ms");
    w.Int64(e.created_ms);
    w.EndObject();
    return std::string(b.GetString(), b.GetSize());
}

std::variant<Endpoint, std::string> from_json_line(std::string_view line) {
    rapidjson::Document d;
    d.Parse(line.data(), line.size());
    if (d.HasParseError() || !d.IsObject()) return std::string("not a JSON object");
    Endpoint e;
    for (auto& m : d.GetObject()) {
        const std::string_view name(m.name.GetString(), m.name.GetStringLength());
        if (name == "service" || name == "url") {
            if (!m.value.IsString()) return std::string(name) + ": not a string";
            (name == "url" ? e.url : e.service).assign(m.value.GetString(), m.value.GetStringLength());
        } else if (name == "secrets") {
            if (!m.value.IsArray()) return std::string("secrets: not a list");
            for (auto& s : m.value.GetArray()) {
                if (!s.IsString() || !secret_key(std::string_view(s.GetString(), s.GetStringLength())))
                    return std::string("secrets: each must read whsec_<Base64 of 24 to 64 bytes>");
                e.secrets.emplace_back(s.GetString(), s.GetStringLength());
            }
        } else if (name == "created_ms") {
            if (!m.value.IsInt64()) return std::string("created_ms: not an integer");
            e.created_ms = m.value.GetInt64();
        } else {
            return "unknown field '" + std::string(name) + "'";
        }
    }
    if (e.service.empty()) return std::string("service: missing");
    if (e.url.empty()) return std::string("url: missing");
    if (e.secrets.empty()) return std::string("secrets: missing (a callback is always signed)");
    return e;
}

EndpointFile read_endpoint_file(const std::string& path) {
    EndpointFile out;
    out.error = read_private_lines(path, [&](std::string_view line) -> std::string {
        auto e = from_json_line(line);
        if (auto* why = std::get_if<std::string>(&e)) return *why;
        auto& endpoint = std::get<Endpoint>(e);
        for (const auto& other : out.endpoints)
            if (other.service == endpoint.service) return "service " + endpoint.service + ": a second callback";
        out.endpoints.push_back(std::move(endpoint));
        return {};
    });
    if (!out.error.empty()) out.endpoints.clear();
    return out;
}

void write_endpoint_file(const std::string& path, const std::vector<Endpoint>& endpoints) {
    std::string text = "# crieur services' status callbacks: written by `crieur services callback`; holds signing secrets\n";
    for (const auto& e : endpoints) text += to_json_line(e) + "\n";
    write_private_file(path, text);
}

std::string url_problem(const std::string& url, const std::vector<std::string>& allow_hosts) {
    const auto parts = parts_of(url);
    if (!parts) return "'" + url.substr(0, 200) + "' is not a URL";
    const bool allowed = host_listed(parts->host, allow_hosts);
    if (parts->scheme != "https" && !(parts->scheme == "http" && allowed))
        return "the URL must be https (http only for a host in callbacks.allow_hosts)";
    if (!allowed && is_internal_host(parts->host))
        return "the host " + parts->host + " is this machine or a private network: list it in callbacks.allow_hosts "
               "if it really is the service's";
    return {};
}

}  // namespace crieur::callbacks
