#include "tools/operators_command.hpp"

#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>

#include "daemon/config.hpp"
#include "daemon/types.hpp"
#include "daemon/ui/operators.hpp"

namespace crieur::cli {

namespace {

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// The new password: typed twice at a terminal (not echoed), or the first line of standard input
// (a script: `printf '%s\n' "$pw" | crieur operators add ...`). Never an argument: the process
// list and the shell's history would show it.
std::optional<std::string> read_password(const std::string& name) {
    auto line = [] {
        std::string s;
        if (!std::getline(std::cin, s)) return std::optional<std::string>();
        if (!s.empty() && s.back() == '\r') s.pop_back();
        return std::optional<std::string>(s);
    };
    if (!isatty(STDIN_FILENO)) return line();
    termios old{};
    tcgetattr(STDIN_FILENO, &old);
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    std::fprintf(stderr, "password for %s: ", name.c_str());
    auto first = line();
    std::fprintf(stderr, "\nagain: ");
    auto second = line();
    std::fprintf(stderr, "\n");
    tcsetattr(STDIN_FILENO, TCSANOW, &old);
    if (!first || !second) return std::nullopt;
    if (*first != *second) {
        std::fprintf(stderr, "crieur: the two passwords differ\n");
        return std::nullopt;
    }
    return first;
}

std::string option(const std::vector<std::string>& args, const std::string& name) {
    for (std::size_t i = 1; i + 1 < args.size(); ++i)
        if (args[i] == name) return args[i + 1];
    return {};
}

}  // namespace

int operators_command(const Config& config, const std::vector<std::string>& args) {
    if (args.empty()) return 2;
    const std::string& file = config.http.operators_file;
    if (file.empty()) {
        std::fprintf(stderr, "crieur: http.operators_file is not set in the config: where should the accounts live?\n");
        return 78;
    }
    auto read = ui::read_operator_file(file);
    if (!read.error.empty()) {
        std::fprintf(stderr, "crieur: %s\n", read.error.c_str());
        return 1;
    }
    auto& ops = read.operators;
    const std::string& verb = args[0];
    if (verb == "list") {
        std::printf("%-24s %-7s %-8s %s\n", "NAME", "ROLE", "STATE", "CHANGED");
        for (const auto& o : ops)
            std::printf("%-24s %-7s %-8s %s\n", o.name.c_str(), std::string(ui::to_string(o.role)).c_str(),
                        o.disabled ? "disabled" : "active", format_rfc3339(from_unix_ms(o.changed_ms)).c_str());
        return 0;
    }
    const std::string name = option(args, "--name");
    if (name.empty()) return 2;
    if (auto why = ui::name_problem(name); !why.empty()) {
        std::fprintf(stderr, "crieur: --name: %s\n", why.c_str());
        return 1;
    }
    auto it = std::find_if(ops.begin(), ops.end(), [&](const ui::Operator& o) { return o.name == name; });
    const auto now = now_ms();
    if (verb == "add") {
        const auto role = ui::parse_role(option(args, "--role"));
        if (!role) {
            std::fprintf(stderr, "crieur: --role: expected viewer, agent or admin\n");
            return 1;
        }
        if (it != ops.end()) {
            std::fprintf(stderr, "crieur: an operator named %s exists (crieur operators passwd to change the password)\n", name.c_str());
            return 1;
        }
        auto password = read_password(name);
        if (!password) return 1;
        if (auto why = ui::password_problem(*password); !why.empty()) {
            std::fprintf(stderr, "crieur: %s\n", why.c_str());
            return 1;
        }
        ops.push_back({name, *role, ui::hash_password(*password), false, now, now});
        ui::write_operator_file(file, ops);
        std::fprintf(stderr, "operator %s (%s) added to %s; reload crieurd (systemctl reload crieurd)\n", name.c_str(),
                     std::string(ui::to_string(*role)).c_str(), file.c_str());
        return 0;
    }
    if (it == ops.end()) {
        std::fprintf(stderr, "crieur: no operator named %s\n", name.c_str());
        return 1;
    }
    if (verb == "passwd") {
        auto password = read_password(name);
        if (!password) return 1;
        if (auto why = ui::password_problem(*password); !why.empty()) {
            std::fprintf(stderr, "crieur: %s\n", why.c_str());
            return 1;
        }
        it->password_hash = ui::hash_password(*password);
    } else if (verb == "disable" || verb == "enable") {
        it->disabled = verb == "disable";
    } else {
        return 2;
    }
    it->changed_ms = now;
    ui::write_operator_file(file, ops);
    std::fprintf(stderr, "operator %s: %s\n", name.c_str(),
                 verb == "passwd" ? "password changed" : verb == "disable" ? "disabled" : "enabled");
    return 0;
}

}  // namespace crieur::cli
