// crieurd: the notification gateway daemon.
//   crieurd [--config FILE]        run (default /etc/crieur/crieur.toml)
//   crieurd --check-config FILE    validate a config file and exit
// Exit codes: 0 stopped cleanly, 1 start-up failed, 78 (EX_CONFIG) the config is invalid.
#include <malloc.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "daemon/config.hpp"
#include "daemon/daemon.hpp"
#include "daemon/journeys/journey.hpp"
#include "daemon/log.hpp"
#include "daemon/render/template_store.hpp"

namespace {
constexpr int kExitConfig = 78;  // sysexits' EX_CONFIG; the unit does not restart on it

int usage(FILE* out) {
    std::fputs("usage: crieurd [--config FILE]\n"
               "       crieurd --check-config FILE\n"
               "       crieurd --version\n",
               out);
    return out == stderr ? 2 : 0;
}
}  // namespace

// glibc gives freed memory back to the kernel as soon as the top of a heap is free: in a thread's
// arena that is an madvise(MADV_DONTNEED) and a TLB shootdown to the other cores, and crieurd's
// threads free in bursts (a batch of deliveries done, a batch of receipts committed), then
// allocate the same again. Measured in bench-e2e: about a tenth of the daemon's CPU went there.
// A fixed trim threshold keeps up to that much free memory for reuse (RSS stays at the working
// set's peak, as it does anyway under a steady load) and fixes the mmap threshold, which glibc
// would otherwise raise and lower with the load.
void keep_freed_memory() {
    mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
    mallopt(M_MMAP_THRESHOLD, 1024 * 1024);
}

int main(int argc, char** argv) {
    keep_freed_memory();
    std::string path = "/etc/crieur/crieur.toml";
    bool check_only = false;
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        if ((a == "--config" || a == "-c" || a == "--check-config") && i + 1 < argc) {
            check_only = check_only || a == "--check-config";
            path = argv[++i];
        } else if (a == "--version") {
            std::printf("crieurd %s\n", CRIEUR_VERSION);
            return 0;
        } else if (a == "--help" || a == "-h") {
            return usage(stdout);
        } else {
            std::fprintf(stderr, "crieurd: unknown argument '%s'\n", argv[i]);
            return usage(stderr);
        }
    }

    crieur::Config config;
    try {
        config = crieur::load_config(path);
    } catch (const crieur::ConfigError& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return kExitConfig;
    }
    // Templates are part of the configuration: an invalid set stops start-up, saying why.
    auto templates = crieur::render::TemplateStore::load(config.templates.dir);
    if (!templates.store) {
        for (auto& p : templates.problems) std::fprintf(stderr, "%s\n", p.c_str());
        std::fprintf(stderr, "crieurd: %zu problem%s in the templates (%s)\n", templates.problems.size(),
                     templates.problems.size() == 1 ? "" : "s", config.templates.dir.c_str());
        return kExitConfig;
    }
    // So are the journeys, checked against those templates.
    auto journeys = crieur::journeys::JourneyLibrary::load(config.journeys.dir, templates.store.get());
    if (!journeys.library) {
        for (auto& p : journeys.problems) std::fprintf(stderr, "%s\n", p.c_str());
        std::fprintf(stderr, "crieurd: %zu problem%s in the journeys (%s)\n", journeys.problems.size(),
                     journeys.problems.size() == 1 ? "" : "s", config.journeys.dir.c_str());
        return kExitConfig;
    }
    if (check_only) {
        std::printf("%s: ok (%zu templates in %s, %zu journeys in %s)\n", path.c_str(), templates.store->names().size(),
                    config.templates.dir.c_str(), journeys.library->all().size(), config.journeys.dir.c_str());
        return 0;
    }

    crieur::init_logging(config.log.level);
    try {
        crieur::Daemon daemon(std::move(config), path, std::move(templates.store), std::move(journeys.library));
        return daemon.run();
    } catch (const std::exception& e) {
        spdlog::critical("cannot start: {}", e.what());
        return 1;
    }
}
