// One HTTP channel driver sending N copies of a message from the calling thread's io_context,
// with K in flight: the driver's own cost, without the pipeline around it. Shared by
// bench-channels and bench-e2e (which prints it beside the whole path's, so that what the
// pipeline adds is visible).
#pragma once

#include <sys/resource.h>

#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <chrono>
#include <functional>
#include <vector>

#include "channels/channel.hpp"

namespace crieur::bench {

inline double thread_cpu_seconds() {
    rusage u{};
    getrusage(RUSAGE_THREAD, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

struct DriverRun {
    double seconds = 0, cpu = 0;
    std::vector<double> latency_ms;  // sorted
    int accepted = 0;
};

inline DriverRun run_driver(Channel& channel, boost::asio::io_context& io, int messages, int inflight,
                            const Message& prototype) {
    using Steady = std::chrono::steady_clock;
    DriverRun r;
    r.latency_ms.reserve(static_cast<std::size_t>(messages));
    int started = 0, finished = 0;
    std::function<void()> start_one = [&] {
        if (started >= messages) return;
        ++started;
        const auto t0 = Steady::now();
        channel.send(prototype, [&, t0](Outcome o) {
            r.latency_ms.push_back(std::chrono::duration<double, std::milli>(Steady::now() - t0).count());
            r.accepted += o.kind == OutcomeKind::accepted;
            ++finished;
            start_one();
        });
    };
    const double cpu0 = thread_cpu_seconds();
    const auto t0 = Steady::now();
    for (int i = 0; i < inflight; ++i) start_one();
    while (finished < messages) io.run_one();
    r.seconds = std::chrono::duration<double>(Steady::now() - t0).count();
    r.cpu = thread_cpu_seconds() - cpu0;
    std::sort(r.latency_ms.begin(), r.latency_ms.end());
    return r;
}

}  // namespace crieur::bench
