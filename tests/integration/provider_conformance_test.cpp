// The provider conformance table (provider_conformance.hpp): every provider type's driver, built
// from a [[providers]] entry by its own parser and factory, against an in-process stub of its API
// that answers what each row asks. Real sockets, the real HTTP client, no mock of the driver.
#include <utility>  // GCC 12 with Boost 1.74's Asio
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <set>

#include "channels/provider.hpp"
#include "channels/registry.hpp"
#include "daemon/config.hpp"
#include "daemon/http/server.hpp"
#include "provider_conformance.hpp"

using namespace crieur;
using namespace crieur::test;
using namespace std::chrono_literals;

namespace {

// What the stub answers to the next send.
struct StubAnswer {
    int status = 200;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
    std::chrono::milliseconds delay{0};
};

class Rig {
public:
    explicit Rig(const ConformanceProfile& p) : profile_(p), server_(io_, stub_) {
        auto handler = [this](const http::Request&, std::string_view, http::Reply reply) {
            ++requests_;
            http::Response r{answer_.status, "application/json", answer_.body, answer_.headers};
            if (answer_.delay.count() == 0) return reply(std::move(r));
            auto timer = std::make_shared<boost::asio::steady_timer>(io_, answer_.delay);
            timer->async_wait([timer, r = std::move(r), reply = std::move(reply)](auto) mutable { reply(std::move(r)); });
        };
        stub_.add("POST", p.send_path, handler, http::Access::open);
        server_.start("127.0.0.1", 0);
        base_ = "http://127.0.0.1:" + std::to_string(server_.port());
        closed_ = "http://127.0.0.1:" + std::to_string(free_port());
        if (p.extra_routes) p.extra_routes(stub_, base_);
        const std::string text = "[receipts]\npath = \"r.sqlite\"\n[outbox]\ndir = \"outbox\"\n"
                                 "[[providers]]\ntype = \"" + p.type + "\"\nname = \"" + name() + "\"\ntimeout_ms = 500\n" +
                                 p.keys(base_, dir_) +
                                 "[[providers]]\ntype = \"" + p.type + "\"\nname = \"" + name() + "-down\"\ntimeout_ms = 500\n" +
                                 p.keys(closed_, dir_);
        config_ = parse_config(text, "conformance.toml", dir_.path().string());
        registry_ = std::make_unique<ChannelRegistry>(io_, config_, clock_);
    }
    ~Rig() {
        registry_->stop_all();
        server_.stop();
    }
    std::string name() const { return "conformance-" + profile_.type; }
    Channel* driver(bool down = false) const { return registry_->by_name(down ? name() + "-down" : name()); }

    // One send, run to its end: `done` must come exactly once.
    Outcome send(StubAnswer answer, bool down = false) {
        answer_ = std::move(answer);
        int calls = 0;
        Outcome out;
        driver(down)->send(profile_.message(down ? closed_ : base_), [&](Outcome o) {
            ++calls;
            out = std::move(o);
        });
        const auto deadline = std::chrono::steady_clock::now() + 10s;
        while (calls == 0 && std::chrono::steady_clock::now() < deadline) io_.run_one_for(50ms);
        io_.run_for(100ms);  // time for a second call, which must not come
        CHECK_MESSAGE(calls == 1, "done was called " << calls << " times");
        return out;
    }
    HookResult hook(const HookCall& call) const {
        return driver()->hook(HookRequest{call.method, call.path, call.query, call.body, &call.headers});
    }
    int requests() const { return requests_; }

private:
    const ConformanceProfile& profile_;
    TempDir dir_;
    boost::asio::io_context io_;
    http::Routes stub_;
    http::HttpServer server_;
    std::string base_, closed_;
    StubAnswer answer_;
    int requests_ = 0;
    Config config_;
    SystemClock clock_;
    std::unique_ptr<ChannelRegistry> registry_;
};

}  // namespace

TEST_CASE("every provider type has a conformance profile, or says why not") {
    std::set<std::string> covered;
    for (auto& p : conformance_profiles()) covered.insert(p.type);
    for (auto& [type, why] : conformance_exemptions()) covered.insert(type);
    for (auto& t : provider_types()) CHECK_MESSAGE(covered.count(std::string(t.type)), "no conformance profile for " << t.type);
}

TEST_CASE("conformance: each driver classifies its provider's answers the same way, and completes each send once") {
    REQUIRE(!conformance_profiles().empty());
    for (auto& p : conformance_profiles()) {
        CAPTURE(p.type);
        Rig rig(p);
        REQUIRE(rig.driver());
        CHECK(rig.driver()->provider() == rig.name());  // the instance's name, recorded with each attempt

        const Outcome ok = rig.send({p.success_status, p.success_body, p.success_headers});
        CHECK(ok.kind == OutcomeKind::accepted);
        CHECK_FALSE(ok.provider_id.empty());  // a callback finds its attempt by it

        const Outcome limited = rig.send({429, R"({"error":"slow down"})", {{"Retry-After", "7"}}});
        CHECK(limited.kind == OutcomeKind::retry);
        CHECK(limited.retry_after_ms == 7000);

        CHECK(rig.send({503, "Service Unavailable"}).kind == OutcomeKind::retry);
        CHECK(rig.send({401, R"({"error":"unauthorized"})"}).kind == p.auth_refused);

        // No answer in time: the request may have arrived, so never "not sent".
        const Outcome slow = rig.send({p.success_status, p.success_body, p.success_headers, 1500ms});
        CHECK(slow.kind == OutcomeKind::unknown);
        CHECK(slow.code == "timeout");

        // Nobody listening: nothing left, a retry.
        CHECK(rig.send({}, true).kind == OutcomeKind::retry);

        // A success status with an answer that says nothing: taken perhaps, but we cannot tell
        // which message it is (unless the status alone is the answer).
        const Outcome garbled = rig.send({p.success_status, "<html>proxy error</html>"});
        CHECK(garbled.kind == (p.success_reads_body ? OutcomeKind::unknown : OutcomeKind::accepted));

        // An answer of 2 MiB is cut, classified as a refusal, and its reason stays small.
        const Outcome huge = rig.send({400, "{\"message\":\"" + std::string(2 << 20, 'x') + "\"}"});
        CHECK(huge.kind != OutcomeKind::accepted);
        CHECK(huge.kind != OutcomeKind::unknown);
        CHECK(huge.reason.size() <= 4096);
    }
}

TEST_CASE("conformance: each driver's callbacks are refused without their proof, and read into events with it") {
    for (auto& p : conformance_profiles()) {
        if (!p.good_callback) continue;
        CAPTURE(p.type);
        Rig rig(p);
        const HookResult good = rig.hook(p.good_callback(rig.name()));
        CHECK(good.verdict == HookResult::Verdict::taken);
        REQUIRE_FALSE(good.events.empty());
        for (auto& e : good.events) {
            CHECK(e.provider == rig.name());  // matched against the attempts of this instance
            CHECK_FALSE(e.provider_id.empty());
        }
        CHECK(good.status >= 200);
        CHECK(good.status < 300);

        const HookResult forged = rig.hook(p.bad_proof_callback(rig.name()));
        CHECK(forged.verdict == HookResult::Verdict::refused);
        CHECK(forged.events.empty());
        CHECK(forged.inbound.empty());

        const HookResult garbled = rig.hook(p.malformed_callback(rig.name()));
        CHECK(garbled.verdict == HookResult::Verdict::malformed);
        CHECK(garbled.events.empty());

        HookCall elsewhere = p.good_callback(rig.name());
        elsewhere.path = "/no-such-hook";
        CHECK(rig.hook(elsewhere).verdict != HookResult::Verdict::taken);
    }
}
