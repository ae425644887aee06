// API keys per service (issue 13): who calls /v1, for which service, with which scopes.
// A key is `crieur_<live|test>_<id>_<secret>`: the id finds the key, the secret (32 random bytes,
// base64url) proves it. Only the secret's SHA-256 is stored: a high-entropy secret needs no slow
// hash, and a stolen keys file lets nobody call the API. The keys live in a JSON-lines file
// (`[http] keys_file`), one key per line, written by `crieur keys create|revoke` and read by crieurd
// at start and on SIGHUP (rotation without a restart).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

namespace crieur::keys {

// What a key may do. `operator_` is every scope, on every service's messages.
enum class Scope : std::uint16_t {
    send = 1 << 0,
    read = 1 << 1,
    cancel = 1 << 2,
    citizens_read = 1 << 3,
    citizens_write = 1 << 4,
    events = 1 << 5,
    operator_ = 1 << 6,
};
using Scopes = std::uint16_t;

std::string_view to_string(Scope s);  // "send", "citizens:read", "operator", ...
std::optional<Scope> parse_scope(std::string_view name);
// "send,read" → the set; nullopt and `bad` set to the first unknown name.
std::optional<Scopes> parse_scopes(std::string_view list, std::string* bad = nullptr);
std::string format_scopes(Scopes scopes);
const std::vector<Scope>& all_scopes();

struct ApiKey {
    std::string id;       // 16 hex characters, in the token and in `crieur keys list`
    std::string service;  // the service whose messages it sends and reads
    std::string name;     // what it is for ("the registry's appointment software")
    Scopes scopes = 0;
    bool test = false;           // a test key: validated, rendered, recorded, sent to the outbox only
    std::int64_t created_ms = 0;
    std::int64_t expires_ms = 0;  // 0: never
    std::int64_t revoked_ms = 0;  // 0: not revoked
    std::string secret_sha256;    // hex of SHA-256(secret)
    bool operator==(const ApiKey&) const = default;
};

// Who is calling, once the key is checked: what the routes see.
struct Caller {
    std::string key_id;  // empty for the operators' token (http.api_token)
    std::string service;  // empty for an operator key: every service
    Scopes scopes = 0;
    bool test = false;
    std::string name;  // the key's name ("operator" for the operators' token): who did an action
    // Every service's messages with only `scopes`: a dashboard operator whose role is not admin.
    bool all_services = false;
    bool has(Scope s) const { return (scopes & static_cast<Scopes>(Scope::operator_)) || (scopes & static_cast<Scopes>(s)); }
    bool every_service() const { return all_services || (scopes & static_cast<Scopes>(Scope::operator_)); }
};

// A new key: its record (to store) and its token (to show once).
struct MintedKey {
    ApiKey key;
    std::string token;
};
MintedKey mint(std::string service, std::string name, Scopes scopes, bool test, std::int64_t now_ms,
               std::int64_t expires_ms);

std::string to_json_line(const ApiKey& key);
// One line of the keys file; the error names the field.
std::variant<ApiKey, std::string> from_json_line(std::string_view line);

// The keys file read whole: every key, or the first bad line as "file:line: reason".
struct KeyFile {
    std::vector<ApiKey> keys;
    std::string error;
};
KeyFile read_key_file(const std::string& path);  // a missing file is no keys, not an error
// Writes every key (a temporary file beside it, then rename), mode 0600; throws std::runtime_error.
void write_key_file(const std::string& path, const std::vector<ApiKey>& keys);

// Why a request was refused: 401 (no or bad key) or 403 (a key without the scope).
struct Refusal {
    int status = 401;
    std::string code;  // the problem's code: key_missing, key_invalid, key_revoked, key_expired, no_keys
    std::string reason;
};

// The keys crieurd checks requests against, replaced whole on reload.
class KeyRing {
public:
    KeyRing() = default;
    explicit KeyRing(std::vector<ApiKey> keys, std::string operator_token = {});
    // The bearer token of an Authorization header value ("Bearer <token>"), checked at `now`.
    std::variant<Caller, Refusal> authenticate(std::string_view authorization, std::int64_t now_ms) const;
    bool empty() const { return keys_.empty() && operator_token_.empty(); }
    std::size_t size() const { return keys_.size(); }

private:
    std::unordered_map<std::string, ApiKey> keys_;  // by id
    std::string operator_token_;                    // http.api_token: every scope, every service
};

}  // namespace crieur::keys
