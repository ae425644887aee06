// A generated town for the audience and campaign tests: citizens with real-looking coordinates
// around Lyon, streets written several ways, tags and contacts; deterministic (the same town at
// every run). And who a GeoJSON geometry holds, by an independent computation: Python's shapely
// (Debian's python3-shapely).
#pragma once

#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "daemon/directory/directory.hpp"

namespace crieur::test {

inline constexpr int kTownCitizens = 3'000;
inline const char* kStreets[][2] = {{"Avenue Jean Jaurès", "av. Jean-Jaurès"}, {"Rue de la République", "RUE DE LA REPUBLIQUE"},
                             {"Boulevard des Belges", "bd des Belges"},  {"Rue Saint-Jean", "r. St Jean"},
                             {"Place Bellecour", "pl. Bellecour"},       {"Rue d’Alsace", "rue d'Alsace"}};

struct Town {
    std::vector<directory::Citizen> citizens;
};

// Deterministic: the same town at every run.
inline Town make_town(int citizens = kTownCitizens) {
    Town t;
    std::mt19937 rng(20261203);
    std::uniform_real_distribution<double> dlat(45.72, 45.79), dlon(4.80, 4.89), u(0, 1);
    for (int i = 0; i < citizens; ++i) {
        directory::Citizen c;
        c.id = "T-" + std::to_string(i);
        c.given_name = "Prénom" + std::to_string(i);
        c.family_name = "Nom" + std::to_string(i);
        if (u(rng) < 0.85) {
            c.lat = dlat(rng);
            c.lon = dlon(rng);
        }
        const auto s = static_cast<std::size_t>(u(rng) * 6) % 6;
        c.street = kStreets[s][i % 2];  // half in each spelling
        c.street_number = std::to_string(1 + i % 120);
        c.postcode = "6900" + std::to_string(1 + i % 9);
        c.insee = "6938" + std::to_string(1 + i % 9);
        c.district = i % 3 == 0 ? "Presqu'île" : i % 3 == 1 ? "Gerland" : "Croix-Rousse";
        if (u(rng) < 0.1) c.tags.push_back("registre_canicule");
        if (u(rng) < 0.3) c.tags.push_back("parent");
        char phone[32];
        std::snprintf(phone, sizeof phone, "+3361%07d", i);
        if (u(rng) < 0.7) c.contacts.push_back({"sms", phone, directory::ContactState::unverified, {}, 0});
        if (u(rng) < 0.5) c.contacts.push_back({"email", "t" + std::to_string(i) + "@example.fr", directory::ContactState::unverified, {}, 0});
        t.citizens.push_back(std::move(c));
    }
    return t;
}

inline void write_town(const Town& t, const std::string& path) {
    directory::Directory dir(path);
    dir.in_transaction([&] {
        for (auto& c : t.citizens) dir.upsert(c, 1'700'000'000'000);
        return 0;
    });
}

// A concave area drawn over the middle of the town (an L, counter-clockwise like RFC 7946 asks).
inline const char* kPolygon = R"({"type":"Polygon","coordinates":[[[4.82,45.73],[4.87,45.73],[4.87,45.75],[4.84,45.75],[4.84,45.78],[4.82,45.78],[4.82,45.73]]]})";

inline std::set<std::string> inside_by_shapely(const Town& t, const std::string& dir, const std::string& geometry) {
    const std::string points = dir + "/points.jsonl", script = dir + "/inside.py", out = dir + "/inside.txt";
    {
        std::ofstream p(points);
        for (auto& c : t.citizens)
            if (c.lat) p << "{\"id\":\"" << c.id << "\",\"lat\":" << std::setprecision(17) << *c.lat << ",\"lon\":" << *c.lon << "}\n";
    }
    std::ofstream(script) << "import json, sys\n"
                             "from shapely.geometry import shape, Point\n"
                             "area = shape(json.loads(sys.argv[1]))\n"
                             "for line in open(sys.argv[2]):\n"
                             "    c = json.loads(line)\n"
                             "    if area.covers(Point(c['lon'], c['lat'])): print(c['id'])\n";
    const std::string cmd = "/usr/bin/python3 " + script  /* Debian's, with python3-shapely */ + " '" + geometry + "' " + points + " > " + out;
    REQUIRE(std::system(cmd.c_str()) == 0);
    std::set<std::string> ids;
    std::ifstream in(out);
    for (std::string line; std::getline(in, line);) ids.insert(line);
    return ids;
}

}  // namespace crieur::test
