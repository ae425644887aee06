// The one interface every channel driver implements. A driver takes a rendered Message, sends it,
// and calls `done` exactly once, on the io_context, with a classified Outcome.
// Drivers are created and used on the io_context's thread; they must never block it.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "daemon/types.hpp"

namespace crieur {

class Channel {
public:
    using Done = std::function<void(Outcome)>;
    virtual ~Channel() = default;

    // The provider's name as recorded with each attempt ("outbox", "twilio", ...).
    virtual std::string_view provider() const = 0;
    // Whether this driver can carry messages of the given channel ("sms", "email", ...).
    virtual bool carries(std::string_view channel) const = 0;
    // Whether it can reach this address (a browser subscription and an app token are both "push").
    virtual bool accepts(std::string_view /*recipient*/) const { return true; }
    virtual void send(Message message, Done done) = 0;
    // Finishes what is in flight (calling every `done`) and refuses new sends.
    virtual void stop() {}
};

}  // namespace crieur
