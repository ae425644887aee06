// ReplyDesk: works out what each citizen's reply means, from the rows the hooks wrote
// (daemon/receipts/inbound.hpp), one at a time in the order they came:
//   1. whose it is: the citizen of the message it names (WhatsApp's context.id), else every
//      citizen with that address in the directory (a phone shared by a family: all of them);
//   2. what it answers: that message, else the latest message sent to one of them;
//   3. the journey: the named message's, else the citizen's latest open one; there a keyword its
//      step asked for (OUI, AIDE) becomes `reply.<KEYWORD>`, other words a plain `reply`
//      (daemon/journeys/journey_runner.hpp);
//   4. settled in the receipts with what became of it and, when its service has a callback
//      endpoint, a `reply.received` callback in the same transaction.
// A reply from an address nobody has, answering nothing of ours, is kept and counted
// (unknown_sender). A row not settled when the daemon dies is worked out at the next start; an
// instance that took it before the crash does not take it twice (its last_inbound).
// Use from the io_context's thread only.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "channels/hooks.hpp"
#include "daemon/clock.hpp"
#include "daemon/receipts/inbound.hpp"

namespace crieur {
class ReceiptStore;
struct Metrics;
namespace directory {
class DirectoryService;
}
namespace journeys {
class JourneyRunner;
}

// The reply.received callback's body (the status callbacks' envelope). The address is masked:
// the service knows the citizen by their id; the words are theirs to read.
std::string reply_callback_json(const receipts::InboundRow& row, const receipts::InboundSettled& s,
                                const std::string& instance_id, const std::string& reference);

class ReplyDesk {
public:
    // `journeys` may be null (no journeys configured): replies are then forwarded or kept.
    ReplyDesk(boost::asio::io_context& io, ReceiptStore& receipts, directory::DirectoryService& directory,
              journeys::JourneyRunner* journeys, Metrics& metrics);
    void start();
    // Citizens' messages as a provider gave them (its hook, or its driver's fetching): STOP and
    // START close and open the channel for the address (the directory), and every one is written
    // to the receipts (STOP and START settled as they are). `written` once all are, with an error
    // when one could not be: the provider must give them again (a copy is dropped by its id).
    // The replies are worked out once written.
    void take(std::string provider, std::vector<InboundMessage> messages, std::function<void(std::error_code)> written);
    // A reply was written: look now rather than at the next tick.
    void notify();
    void stop();

private:
    struct Job;
    void poll();
    void next();
    void find_citizens(std::shared_ptr<Job> job);
    void find_message(std::shared_ptr<Job> job);
    void to_journey(std::shared_ptr<Job> job);
    void settle(std::shared_ptr<Job> job);
    void retry_from(std::int64_t id);

    boost::asio::io_context& io_;
    ReceiptStore& receipts_;
    directory::DirectoryService& directory_;
    journeys::JourneyRunner* journeys_;
    Metrics& metrics_;
    boost::asio::steady_timer timer_;
    std::deque<receipts::InboundRow> rows_;  // read, not settled yet
    std::int64_t after_ = 0;                 // the rows after this are not read yet
    bool reading_ = false, working_ = false, again_ = false, stopping_ = false;
};

}  // namespace crieur
