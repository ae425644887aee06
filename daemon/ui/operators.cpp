#include "daemon/ui/operators.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <sodium.h>

#include <cctype>
#include <stdexcept>

#include "daemon/private_file.hpp"

namespace crieur::ui {

namespace {
// sodium_init is safe to call again and from several threads; it fails only without entropy.
void need_sodium() {
    if (sodium_init() < 0) throw std::runtime_error("libsodium could not be initialised");
}
}  // namespace

std::string_view to_string(Role r) {
    switch (r) {
    case Role::viewer: return "viewer";
    case Role::agent: return "agent";
    case Role::admin: return "admin";
    }
    return "viewer";
}

std::optional<Role> parse_role(std::string_view s) {
    if (s == "viewer") return Role::viewer;
    if (s == "agent") return Role::agent;
    if (s == "admin") return Role::admin;
    return std::nullopt;
}

std::string name_problem(std::string_view name) {
    if (name.empty() || name.size() > 64) return "a name is 1 to 64 characters";
    for (unsigned char c : name)
        if (!(std::isalnum(c) || c == '.' || c == '-' || c == '_' || c == '@'))
            return "a name holds letters, digits, '.', '-', '_' and '@' only";
    return {};
}

std::string password_problem(std::string_view password) {
    // Length rather than composition rules (NIST SP 800-63B): long is what makes a guess slow.
    if (password.size() < 12) return "a password is at least 12 characters";
    if (password.size() > 256) return "a password is at most 256 characters";
    return {};
}

std::string hash_password(std::string_view password) {
    need_sodium();
    char out[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str_alg(out, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13) != 0)
        throw std::runtime_error("the password could not be hashed (out of memory)");
    return out;
}

bool password_matches(std::string_view password, const std::string& hash) {
    need_sodium();
    if (hash.rfind("$argon2id$", 0) != 0) return false;
    return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

std::string to_json_line(const Operator& o) {
    rapidjson::StringBuffer b;
    rapidjson::Writer<rapidjson::StringBuffer> w(b);
    w.StartObject();
    w.Key("name");
    w.String(o.name.c_str(), static_cast<rapidjson::SizeType>(o.name.size()));
    w.Key("role");
    w.String(to_string(o.role).data());
    w.Key("password_hash");
    w.String(o.password_hash.c_str(), static_cast<rapidjson::SizeType>(o.password_hash.size()));
    w.Key("disabled");
    w.Bool(o.disabled);
    w.Key("created_ms");
    w.Int64(o.created_ms);
    w.Key("changed_ms");
    w.Int64(o.changed_ms);
    w.EndObject();
    return {b.GetString(), b.GetSize()};
}

std::variant<Operator, std::string> from_json_line(std::string_view line) {
    rapidjson::Document d;
    d.Parse(line.data(), line.size());
    if (d.HasParseError() || !d.IsObject()) return std::string("not a JSON object");
    Operator o;
    bool has_role = false;
    for (auto& m : d.GetObject()) {
        const std::string_view name(m.name.GetString(), m.name.GetStringLength());
        if (name == "name" || name == "password_hash" || name == "role") {
            if (!m.value.IsString()) return std::string(name) + ": not a string";
            const std::string_view v(m.value.GetString(), m.value.GetStringLength());
            if (name == "name") o.name = v;
            else if (name == "password_hash") o.password_hash = v;
            else if (auto r = parse_role(v)) {
                o.role = *r;
                has_role = true;
            } else {
                return "role: '" + std::string(v) + "' (viewer, agent or admin)";
            }
        } else if (name == "disabled") {
            if (!m.value.IsBool()) return std::string("disabled: not true or false");
            o.disabled = m.value.GetBool();
        } else if (name == "created_ms" || name == "changed_ms") {
            if (!m.value.IsInt64()) return std::string(name) + ": not an integer";
            (name == "created_ms" ? o.created_ms : o.changed_ms) = m.value.GetInt64();
        } else {
            return "unknown field '" + std::string(name) + "'";
        }
    }
    if (auto why = name_problem(o.name); !why.empty()) return "name: " + why;
    if (!has_role) return std::string("role: missing");
    if (o.password_hash.rfind("$argon2id$", 0) != 0) return std::string("password_hash: not an Argon2id hash");
    return o;
}

OperatorFile read_operator_file(const std::string& path) {
    OperatorFile out;
    out.error = read_private_lines(path, [&](std::string_view line) -> std::string {
        auto o = from_json_line(line);
        if (auto* why = std::get_if<std::string>(&o)) return *why;
        auto& op = std::get<Operator>(o);
        for (const auto& other : out.operators)
            if (other.name == op.name) return "name " + op.name + ": a second account";
        out.operators.push_back(std::move(op));
        return {};
    });
    if (!out.error.empty()) out.operators.clear();
    return out;
}

void write_operator_file(const std::string& path, const std::vector<Operator>& operators) {
    std::string text = "# crieur dashboard operators: written by `crieur operators`; Argon2id password hashes\n";
    for (const auto& o : operators) text += to_json_line(o) + "\n";
    write_private_file(path, text);
}

}  // namespace crieur::ui
