// SendTimeLearner: the daemon's send-time model, learnt again from the receipts every hour on its
// own thread (a read-only SQLite connection): each accepted attempt of a citizen's message is a
// "sent", its delivered and read events what they say. The io_context's thread takes the latest
// model without waiting (a shared pointer under a short lock); none until the first is learnt.
// Today only WhatsApp reports reads: until opens, clicks, taps and app sessions come in, most
// citizens get the population's rhythm, and with no reads at all every message goes at once.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "daemon/sendtime/send_time.hpp"

namespace crieur::sendtime {

class Learner {
public:
    Learner(std::string receipts_path, Options options, std::chrono::seconds period, int utc_offset_minutes);
    ~Learner();
    Learner(const Learner&) = delete;
    Learner& operator=(const Learner&) = delete;

    std::shared_ptr<const Model> model() const;
    void stop();

private:
    void loop();
    std::shared_ptr<const Model> learn_once();

    std::string path_;
    Options options_;
    std::chrono::seconds period_;
    int offset_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    std::shared_ptr<const Model> model_;
    std::thread thread_;
};

}  // namespace crieur::sendtime
