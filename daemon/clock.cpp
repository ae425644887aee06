#include "daemon/clock.hpp"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <thread>

namespace crieur {

TimePoint SystemClock::now() const {
    return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

struct DaemonClock::Poller {
    std::atomic<std::int64_t> offset_ms{0};
    std::jthread thread;
};

DaemonClock::DaemonClock() {
    const char* file = std::getenv("CRIEUR_TEST_CLOCK_FILE");
    if (!file || !*file) return;
    file_ = file;
    poller_ = std::make_unique<Poller>();
    auto read = [path = file_, p = poller_.get()] {
        std::ifstream in(path);
        long long ms = 0;
        if (in >> ms) p->offset_ms.store(ms, std::memory_order_relaxed);
    };
    read();
    poller_->thread = std::jthread([read](std::stop_token stop) {
        while (!stop.stop_requested()) {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            read();
        }
    });
}

DaemonClock::~DaemonClock() = default;  // the jthread asks its loop to stop and joins it

TimePoint DaemonClock::now() const {
    const auto t = std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
    return poller_ ? t + std::chrono::milliseconds(poller_->offset_ms.load(std::memory_order_relaxed)) : t;
}

std::string format_rfc3339(TimePoint t) {
    using namespace std::chrono;
    const auto day = floor<days>(t);
    const year_month_day ymd{day};
    const hh_mm_ss hms{t - day};
    char buf[32];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", int(ymd.year()), unsigned(ymd.month()),
                  unsigned(ymd.day()), int(hms.hours().count()), int(hms.minutes().count()),
                  int(hms.seconds().count()), int(hms.subseconds().count()));
    return buf;
}

}  // namespace crieur
