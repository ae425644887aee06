// The benchmarks' town: n citizens around Lyon (a location, a postcode, a district, an SMS
// number), written to a directory in one transaction.
#pragma once

#include <cstdio>
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

}  // namespace crieur::bench
