// The benchmarks' town: n citizens around Lyon (a location, a postcode, a district, an SMS
// number), written to a directory in one transaction.
#pragma once

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>

#include "daemon/directory/directory.hpp"

namespace crieur::bench {

inline void make_town(const std::string& path, int n) {
    directory::Directory dir(path);
    std::mt19937 rng(20261203);
    std::uniform_real_distribution<double> lat(45.70, 45.81), lon(4.77, 4.90);
    dir.in_transaction([&] {
        for (int i = 0; i < n; ++i) {
            directory::Citizen c;
            c.id = "C-" + std::to_string(i);
            c.given_name = "Prénom";
            c.family_name = "Nom";
            c.lat = lat(rng);
            c.lon = lon(rng);
            c.postcode = "6900" + std::to_string(1 + i % 9);
            c.district = i % 2 ? "Gerland" : "Presqu'île";
            char phone[32];
            std::snprintf(phone, sizeof phone, "+3361%07d", i % 10'000'000);
            c.contacts.push_back({"sms", phone, directory::ContactState::unverified, {}, 0});
            dir.upsert(c, 1'700'000'000'000);
        }
        return 0;
    });
}

// The town at `path`, made unless one of that size is there already (kept with a benchmark's
// --keep: its making is not what is measured). `who` names the benchmark in what it prints.
inline void ensure_town(const std::string& path, int n, const char* who) {
    bool fresh = !std::filesystem::exists(path);
    if (!fresh) {
        directory::Directory d(path);
        sqlite::Stmt count(d.db(), "SELECT count(*) FROM citizens");
        fresh = !count.step() || count.int64(0) != n;
    }
    if (!fresh) return;
    std::filesystem::remove(path);
    const auto t = std::chrono::steady_clock::now();
    make_town(path, n);
    std::printf("%s: a town of %d citizens made in %.1f s\n", who, n,
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count());
}

}  // namespace crieur::bench
