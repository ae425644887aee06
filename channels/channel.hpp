// The one interface every channel driver implements. A driver takes a rendered Message, sends it,
// and calls `done` exactly once, on the io_context, with a classified Outcome. It also reads its
// provider's callbacks (hook). Drivers are created by their ProviderType (channels/provider.hpp)
// and used on the io_context's thread; they must never block it.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "channels/hooks.hpp"
#include "daemon/types.hpp"

namespace crieur {

class Channel {
public:
    using Done = std::function<void(Outcome)>;
    virtual ~Channel() = default;

    // The provider instance's name as recorded with each attempt ("outbox", "twilio", "sms-ccas").
    virtual std::string_view provider() const = 0;
    // Whether this driver can carry messages of the given channel ("sms", "email", ...).
    virtual bool carries(std::string_view channel) const = 0;
    // Whether it can reach this address (a browser subscription and an app token are both "push").
    virtual bool accepts(std::string_view /*recipient*/) const { return true; }
    // Where one recipient's failures say nothing of the others' (each Web Push subscription has
    // its own endpoint), the key of that recipient's own circuit breaker: its failures open that
    // one, never the provider's. Empty: the provider's one breaker.
    virtual std::string breaker_scope(std::string_view /*recipient*/) const { return {}; }
    // Why this provider will never send to an address of a kind it accepts (a Web Push endpoint
    // outside its allowed hosts), for the directory to refuse it when it is stored; empty: it may.
    virtual std::string refusal(std::string_view /*recipient*/) const { return {}; }
    virtual void send(Message message, Done done) = 0;
    // A request to /hooks/<name>/...: the provider's proof checked, its contents as values. Pure
    // (no effect but reading the request); the route records what it returns.
    virtual HookResult hook(const HookRequest& /*request*/) const { return {}; }
    // Where a driver whose provider pushes no citizens' messages (OVHcloud: they must be fetched)
    // hands what it fetched: its instance name, the messages, and `stored`, called once they are
    // written (true: the driver may delete them at the provider) or could not be (false: keep them).
    using InboundSink = std::function<void(std::string_view provider, std::vector<InboundMessage> messages,
                                           std::function<void(bool stored)> stored)>;
    // Starts fetching them, when the provider needs it and the config asks for it.
    virtual void start_inbound(InboundSink /*sink*/) {}
    // Finishes what is in flight (calling every `done`) and refuses new sends.
    virtual void stop() {}
};

}  // namespace crieur
