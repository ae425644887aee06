// bench-sendtime: what the daemon's send-time model costs for a city. A history of C citizens
// with M messages each (sent at 09:00 or 14:00, read at each citizen's own evening hour, a
// quarter never), learnt as the daemon's learner does (one pass for the population, then one per
// shard of 20,000 citizens). Prints the learning time, its memory peak, the memory the learnt
// model keeps, and how long choosing one send time takes (a 24-hour window, 15-minute steps).
//   bench-sendtime [--citizens C] [--messages M]
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "daemon/sendtime/learner.hpp"
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
    const TimePoint end = start + std::chrono::hours(24 * 151);
    Model model(Options{});
    // The history is generated again, the same, at each pass (as the daemon's learner reads the
    // receipts again): what the benchmark holds is the model's learning, not a copy of the history.
    std::size_t rows = 0;
    HistoryScan scan = [&](const std::function<void(const Observed&)>& message,
                           const std::function<void(const std::string&, int, TimePoint)>&) {
        std::mt19937 rng(7);
        std::string id;
        rows = 0;
        for (int c = 0; c < citizens; ++c) {
            id = "C-" + std::to_string(100000 + c);
            const int evening = 17 + static_cast<int>(rng() % 6);
            for (int m = 0; m < messages; ++m) {
                const int day = static_cast<int>(rng() % 150);
                const int sent_hour = rng() % 2 ? 8 : 13;  // UTC: 09:00 and 14:00 in Paris
                const auto sent = start + std::chrono::hours(24 * day + sent_hour);
                const Group group = m % 3 == 0 ? Group::email : Group::phone;
                std::optional<TimePoint> read;
                if (rng() % 4 != 0) read = start + std::chrono::hours(24 * day + evening - 1) + std::chrono::minutes(rng() % 60);
                message(Observed{&id, 60, group, sent, read});
                rows += read ? 2 : 1;
            }
        }
    };
    const auto t0 = Steady::now();
    model.learn(scan, start, end, sendtime::Learner::kShardCitizens);
    const double seconds = std::chrono::duration<double>(Steady::now() - t0).count();
    const std::size_t shard = sendtime::Learner::kShardCitizens, passes = 1 + (static_cast<std::size_t>(citizens) + shard - 1) / shard;
    std::printf("bench-sendtime: %d citizens, %d messages each (%zu history rows), shards of %zu citizens\n", citizens,
                messages, rows, sendtime::Learner::kShardCitizens);
    std::printf("  learning:              %.2f s in %zu passes (%.0f rows/s over all passes)\n", seconds, passes,
                static_cast<double>(rows * passes) / seconds);
    std::printf("  peak while learning:   %.0f MB over the start\n", peak_mb() - before);
    malloc_trim(0);  // what the counts held goes back to the system, as the learner does
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
    std::mt19937 rng(11);
    const auto t1 = Steady::now();
    for (int i = 0; i < n; ++i) {
        q.id = "q-" + std::to_string(i);
        q.citizen = "C-" + std::to_string(100000 + static_cast<int>(rng() % static_cast<unsigned>(citizens)));
        q.created_at = q.not_before = end + std::chrono::minutes(i % 1440);
        q.deadline = q.not_before + std::chrono::hours(24);
        sink += static_cast<std::size_t>(model.choose(q, &info).time_since_epoch().count() & 1);
    }
    const double per = std::chrono::duration<double, std::micro>(Steady::now() - t1).count() / n;
    std::printf("  choosing a send time:  %.1f µs each (%.0f decisions/s on one core)%s\n", per, 1e6 / per, sink == 7 ? " " : "");
    std::printf("  against the 50 MB daemon budget:  %.2fx at the peak, %.2fx kept\n", (peak_mb() - before) / 50.0, kept / 50.0);
}
