// The dashboard's operator accounts (issue 16): the town's agents who sign in to /ui/, each with a
// role. Passwords are kept as Argon2id hashes (libsodium's crypto_pwhash_str: its own salt and
// costs in the string), never in clear. The accounts live in a JSON-lines file
// (`[http] operators_file`, mode 0600), one per line, written by `crieur operators
// add|passwd|disable|enable` and read by crieurd at start and on SIGHUP.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace crieur::ui {

// What an operator may do in the dashboard: read (viewer); also send, launch and step in
// (agent); also erase citizens and manage what the town configures (admin).
enum class Role { viewer, agent, admin };
std::string_view to_string(Role r);
std::optional<Role> parse_role(std::string_view s);
// Whether `who` may do what `needed` may.
inline bool allows(Role who, Role needed) { return static_cast<int>(who) >= static_cast<int>(needed); }

struct Operator {
    std::string name;  // the sign-in name: 1 to 64 letters, digits, '.', '-', '_', '@'
    Role role = Role::viewer;
    std::string password_hash;  // "$argon2id$v=19$m=...,t=...,p=1$salt$hash"
    bool disabled = false;
    std::int64_t created_ms = 0, changed_ms = 0;
    bool operator==(const Operator&) const = default;
};

// What is wrong with a name or a new password (at least 12 characters, at most 256), or "".
std::string name_problem(std::string_view name);
std::string password_problem(std::string_view password);

// Argon2id with libsodium's interactive costs (64 MiB, about 0.1 s here): what a sign-in can
// afford, and what a stolen file makes slow to guess. Throws std::runtime_error when libsodium
// cannot (out of memory).
std::string hash_password(std::string_view password);
// Checks a password against its hash in constant time; false for a hash that is not Argon2id.
bool password_matches(std::string_view password, const std::string& hash);

std::string to_json_line(const Operator& o);
std::variant<Operator, std::string> from_json_line(std::string_view line);

struct OperatorFile {
    std::vector<Operator> operators;
    std::string error;  // "path:line: what is wrong"; empty when read (a missing file: none)
};
OperatorFile read_operator_file(const std::string& path);
// Every account (a temporary file, then rename), mode 0600; throws std::runtime_error.
void write_operator_file(const std::string& path, const std::vector<Operator>& operators);

}  // namespace crieur::ui
