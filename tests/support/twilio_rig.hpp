// Test support: crieurd in front of the Twilio emulator (Twilio's documented protocol, with its
// signed status callbacks back to the daemon's hook), for the tests that need real delivery
// receipts. Test code only.
#pragma once

#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include <fstream>
#include <map>
#include <memory>
#include <string>

#include "support/daemon_fixture.hpp"

namespace crieur::test {

using namespace std::chrono_literals;

inline constexpr const char* kSid = "AC00000000000000000000000000000001";
inline constexpr const char* kToken = "emulator-auth-token";

struct TwilioRig {
    TempDir dir;
    RedisServer redis{dir / "redis"};
    int emulator_port = free_port();
    Process emulator{{TWILIO_EMULATOR_PATH, "--port", std::to_string(emulator_port), "--account-sid", kSid,
                      "--auth-token", kToken, "--callback-delay-ms", "100"},
                     dir / "emulator.log"};
    std::unique_ptr<DaemonUnderTest> daemon;

    // `sections` go after the provider's; `files` (name → text) are written beside the config first.
    explicit TwilioRig(const std::string& sections = "", const std::map<std::string, std::string>& files = {}) {
        for (const auto& [name, text] : files) std::ofstream(dir / name) << text;
        REQUIRE(wait_until([&] { return http_get(emulator_port, "/emulator/messages").status == 200; }, 10s));
        // The daemon's HTTP port is chosen by the fixture; the callback URL needs it first.
        daemon = std::make_unique<DaemonUnderTest>(dir, redis, DaemonOptions{});
        const std::string callback = "http://127.0.0.1:" + std::to_string(daemon->http_port()) + "/hooks/twilio";
        daemon = std::make_unique<DaemonUnderTest>(
            dir, redis,
            DaemonOptions{
                          .extra_sections = "[[providers]]\ntype = \"twilio\"\nbase_url = \"http://127.0.0.1:" +
                                            std::to_string(emulator_port) + "\"\naccount_sid = \"" + kSid +
                                            "\"\nauth_token_env = \"CRIEUR_TEST_TWILIO_TOKEN\"\nfrom = \"+33700000001\"\n"
                                            "status_callback = \"" + callback + "\"\ntimeout_ms = 1500\n" + sections,
                          .env = {std::string("CRIEUR_TEST_TWILIO_TOKEN=") + kToken}},
            daemon->http_port());
        daemon->start();
    }
    std::string status_of(const std::string& id) {
        auto r = daemon->api("GET", "/v1/messages/" + id);
        rapidjson::Document d;
        d.Parse(r.body.c_str());
        return r.status == 200 && d.IsObject() && d["status"].IsString() ? d["status"].GetString() : "";
    }
};


}  // namespace crieur::test
