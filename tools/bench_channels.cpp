// bench-channels: how fast an HTTP channel driver sends from one io_context thread. The Twilio
// and WhatsApp drivers send N messages (default 100,000) with up to 64 in flight over keep-alive
// connections to a stub provider that answers at once with the provider's fixed success body
// (crieur's own async Beast server, on its own thread and core, so the provider side is not the
// bottleneck). Prints requests/s, p50/p99 latency and CPU per message of the sending thread.
//   bench-channels [--messages N] [--inflight K]
#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include "channels/sms/twilio.hpp"
#include "channels/whatsapp/cloud_api.hpp"
#include "daemon/http/server.hpp"
#include "bench_support.hpp"
#include "driver_run.hpp"

using namespace crieur;

namespace {

// Prints the figures; false when a send was not accepted (the figures then time a failure).
bool report(const char* name, const bench::DriverRun& r, int messages) {
    auto pct = [&](double p) { return r.latency_ms[static_cast<std::size_t>(p * (r.latency_ms.size() - 1))]; };
    std::printf("  %-9s %8.0f sends/s  p50 %.2f ms  p99 %.2f ms  CPU %.1f µs/message  accepted %d/%d  (%.2fx the 40,000/s goal)\n",
                name, messages / r.seconds, pct(0.5), pct(0.99), r.cpu / messages * 1e6, r.accepted, messages,
                messages / r.seconds / 40'000.0);
    if (r.accepted != messages) std::fprintf(stderr, "bench-channels: %s: only %d of %d sends accepted\n", name, r.accepted, messages);
    return r.accepted == messages;
}

}  // namespace

int main(int argc, char** argv) {
    int messages = 100'000, inflight = 64;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--messages")) messages = std::atoi(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--inflight")) inflight = std::atoi(argv[i + 1]);
    }
    // The stub provider: crieur's own Beast server answering the providers' success bodies.
    boost::asio::io_context stub_io{1};
    http::Routes routes;
    routes.add("POST", "/2010-04-01/Accounts/", [](const http::Request&, std::string_view, http::Reply reply) {
        reply({201, "application/json",
               R"({"sid":"SM0123456789abcdef0123456789abcdef","status":"queued","num_segments":"1","to":"+33612345678"})", {}});
    }, http::Access::open);
    routes.add("POST", "/v21.0/", [](const http::Request&, std::string_view, http::Reply reply) {
        reply({200, "application/json",
               R"({"messaging_product":"whatsapp","contacts":[{"input":"33612345678","wa_id":"33612345678"}],"messages":[{"id":"wamid.HBgLMzM2MTIzNDU2Nzg","message_status":"accepted"}]})", {}});
    }, http::Access::open);
    http::HttpServer stub(stub_io, routes);
    stub.start("127.0.0.1", 0);
    const auto base = "http://127.0.0.1:" + std::to_string(stub.port());
    std::thread stub_thread([&] { stub_io.run(); });

    boost::asio::io_context io{1};
    auto guard = boost::asio::make_work_guard(io);
    HttpClient http(io, {inflight, "", true});
    TwilioConfig tw;
    tw.base_url = base;
    tw.account_sid = "AC00000000000000000000000000000001";
    tw.auth_token = "token";
    tw.from = "+33700000001";
    tw.status_callback = "https://mairie.example.fr/hooks/twilio";
    TwilioChannel twilio(http, "twilio", tw);
    WhatsappConfig wa;
    wa.base_url = base + "/v21.0";
    wa.phone_number_id = "1234567890";
    wa.access_token = "token";
    WhatsappChannel whatsapp(http, "whatsapp", wa);

    const Message m = bench::passport_message();

    std::printf("bench-channels: %d messages per driver, %d in flight, keep-alive, one sending thread; %u cores\n",
                messages, inflight, std::thread::hardware_concurrency());
    bench::run_driver(twilio, io, std::min(messages, 2000), inflight, m);  // warm up: connections, allocator
    const bool twilio_ok = report("twilio", bench::run_driver(twilio, io, messages, inflight, m), messages);
    const bool whatsapp_ok = report("whatsapp", bench::run_driver(whatsapp, io, messages, inflight, m), messages);
    stub_io.stop();
    stub_thread.join();
    return twilio_ok && whatsapp_ok ? 0 : 1;
}
