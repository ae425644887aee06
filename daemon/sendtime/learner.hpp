// SendTimeLearner: the daemon's send-time model, learnt again from the receipts every hour on its
// own thread (read-only SQLite connections): each accepted attempt of a citizen's message is a
// "sent"; its delivered, read, open and click events (WhatsApp reads, e-mail tracking, taps and
// reads reported to POST /v1/events) what they say; app sessions shape the phone profile. Hours
// are read in each citizen's time zone from the directory (the default zone otherwise), at the
// offset of the day it learns. The io_context's thread takes the latest model without waiting (a
// shared pointer under a short lock); none until the first is learnt.
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
    static constexpr std::size_t kShardCitizens = 10'000;  // about 16 MB of counts at a time
    // `directory_path` may name no file yet; `default_zone` is an IANA name known to date/tz.
    // `max_attempts`: the latest accepted attempts each learning reads (its work). Its memory holds
    // one shard of kShardCitizens citizens' counts at a time (Model::learn), whatever the history.
    Learner(std::string receipts_path, std::string directory_path, Options options, std::chrono::seconds period,
            std::string default_zone, std::int64_t max_attempts);
    ~Learner();
    Learner(const Learner&) = delete;
    Learner& operator=(const Learner&) = delete;

    std::shared_ptr<const Model> model() const;
    void stop();

private:
    void loop();
    std::shared_ptr<const Model> learn_once();

    std::string path_, directory_path_;
    Options options_;
    std::chrono::seconds period_;
    std::string default_zone_;
    std::int64_t max_attempts_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    std::shared_ptr<const Model> model_;
    std::thread thread_;
};

}  // namespace crieur::sendtime
