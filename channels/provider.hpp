// The provider plug-in contract. A provider type (twilio, ovh, smtp, ...) is one folder under
// channels/ that gives a ProviderType: how it reads its own config keys, and how its driver is
// made. The daemon knows providers only through this table (channels/providers.cpp, one line per
// type); a provider's callbacks and inbound messages are parsed by its driver (Channel::hook).
// Providers are instances: each [[providers]] entry names a type and gives the instance a name,
// so a town can run two Twilio accounts for two services.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace boost::asio {
class io_context;
}

namespace crieur {

class Channel;
class HttpClient;
struct Config;
class Clock;
namespace config {
class Section;
}

// A provider type's own settings, as its parse function read them; compared at a reload to tell
// whether the instance changed.
struct ProviderSettings {
    virtual ~ProviderSettings() = default;
    virtual bool same(const ProviderSettings& other) const = 0;
};

template <class T>
struct SettingsOf final : ProviderSettings {
    explicit SettingsOf(T v) : value(std::move(v)) {}
    bool same(const ProviderSettings& other) const override {
        auto* o = dynamic_cast<const SettingsOf*>(&other);
        return o && o->value == value;
    }
    T value;
};

// One provider instance: a [[providers]] entry (or an old-style [twilio] section).
struct ProviderConfig {
    std::string type;  // which driver: "twilio"
    std::string name;  // "sms-etat-civil": in receipts, metrics, [rate_limits] and /hooks/<name>; unique
    int weight = 1;    // its share of its channel among the providers that carry it
    int max_connections = 0;  // its requests in flight at once; 0: provider_defaults.max_connections
    int line = 0;             // where it is written, for messages
    std::shared_ptr<const ProviderSettings> settings;

    // The settings its type parsed (only its own type's factory asks, so the type is known).
    template <class T>
    const T& settings_as() const {
        return static_cast<const SettingsOf<T>&>(*settings).value;
    }
    bool operator==(const ProviderConfig& o) const {
        return type == o.type && name == o.name && weight == o.weight && max_connections == o.max_connections &&
               (settings == o.settings || (settings && o.settings && settings->same(*o.settings)));
    }
};

// What a driver is built with: the io_context, the HTTP engine the drivers share, and the
// daemon-wide config it may read ([links] for e-mail, for instance).
struct ProviderContext {
    boost::asio::io_context& io;
    HttpClient& http;
    const Config& config;
    const Clock& clock;  // the wall and steady time a driver reads (see daemon/clock.hpp)
};

struct ProviderType {
    std::string_view type;     // as written in `type = "..."`
    std::string_view carries;  // the channel it carries, for `crieur` and the docs: "sms"
    // Reads the type's keys from its table (problems go to the section); never throws.
    std::shared_ptr<const ProviderSettings> (*parse)(config::Section& keys);
    // Builds the driver; throws std::runtime_error when what it needs cannot be had (a key file).
    std::unique_ptr<Channel> (*make)(const ProviderContext& context, const ProviderConfig& instance);
};

// Every provider type this build knows (channels/providers.cpp).
std::span<const ProviderType> provider_types();
const ProviderType* find_provider_type(std::string_view type);

}  // namespace crieur
