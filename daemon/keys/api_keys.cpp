#include "daemon/keys/api_keys.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <stdexcept>

#include "channels/encoding.hpp"
#include "daemon/private_file.hpp"

namespace crieur::keys {

namespace {
constexpr std::pair<Scope, std::string_view> kNames[] = {
    {Scope::send, "send"},
    {Scope::read, "read"},
    {Scope::cancel, "cancel"},
    {Scope::citizens_read, "citizens:read"},
    {Scope::citizens_write, "citizens:write"},
    {Scope::events, "events"},
    {Scope::operator_, "operator"},
};

bool is_hex(std::string_view s) {
    return !s.empty() && s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}
}  // namespace

std::string_view to_string(Scope s) {
    for (auto& [scope, name] : kNames)
        if (scope == s) return name;
    return "?";
}

std::optional<Scope> parse_scope(std::string_view name) {
    for (auto& [scope, n] : kNames)
        if (n == name) return scope;
    return std::nullopt;
}

std::optional<Scopes> parse_scopes(std::string_view list, std::string* bad) {
    Scopes out = 0;
    while (!list.empty()) {
        const auto comma = list.find(',');
        std::string_view one = list.substr(0, comma);
        while (!one.empty() && one.front() == ' ') one.remove_prefix(1);
        while (!one.empty() && one.back() == ' ') one.remove_suffix(1);
        auto s = parse_scope(one);
        if (!s) {
            if (bad) *bad = std::string(one);
            return std::nullopt;
        }
        out |= static_cast<Scopes>(*s);
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
    }
    if (out == 0) {
        if (bad) bad->clear();
        return std::nullopt;
    }
    return out;
}

std::string format_scopes(Scopes scopes) {
    std::string out;
    for (auto& [scope, name] : kNames)
        if (scopes & static_cast<Scopes>(scope)) out.append(out.empty() ? "" : ",").append(name);
    return out;
}

const std::vector<Scope>& all_scopes() {
    static const std::vector<Scope> all = [] {
        std::vector<Scope> v;
        for (auto& [scope, name] : kNames) v.push_back(scope);
        return v;
    }();
    return all;
}

MintedKey mint(std::string service, std::string name, Scopes scopes, bool test, std::int64_t now_ms,
               std::int64_t expires_ms) {
    MintedKey m;
    m.key.id = hex_encode(random_bytes(8));
    m.key.service = std::move(service);
    m.key.name = std::move(name);
    m.key.scopes = scopes;
    m.key.test = test;
    m.key.created_ms = now_ms;
    m.key.expires_ms = expires_ms;
    const std::string secret = base64url_encode(random_bytes(32));
    m.key.secret_sha256 = hex_encode(sha256(secret));
    m.token = std::string("crieur_") + (test ? "test_" : "live_") + m.key.id + "_" + secret;
    return m;
}

std::string to_json_line(const ApiKey& k) {
    rapidjson::StringBuffer b;
    rapidjson::Writer<rapidjson::StringBuffer> w(b);
    auto str = [&](const char* key, const std::string& v) {
        w.Key(key);
        w.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size()));
    };
    w.StartObject();
    str("id", k.id);
    str("service", k.service);
    str("name", k.name);
    str("scopes", format_scopes(k.scopes));
    w.Key("test");
    w.Bool(k.test);
    w.Key("created_ms");
    w.Int64(k.created_ms);
    w.Key("expires_ms");
    w.Int64(k.expires_ms);
    w.Key("revoked_ms");
    w.Int64(k.revoked_ms);
    str("secret_sha256", k.secret_sha256);
    w.EndObject();
    return std::string(b.GetString(), b.GetSize());
}

std::variant<ApiKey, std::string> from_json_line(std::string_view line) {
    rapidjson::Document d;
    d.Parse(line.data(), line.size());
    if (d.HasParseError() || !d.IsObject()) return std::string("not a JSON object");
    ApiKey k;
    auto text = [&](const char* name, std::string& out, bool required) -> std::optional<std::string> {
        auto it = d.FindMember(name);
        if (it == d.MemberEnd()) {
            if (required) return std::string(name) + ": missing";
            return std::nullopt;
        }
        if (!it->value.IsString()) return std::string(name) + ": not a string";
        out.assign(it->value.GetString(), it->value.GetStringLength());
        return std::nullopt;
    };
    auto number = [&](const char* name, std::int64_t& out) -> std::optional<std::string> {
        auto it = d.FindMember(name);
        if (it == d.MemberEnd()) return std::nullopt;
        if (!it->value.IsInt64()) return std::string(name) + ": not an integer";
        out = it->value.GetInt64();
        return std::nullopt;
    };
    std::string scopes;
    for (auto e : {text("id", k.id, true), text("service", k.service, false), text("name", k.name, false),
                   text("scopes", scopes, true), text("secret_sha256", k.secret_sha256, true),
                   number("created_ms", k.created_ms), number("expires_ms", k.expires_ms),
                   number("revoked_ms", k.revoked_ms)})
        if (e) return *e;
    if (auto it = d.FindMember("test"); it != d.MemberEnd()) {
        if (!it->value.IsBool()) return std::string("test: not true or false");
        k.test = it->value.GetBool();
    }
    if (!is_hex(k.id) || k.id.size() != 16) return std::string("id: not 16 lower-case hex characters");
    if (!is_hex(k.secret_sha256) || k.secret_sha256.size() != 64) return std::string("secret_sha256: not a SHA-256 in hex");
    std::string bad;
    auto parsed = parse_scopes(scopes, &bad);
    if (!parsed) return "scopes: " + (bad.empty() ? std::string("none") : "unknown scope '" + bad + "'");
    k.scopes = *parsed;
    if (k.service.empty() && !(k.scopes & static_cast<Scopes>(Scope::operator_)))
        return std::string("service: missing (only an operator key serves every service)");
    return k;
}

KeyFile read_key_file(const std::string& path) {
    KeyFile out;
    out.error = read_private_lines(path, [&](std::string_view line) -> std::string {
        auto k = from_json_line(line);
        if (auto* why = std::get_if<std::string>(&k)) return *why;
        out.keys.push_back(std::move(std::get<ApiKey>(k)));
        return {};
    });
    if (!out.error.empty()) out.keys.clear();
    return out;
}

void write_key_file(const std::string& path, const std::vector<ApiKey>& keys) {
    std::string text = "# crieur API keys: written by `crieur keys`; the secrets are not here, only their SHA-256\n";
    for (const auto& k : keys) text += to_json_line(k) + "\n";
    write_private_file(path, text);
}

KeyRing::KeyRing(std::vector<ApiKey> keys, std::string operator_token) : operator_token_(std::move(operator_token)) {
    for (auto& k : keys) {
        std::string id = k.id;
        keys_.emplace(std::move(id), std::move(k));
    }
}

std::variant<Caller, Refusal> KeyRing::authenticate(std::string_view authorization, std::int64_t now_ms) const {
    if (!authorization.starts_with("Bearer ")) {
        if (empty()) return Refusal{401, "no_keys", "this route needs an API key, and none is configured (crieur keys create)"};
        return Refusal{401, "key_missing", "an API key is required (Authorization: Bearer <key>)"};
    }
    const std::string_view token = authorization.substr(7);
    if (!operator_token_.empty() && same_bytes(token, operator_token_))
        return Caller{{}, {}, static_cast<Scopes>(Scope::operator_), false, "operator"};
    // crieur_<live|test>_<id>_<secret>
    constexpr std::string_view kPrefix = "crieur_";
    if (!token.starts_with(kPrefix) || token.size() < kPrefix.size() + 5 + 16 + 2)
        return Refusal{401, "key_invalid", "the API key is not valid"};
    const std::string_view flavour = token.substr(kPrefix.size(), 5);
    const std::string_view id = token.substr(kPrefix.size() + 5, 16);
    const std::string_view secret = token.substr(kPrefix.size() + 5 + 17);
    if ((flavour != "live_" && flavour != "test_") || token[kPrefix.size() + 5 + 16] != '_')
        return Refusal{401, "key_invalid", "the API key is not valid"};
    auto it = keys_.find(std::string(id));
    // The same answer for an unknown id and a wrong secret: a caller learns nothing about which ids exist.
    if (it == keys_.end() || !same_bytes(hex_encode(sha256(secret)), it->second.secret_sha256) ||
        it->second.test != (flavour == "test_"))
        return Refusal{401, "key_invalid", "the API key is not valid"};
    const ApiKey& k = it->second;
    if (k.revoked_ms != 0 && k.revoked_ms <= now_ms) return Refusal{401, "key_revoked", "the API key " + k.id + " was revoked"};
    if (k.expires_ms != 0 && k.expires_ms <= now_ms) return Refusal{401, "key_expired", "the API key " + k.id + " has expired"};
    return Caller{k.id, k.service, k.scopes, k.test, k.name.empty() ? k.id : k.name};
}

}  // namespace crieur::keys
