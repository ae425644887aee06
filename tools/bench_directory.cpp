// bench-directory: the citizen directory at a city's scale.
//  1. `crieur citizens import` of N generated citizens (default 1,000,000; CSV with French numbers
//     in their usual spellings, e-mail addresses, preferences, consents, coordinates), run as the
//     real CLI in a child process: rows/s, and its peak memory (it streams: the figure must not
//     grow with N).
//  2. Routing decisions/s with the directory warm: a citizen read (profile, contacts, consents)
//     and the router's decision, as the daemon's directory worker does them, one thread.
//  3. Audience dry runs (POST /v1/audiences/preview's work): everyone in the town (every
//     postcode), a polygon over part of it, a tag; seconds each against the 5 s target.
//   bench-directory [--citizens N] [--decisions M] [--keep DIR]   (--keep: a second run reuses DIR's directory)
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "daemon/audience/preview.hpp"
#include "daemon/directory/directory.hpp"
#include "daemon/router.hpp"

using namespace crieur;
using Steady = std::chrono::steady_clock;
namespace fs = std::filesystem;

namespace {

// A French mobile number (06, or 07 from 073 on) in one of the spellings people use.
std::string phone(std::mt19937_64& rng, std::uint64_t n) {
    char national[16];
    if (n % 3 == 0) std::snprintf(national, sizeof national, "07%u%07llu", 3 + static_cast<unsigned>(n % 7), static_cast<unsigned long long>(n % 10'000'000));
    else std::snprintf(national, sizeof national, "06%08llu", static_cast<unsigned long long>(n % 100'000'000));
    const std::string s = national;
    switch (rng() % 4) {
    case 0: return s;
    case 1: return s.substr(0, 2) + " " + s.substr(2, 2) + " " + s.substr(4, 2) + " " + s.substr(6, 2) + " " + s.substr(8, 2);
    case 2: return "+33 " + s.substr(1, 1) + " " + s.substr(2, 2) + " " + s.substr(4, 2) + " " + s.substr(6, 2) + " " + s.substr(8, 2);
    default: return s.substr(0, 2) + "." + s.substr(2, 2) + "." + s.substr(4, 2) + "." + s.substr(6, 2) + "." + s.substr(8, 2);
    }
}

void generate(const std::string& path, std::uint64_t n) {
    std::mt19937_64 rng(20261201);
    std::ofstream out(path, std::ios::binary);
    out << "id,given_name,family_name,locale,channels,sms,email,postcode,city,lat,lon,consent_information,tags\n";
    static const char* given[] = {"Marie", "Jean", "Léa", "Karim", "Chloé", "Lucas", "Inès", "Hugo"};
    static const char* family[] = {"Martin", "Bernard", "Dubois", "Thomas", "Robert", "Petit", "Nguyen", "Moreau"};
    static const char* orders[] = {"sms;email", "email;sms", "sms", "email", "whatsapp;sms;email", ""};
    char line[512];
    for (std::uint64_t i = 0; i < n; ++i) {
        const bool mail = rng() % 10 < 7;
        const bool consent = rng() % 10 < 3;
        const std::string p = phone(rng, i);
        std::snprintf(line, sizeof line, "C-%08llu,%s,%s,%s,%s,%s,%s%s,6900%llu,Lyon,%.5f,%.5f,%s,%s\n",
                      static_cast<unsigned long long>(i), given[rng() % 8], family[rng() % 8], rng() % 10 ? "fr" : "en",
                      orders[rng() % 6], p.c_str(), mail ? "c" : "", mail ? (std::to_string(i) + "@example.fr").c_str() : "",
                      static_cast<unsigned long long>(1 + rng() % 9), 45.70 + static_cast<double>(rng() % 10'000) / 1e5,
                      4.78 + static_cast<double>(rng() % 10'000) / 1e5, consent ? "email" : "",
                      rng() % 10 == 0 ? "registre_canicule" : "");
        out << line;
    }
}

}  // namespace

int main(int argc, char** argv) {
    std::uint64_t citizens = 1'000'000, decisions = 200'000;
    std::string keep;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--citizens")) citizens = std::strtoull(argv[i + 1], nullptr, 10);
        else if (!std::strcmp(argv[i], "--decisions")) decisions = std::strtoull(argv[i + 1], nullptr, 10);
        else if (!std::strcmp(argv[i], "--keep")) keep = argv[i + 1];
    }
    const fs::path dir = keep.empty() ? fs::temp_directory_path() / ("bench-directory-" + std::to_string(getpid())) : fs::path(keep);
    fs::create_directories(dir);
    const std::string csv = dir / "citizens.csv", config = dir / "crieur.toml", db = dir / "directory.db";
    // With --keep, a directory of the same size made by an earlier run is used again (steps 2 and 3 only).
    bool reuse = false;
    if (!keep.empty() && fs::exists(db)) {
        directory::Directory earlier(db);
        reuse = earlier.citizen_count() == static_cast<std::int64_t>(citizens);
    }
    if (!reuse) fs::remove(db);
    std::ofstream(config) << "[receipts]\npath = \"" << (dir / "receipts.sqlite").string() << "\"\n[outbox]\ndir = \""
                          << (dir / "outbox").string() << "\"\n[directory]\npath = \"" << db << "\"\n";
    std::printf("bench-directory: %llu citizens, %llu routing decisions\n", static_cast<unsigned long long>(citizens),
                static_cast<unsigned long long>(decisions));
    auto t0 = Steady::now();
    if (reuse) std::printf("  the directory of an earlier run is used again (%s): no import\n", db.c_str());
    else {
    generate(csv, citizens);
    std::printf("  generated %s (%.0f MB) in %.1f s\n", csv.c_str(), static_cast<double>(fs::file_size(csv)) / 1e6,
                std::chrono::duration<double>(Steady::now() - t0).count());

    // 1. The CLI import, in a child: its own peak RSS.
    std::fflush(stdout);
    t0 = Steady::now();
    const pid_t child = fork();
    if (child == 0) {
        const int null = ::open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        execl(CRIEUR_CLI_PATH, CRIEUR_CLI_PATH, "--config", config.c_str(), "citizens", "import", csv.c_str(), nullptr);
        _exit(127);
    }
    int status = 0;
    rusage usage{};
    wait4(child, &status, 0, &usage);
    const double seconds = std::chrono::duration<double>(Steady::now() - t0).count();
    std::printf("  import: %.0f rows/s (%.1f s), peak memory %.1f MB, exit %d\n", static_cast<double>(citizens) / seconds,
                seconds, static_cast<double>(usage.ru_maxrss) / 1024.0, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    }

    // 2. Routing decisions with the directory warm.
    directory::Directory d(db);
    std::printf("  directory: %lld citizens, %.0f MB on disk\n", static_cast<long long>(d.citizen_count()),
                static_cast<double>(fs::file_size(db)) / 1e6);
    const std::vector<std::string> template_channels{"sms", "email", "push", "whatsapp"};
    const std::string category = "service";
    RouterPolicy policy;
    std::mt19937_64 rng(7);
    char id[32];
    for (int i = 0; i < 20'000; ++i) {  // warm the page cache
        std::snprintf(id, sizeof id, "C-%08llu", static_cast<unsigned long long>(rng() % citizens));
        (void)d.get(id);
    }
    std::uint64_t routed = 0, with_candidate = 0;
    t0 = Steady::now();
    for (std::uint64_t i = 0; i < decisions; ++i) {
        std::snprintf(id, sizeof id, "C-%08llu", static_cast<unsigned long long>(rng() % citizens));
        auto c = d.get(id);
        if (!c) continue;
        Job job;
        job.template_name = "passport_expiry";
        job.citizen = c->id;
        RouteQuery q{job, template_channels, category, &*c, nullptr, nullptr};
        auto decision = route(q, policy);
        ++routed;
        with_candidate += !decision.candidates.empty();
    }
    const double route_s = std::chrono::duration<double>(Steady::now() - t0).count();
    std::printf("  routing: %.0f decisions/s (%.1f µs each; %llu routed, %llu with a channel)\n",
                static_cast<double>(routed) / route_s, route_s / static_cast<double>(routed) * 1e6,
                static_cast<unsigned long long>(routed), static_cast<unsigned long long>(with_candidate));

    // 3. Audience dry runs over the town.
    audience::PreviewRequest request;
    request.template_name = "street_event";
    request.channels = {"sms", "email", "push", "whatsapp"};
    request.category = "alert";
    const auto carried = [](const std::string&, const std::string&) { return true; };
    for (auto [name, json] : {std::pair{"everyone (9 postcodes)", R"({"postcode":["69001","69002","69003","69004","69005","69006","69007","69008","69009"]})"},
                              {"a polygon over part of the town", R"({"area":{"type":"Polygon","coordinates":[[[4.79,45.71],[4.86,45.71],[4.86,45.75],[4.81,45.79],[4.79,45.71]]]}})"},
                              {"a tag (registre_canicule)", R"({"tags":["registre_canicule"]})"}}) {
        request.audience = std::get<audience::Audience>(audience::parse_audience(json));
        t0 = Steady::now();
        auto result = audience::preview(d, request, policy, carried);
        const double s = std::chrono::duration<double>(Steady::now() - t0).count();
        if (auto* e = std::get_if<audience::AudienceError>(&result)) {
            std::printf("  preview, %s: %s: %s\n", name, e->part.c_str(), e->reason.c_str());
            continue;
        }
        const auto& p = std::get<audience::Preview>(result);
        std::printf("  preview, %s: %lld citizens (%lld reachable) in %.2f s, %.2fx the 5 s target\n", name,
                    static_cast<long long>(p.citizens), static_cast<long long>(p.reachable), s, s / 5.0);
    }
    if (keep.empty()) fs::remove_all(dir);
    return 0;
}
