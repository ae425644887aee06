// OutboxChannel: the embedded driver that "sends" by appending one JSON line per message to
// <dir>/<channel>.jsonl. It lets the demo and the tests run with no outside service.
// send() is called on the io_context; the file writes happen on the driver's own thread, and the
// outcomes are posted back once the lines are written (write(2) returned: a crash of the daemon
// cannot lose them, only a crash of the machine).
#pragma once

#include <boost/asio/io_context.hpp>

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "channels/channel.hpp"
#include "daemon/clock.hpp"
#include "daemon/config.hpp"

namespace crieur {

class OutboxChannel final : public Channel {
public:
    // `clock`: its run's start names its provider ids (outbox-<start ms>-<n>), unique across restarts.
    OutboxChannel(boost::asio::io_context& io, const OutboxConfig& config, const Clock& clock);
    ~OutboxChannel() override;

    std::string_view provider() const override { return "outbox"; }
    bool carries(std::string_view) const override { return true; }
    void send(Message message, Done done) override;
    void stop() override;

private:
    struct Item {
        Message message;
        Done done;
    };
    void loop();
    int file_for(const std::string& channel);

    boost::asio::io_context& io_;
    std::string dir_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<Item> queue_;
    bool stopping_ = false;
    std::map<std::string, int> files_;  // channel → descriptor, used by the writer thread only
    std::uint64_t sequence_ = 0;        // writer thread only: the outbox's own message ids
    // Ids are "outbox-<run>-<n>": the run is this driver's start in Unix ms, so that ids never
    // repeat across restarts (a delivery report matches its attempt by provider and id).
    std::string run_;
    std::thread thread_;
};

}  // namespace crieur
