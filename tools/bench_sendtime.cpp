// bench-sendtime: what the daemon's send-time model costs for a city. Builds a history of C
// citizens with M messages each (sent at 09:00 or 14:00, read at each citizen's own evening hour,
// some never), learns the model from it as the learner does, and prints the learning time, the
// memory the learnt model keeps (RSS after the history is freed, over the RSS before it was
// built) and how long choosing one send time takes (a 24-hour window, 15-minute steps).
//   bench-sendtime [--citizens C] [--messages M]
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "daemon/sendtime/send_time.hpp"

using namespace crieur;
using namespace crieur::sendtime;
using Steady = std::chrono::steady_clock;

namespace {
// The process's peak resident size so far (VmHWM), in MB.
double peak_mb() {
    std::ifstream in("/proc/self/status");
    std::string key;
    long kb = 0;
    while (in >> key) {
        if (key == "VmHWM:") {
            in >> kb;
            break;
        }
    }
    return static_cast<double>(kb) / 1024.0;
}

double rss_mb() {
    long pages = 0, resident = 0;
    std::ifstream("/proc/self/statm") >> pages >> resident;
    return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}
}  // namespace

int main(int argc, char** argv) {
    int citizens = 200'000, messages = 5;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--citizens")) citizens = std::atoi(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--messages")) messages = std::atoi(argv[i + 1]);
    }
    const double before = rss_mb();
    const TimePoint start = from_unix_ms(1'780'000'000'000);  // June 2026
    std::mt19937 rng(7);
    Model model(Options{});
    {
        std::vector<HistoryEvent> history;
        history.reserve(static_cast<std::size_t>(citizens) * static_cast<std::size_t>(messages) * 2);
        std::map<std::string, CitizenInfo> people;
        for (int c = 0; c < citizens; ++c) {
            const std::string id = "C-" + std::to_string(100000 + c);
            people[id] = CitizenInfo{60, 60, false};
            const int evening = 17 + static_cast<int>(rng() % 6);
            for (int m = 0; m < messages; ++m) {
                const int day = static_cast<int>(rng() % 150);
                const int sent_hour = rng() % 2 ? 8 : 13;  // UTC: 09:00 and 14:00 in Paris
                const auto sent = start + std::chrono::hours(24 * day + sent_hour);
                const std::string msg = id + "-" + std::to_string(m);
                const std::string channel = m % 3 == 0 ? "email" : "sms";
                history.push_back({sent, id, msg, channel, "sent", "batch"});
                if (rng() % 4 != 0)
                    history.push_back({start + std::chrono::hours(24 * day + evening - 1) + std::chrono::minutes(rng() % 60), id,
                                       msg, channel, channel == "email" ? "open" : "read", ""});
            }
        }
        std::sort(history.begin(), history.end(), [](auto& a, auto& b) { return a.ts < b.ts; });
        const double built = rss_mb();
        const auto t0 = Steady::now();
        model.learn(history, people);
        const double seconds = std::chrono::duration<double>(Steady::now() - t0).count();
        std::printf("bench-sendtime: %d citizens, %d messages each, %zu history rows (%.0f MB held while learning)\n",
                    citizens, messages, history.size(), built - before);
        std::printf("  learning:              %.2f s (%.0f rows/s)\n", seconds, static_cast<double>(history.size()) / seconds);
    }
    std::printf("  peak while learning:   %.0f MB over the start (the history, and 1.5 KB of counts a citizen)\n",
                peak_mb() - before);
    malloc_trim(0);  // what the history and the counts held goes back to the system, as the learner does
    const double kept = rss_mb() - before;
    std::printf("  model kept in memory:  %.1f MB for %zu citizens with rates of their own (%.0f bytes each)\n", kept,
                model.citizens(), kept * 1024 * 1024 / static_cast<double>(std::max<std::size_t>(1, model.citizens())));
    Query q;
    q.channel = "sms";
    q.quiet = QuietWindow{21 * 60, 8 * 60};
    q.policy_utc_offset_minutes = 60;
    const CitizenInfo info{60, 60, false};
    const int n = 20'000;
    std::size_t sink = 0;
    const auto t1 = Steady::now();
    for (int i = 0; i < n; ++i) {
        q.id = "q-" + std::to_string(i);
        q.citizen = "C-" + std::to_string(100000 + static_cast<int>(rng() % static_cast<unsigned>(citizens)));
        q.created_at = q.not_before = start + std::chrono::hours(24 * 151) + std::chrono::minutes(i % 1440);
        q.deadline = q.not_before + std::chrono::hours(24);
        sink += static_cast<std::size_t>(model.choose(q, &info).time_since_epoch().count() & 1);
    }
    const double per = std::chrono::duration<double, std::micro>(Steady::now() - t1).count() / n;
    std::printf("  choosing a send time:  %.1f µs each (%.0f decisions/s on one core)%s\n", per, 1e6 / per, sink == 7 ? " " : "");
    std::printf("  against the 50 MB daemon budget:  %.2fx for the model\n", kept / 50.0);
}
