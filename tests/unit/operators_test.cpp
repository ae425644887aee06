#include <doctest/doctest.h>

#include "daemon/ui/operators.hpp"

using namespace crieur::ui;

TEST_CASE("an operator's password is kept as an Argon2id hash that only the password matches") {
    const auto hash = hash_password("correct horse battery");
    CHECK(hash.rfind("$argon2id$", 0) == 0);
    CHECK(hash.find("correct") == std::string::npos);
    CHECK(password_matches("correct horse battery", hash));
    CHECK_FALSE(password_matches("correct horse batterY", hash));
    CHECK_FALSE(password_matches("", hash));
    CHECK(hash_password("correct horse battery") != hash);  // salted: the same password, another hash
    CHECK_FALSE(password_matches("x", "plain text"));
}

TEST_CASE("operators' names, passwords, roles and file lines are checked, each problem named") {
    CHECK(name_problem("agent.dupont@mairie").empty());
    CHECK_FALSE(name_problem("").empty());
    CHECK_FALSE(name_problem("a b").empty());
    CHECK(password_problem("short").find("12") != std::string::npos);
    CHECK(password_problem("twelve chars").empty());
    CHECK(allows(Role::admin, Role::agent));
    CHECK(allows(Role::agent, Role::agent));
    CHECK_FALSE(allows(Role::viewer, Role::agent));
    CHECK(parse_role("admin") == Role::admin);
    CHECK_FALSE(parse_role("root"));

    const Operator o{"lea", Role::agent, hash_password("a long passphrase"), false, 1, 2};
    auto back = from_json_line(to_json_line(o));
    REQUIRE(std::holds_alternative<Operator>(back));
    CHECK(std::get<Operator>(back) == o);
    auto why = [](const std::string& line) {
        auto r = from_json_line(line);
        return std::holds_alternative<std::string>(r) ? std::get<std::string>(r) : std::string();
    };
    CHECK(why(R"({"name":"lea","role":"root","password_hash":"$argon2id$x"})").find("role") == 0);
    CHECK(why(R"({"name":"lea","role":"agent","password_hash":"md5"})").find("password_hash") == 0);
    CHECK(why(R"({"name":"lea","password_hash":"$argon2id$x"})") == "role: missing");
    CHECK(why(R"({"name":"l e a","role":"agent","password_hash":"$argon2id$x"})").find("name") == 0);
    CHECK(why(R"({"name":"lea","role":"agent","password_hash":"$argon2id$x","pw":"x"})").find("unknown field") == 0);
    CHECK(why("not json") == "not a JSON object");
}
