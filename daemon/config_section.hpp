// config::Section: reads one TOML table's keys into plain fields, remembering which keys it
// knew so that what is left is reported as unknown, every problem as "file:line: key: what".
// The config loader uses it for its sections, and each provider type for its own keys
// (channels/providers.hpp), so that a provider's keys are parsed where its driver is.
#pragma once

#include <toml++/toml.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace crieur::config {

// A path from the config, taken from the config file's folder when relative.
inline std::string resolve(const std::string& base_dir, const std::string& path) {
    if (path.empty() || std::filesystem::path(path).is_absolute()) return path;
    return (std::filesystem::path(base_dir) / path).lexically_normal().string();
}

// Reads one table's keys into fields, remembering which keys it knew, so that what is left is unknown.
class Section {
public:
    Section(const toml::table* table, std::string prefix, const std::string& file, std::vector<std::string>& problems,
            std::string base_dir = {})
        : table_(table), prefix_(std::move(prefix)), file_(file), problems_(problems), base_dir_(std::move(base_dir)) {}

    // A path: relative ones are taken from the config file's folder.
    void path(const char* key, std::string& out, bool required = false) {
        string(key, out, required);
        out = resolve(base_dir_, out);
    }
    // A problem of a key that needs another (or is missing), reported at the key's line when it
    // is written, else at the table's.
    void problem(const char* key, const std::string& what) {
        const toml::node* n = table_ ? table_->get(key) : nullptr;
        const long line = n ? static_cast<long>(n->source().begin.line) : line_of_table();
        problems_.push_back(file_ + ":" + std::to_string(line) + ": " + name(key) + ": " + what);
    }
    // Every key counts as known (a table that is not read, such as a provider switched off).
    void mark_all_seen() {
        if (table_)
            for (auto&& [k, v] : *table_) seen_.insert(std::string(k.str()));
    }
    // Whether the table has this key (it counts as known).
    bool has(const char* key) { return find(key) != nullptr; }
    // The table's line, and its name in messages ("providers[2] (sms-etat-civil)").
    long line() const { return line_of_table(); }
    const std::string& prefix() const { return prefix_; }

    void integer(const char* key, int& out, long min, long max) {
        const toml::node* n = find(key);
        if (!n) return;
        auto v = n->value<std::int64_t>();
        if (!n->is_integer() || !v) return fail(*n, key, "expected an integer");
        if (*v < min || *v > max)
            return fail(*n, key, "expected an integer from " + std::to_string(min) + " to " + std::to_string(max));
        out = static_cast<int>(*v);
    }
    void size(const char* key, std::size_t& out, long min, long max) {
        int v = static_cast<int>(out);
        integer(key, v, min, max);
        out = static_cast<std::size_t>(v);
    }
    void boolean(const char* key, bool& out) {
        const toml::node* n = find(key);
        if (!n) return;
        if (!n->is_boolean()) return fail(*n, key, "expected true or false");
        out = *n->value<bool>();
    }
    void string(const char* key, std::string& out, bool required = false,
                std::initializer_list<const char*> one_of = {}) {
        const toml::node* n = find(key);
        if (!n) {
            if (required) problems_.push_back(file_ + ":" + std::to_string(line_of_table()) + ": " + name(key) +
                                              ": required key is missing");
            return;
        }
        if (!n->is_string()) return fail(*n, key, "expected a string");
        std::string v = *n->value<std::string>();
        if (required && v.empty()) return fail(*n, key, "must not be empty");
        if (one_of.size() != 0) {
            bool ok = false;
            std::string list;
            for (const char* o : one_of) {
                ok = ok || v == o;
                list += (list.empty() ? "" : ", ") + std::string(o);
            }
            if (!ok) return fail(*n, key, "expected one of: " + list);
        }
        out = std::move(v);
    }
    // A secret: `<key>_env` names an environment variable, `<key>_file` a file; never the value itself.
    void secret(const char* key, std::string& out) {
        const std::string env_key = std::string(key) + "_env", file_key = std::string(key) + "_file";
        if (const toml::node* n = table_ ? table_->get(key) : nullptr) {
            seen_.insert(key);
            fail(*n, key, "secrets are not written in the config: use " + env_key + " or " + file_key);
        }
        std::string env, path;
        string(env_key.c_str(), env);
        string(file_key.c_str(), path);
        if (!env.empty()) {
            const char* v = std::getenv(env.c_str());
            if (!v) return fail(*find_seen(env_key), env_key.c_str(), "environment variable " + env + " is not set");
            out = v;
        } else if (!path.empty()) {
            std::ifstream in(path);
            if (!in) return fail(*find_seen(file_key), file_key.c_str(), "cannot read " + path);
            std::getline(in, out);
            if (out.empty()) return fail(*find_seen(file_key), file_key.c_str(), path + " is empty: an empty secret would open what it guards");
        }
        if (!env.empty() && out.empty())
            return fail(*find_seen(env_key), env_key.c_str(), "environment variable " + env + " is empty");
    }
    // A string that must pass `ok`; `what` says what was expected.
    void string_checked(const char* key, std::string& out, const std::function<bool(const std::string&)>& ok,
                        const std::string& what) {
        const toml::node* n = find(key);
        if (!n) return;
        auto v = n->value<std::string>();
        if (!n->is_string() || !v || !ok(*v)) return fail(*n, key, what);
        out = *v;
    }
    // An array of strings, each one of `one_of` (when given), none twice.
    void strings(const char* key, std::vector<std::string>& out, std::initializer_list<const char*> one_of = {}) {
        const toml::node* n = find(key);
        if (!n) return;
        auto parsed = list_of(*n, key, one_of);
        if (parsed) out = std::move(*parsed);
    }
    // A table of string arrays: { roads = ["push", "sms"], water = ["sms"] }.
    void string_lists(const char* key, std::map<std::string, std::vector<std::string>>& out,
                      std::initializer_list<const char*> one_of = {}) {
        const toml::node* n = find(key);
        if (!n) return;
        if (!n->is_table()) return fail(*n, key, "expected a table of arrays: { service = [\"sms\", \"email\"] }");
        for (auto&& [k, v] : *n->as_table()) {
            const std::string sub = std::string(key) + "." + std::string(k.str());
            if (auto parsed = list_of(v, sub.c_str(), one_of)) out[std::string(k.str())] = std::move(*parsed);
        }
    }
    // A table of integers by channel: { sms = 1800, whatsapp = 7200 }. Replaces the defaults.
    void integers_by(const char* key, std::map<std::string, int>& out, std::initializer_list<const char*> names,
                     long min, long max) {
        const toml::node* n = find(key);
        if (!n) return;
        if (!n->is_table()) return fail(*n, key, "expected a table: { sms = 1800, whatsapp = 7200 }");
        std::map<std::string, int> parsed;
        for (auto&& [k, v] : *n->as_table()) {
            const std::string name(k.str());
            const std::string sub = std::string(key) + "." + name;
            if (names.size() > 0 && std::none_of(names.begin(), names.end(), [&](const char* x) { return name == x; })) {
                std::string list;
                for (const char* x : names) list += (list.empty() ? "" : ", ") + std::string(x);
                return fail(v, sub.c_str(), "expected one of: " + list);
            }
            auto i = v.value<std::int64_t>();
            if (!v.is_integer() || !i || *i < min || *i > max)
                return fail(v, sub.c_str(), "expected an integer from " + std::to_string(min) + " to " + std::to_string(max));
            parsed[name] = static_cast<int>(*i);
        }
        out = std::move(parsed);
    }
    void reject_unknown() {
        if (!table_) return;
        for (auto&& [k, v] : *table_)
            if (!seen_.count(std::string(k.str())) && !v.is_table())
                fail(v, std::string(k.str()).c_str(), "unknown key");
    }

private:
    std::optional<std::vector<std::string>> list_of(const toml::node& n, const char* key,
                                                    std::initializer_list<const char*> one_of) {
        if (!n.is_array()) {
            fail(n, key, "expected an array of strings");
            return std::nullopt;
        }
        std::vector<std::string> values;
        for (auto&& item : *n.as_array()) {
            auto v = item.value<std::string>();
            if (!item.is_string() || !v) {
                fail(item, key, "expected an array of strings");
                return std::nullopt;
            }
            bool ok = one_of.size() == 0;
            std::string list;
            for (const char* o : one_of) {
                ok = ok || *v == o;
                list += (list.empty() ? "" : ", ") + std::string(o);
            }
            if (!ok) {
                fail(item, key, "'" + *v + "' is not one of: " + list);
                return std::nullopt;
            }
            if (std::find(values.begin(), values.end(), *v) != values.end()) {
                fail(item, key, "'" + *v + "' is listed twice");
                return std::nullopt;
            }
            values.push_back(*v);
        }
        return values;
    }
    const toml::node* find(const char* key) {
        seen_.insert(key);
        return table_ ? table_->get(key) : nullptr;
    }
    const toml::node* find_seen(const std::string& key) { return table_->get(key); }
    std::string name(const char* key) const { return prefix_.empty() ? key : prefix_ + "." + key; }
    long line_of_table() const { return table_ ? static_cast<long>(table_->source().begin.line) : 1; }
    void fail(const toml::node& n, const char* key, const std::string& what) {
        problems_.push_back(file_ + ":" + std::to_string(n.source().begin.line) + ": " + name(key) + ": " + what);
    }

    const toml::table* table_;
    std::string prefix_;
    const std::string& file_;
    std::vector<std::string>& problems_;
    std::string base_dir_;
    std::set<std::string, std::less<>> seen_;
};


}  // namespace crieur::config
