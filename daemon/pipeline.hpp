// Pipeline: moves one valid job from intake to its outcome: deadline and schedule checks, the
// channel, the attempt recorded before the send, the send, the outcome committed. It is the only
// caller of the channel drivers. Use from the io_context's thread only.
#pragma once

#include <functional>
#include <string>

#include "daemon/config.hpp"
#include "daemon/intake.hpp"
#include "daemon/metrics.hpp"
#include "daemon/types.hpp"

namespace crieur {

class ChannelRegistry;
class ReceiptStore;
class Schedule;

class Pipeline {
public:
    Pipeline(const Config& config, ReceiptStore& store, ChannelRegistry& channels, Schedule& schedule,
             Metrics& metrics, const Clock& clock);

    void process(Job job, const StreamEntry& entry, std::function<void(Disposition)> done);

private:
    void send(Job job, std::string entry_id, std::function<void(Disposition)> done);

    IntakeConfig intake_;
    ReceiptStore& store_;
    ChannelRegistry& channels_;
    Schedule& schedule_;
    Metrics& metrics_;
    const Clock& clock_;
};

// The channel a job goes out on, and the address there: the forced channel, else the first inline
// contact, else the default channel. Until the citizen directory exists, a citizen job is
// addressed to "citizen:<id>". Pure.
struct Route {
    std::string channel;
    std::string recipient;
};
Route route_for(const Job& job, const std::string& default_channel);

// The message text until the template engine lands: data.text when given, else the template's
// name and its data. Pure.
std::string stand_in_text(const Job& job);

}  // namespace crieur
