#include <doctest/doctest.h>

#include <filesystem>

#include "channels/registry.hpp"
#include "channels/sms/ovh.hpp"
#include "channels/sms/twilio.hpp"
#include "support/provider_instances.hpp"

using namespace crieur;

TEST_CASE("SMS is shared between providers by weight, and the outbox takes what no provider carries") {
    boost::asio::io_context io;
    Config c;
    c.outbox.dir = (std::filesystem::temp_directory_path() / ("crieur-registry-" + std::to_string(::getpid()))).string();
    c.providers = {test::instance<TwilioConfig>("twilio", "twilio", 3), test::instance<OvhConfig>("ovh", "ovh", 1)};
    SystemClock clock;
    ChannelRegistry registry(io, c, clock);
    int twilio = 0, ovh = 0;
    for (int i = 0; i < 4000; ++i) {
        auto p = registry.find("sms")->provider();
        twilio += p == "twilio";
        ovh += p == "ovh";
    }
    CHECK(twilio + ovh == 4000);
    CHECK(twilio > 2700);  // 3,000 expected; 2,700 is more than 10 standard deviations away
    CHECK(twilio < 3300);
    CHECK(registry.find("email")->provider() == "outbox");
    CHECK(registry.find("push")->provider() == "outbox");
    registry.stop_all();
    std::filesystem::remove_all(c.outbox.dir);
}

TEST_CASE("a provider with weight 0 is not used while another carries the channel") {
    boost::asio::io_context io;
    Config c;
    c.outbox.dir = (std::filesystem::temp_directory_path() / ("crieur-registry0-" + std::to_string(::getpid()))).string();
    c.providers = {test::instance<TwilioConfig>("twilio", "twilio", 0), test::instance<OvhConfig>("ovh", "ovh")};
    SystemClock clock;
    ChannelRegistry registry(io, c, clock);
    for (int i = 0; i < 100; ++i) CHECK(registry.find("sms")->provider() == "ovh");
    registry.stop_all();
    std::filesystem::remove_all(c.outbox.dir);
}
