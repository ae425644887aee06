#include "daemon/inbound/reply_desk.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>

#include "daemon/directory/directory_service.hpp"
#include "daemon/journeys/journey_runner.hpp"
#include "daemon/log.hpp"
#include "daemon/metrics.hpp"
#include "daemon/receipts/receipt_store.hpp"
#include "daemon/types.hpp"

namespace crieur {

namespace {
constexpr int kPage = 200;
}

std::string reply_callback_json(const receipts::InboundRow& row, const receipts::InboundSettled& s,
                                const std::string& instance_id, const std::string& reference) {
    rapidjson::StringBuffer b;
    rapidjson::Writer<rapidjson::StringBuffer> w(b);
    auto str = [&](const char* k, const std::string& v) {
        w.Key(k);
        if (v.empty()) w.Null();
        else w.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size()));
    };
    w.StartObject();
    str("type", "reply.received");
    str("timestamp", format_rfc3339(from_unix_ms(row.received_ms)));
    w.Key("data");
    w.StartObject();
    str("id", "in_" + instance_id + "_" + std::to_string(row.id));  // the same if it is worked out again
    str("channel", row.channel);
    str("from", mask_address(row.sender));
    str("text", row.text);
    str("keyword", s.keyword);
    str("citizen", s.citizen);
    str("journey", s.journey);
    str("reference", reference);
    str("in_reply_to", s.answered_job);
    str("service", s.service);
    w.EndObject();
    w.EndObject();
    return {b.GetString(), b.GetSize()};
}

struct ReplyDesk::Job {
    receipts::InboundRow row;
    std::vector<std::string> citizens;
    receipts::InboundSettled settled;
    std::string reference;
};

ReplyDesk::ReplyDesk(boost::asio::io_context& io, ReceiptStore& receipts, directory::DirectoryService& directory,
                     journeys::JourneyRunner* journeys, Metrics& metrics)
    : io_(io), receipts_(receipts), directory_(directory), journeys_(journeys), metrics_(metrics), timer_(io) {}

void ReplyDesk::take(std::string provider, std::vector<InboundMessage> messages,
                     std::function<void(std::error_code)> written) {
    struct Left {
        std::size_t writes = 1;
        std::error_code error;
        bool replies = false;
        std::function<void(std::error_code)> written;
    };
    auto left = std::make_shared<Left>();
    left->written = std::move(written);
    auto done = [this, left](std::error_code e) {
        if (e) left->error = e;
        if (--left->writes > 0) return;
        if (left->written) left->written(left->error);
        if (!left->error && left->replies) notify();
    };
    for (auto& m : messages) {
        metrics_.inbound_messages++;
        const SmsKeyword word = m.provider_keyword != SmsKeyword::none ? m.provider_keyword : sms_keyword(m.text);
        left->writes += word == SmsKeyword::none ? 1 : 2;
        left->replies = left->replies || word == SmsKeyword::none;
        // A STOP is confirmed to the provider only once written: never only in memory.
        if (word == SmsKeyword::opt_out) directory_.opt_out(m.channel, m.from, m.channel + " STOP", done);
        else if (word == SmsKeyword::opt_in) directory_.opt_in(m.channel, m.from, m.channel + " START", m.channel + " STOP", done);
        receipts::InboundRecord record{provider, std::move(m.provider_id), m.channel, std::move(m.from),
                                       std::move(m.text), std::move(m.in_reply_to), m.received_ms,
                                       word == SmsKeyword::opt_out  ? receipts::InboundOutcome::opted_out
                                       : word == SmsKeyword::opt_in ? receipts::InboundOutcome::opted_in
                                                                    : receipts::InboundOutcome::pending};
        receipts_.record_inbound(std::move(record), done);
    }
    done({});
}

void ReplyDesk::start() {
    stopping_ = false;
    poll();
}

void ReplyDesk::stop() {
    stopping_ = true;
    timer_.cancel();
}

void ReplyDesk::notify() {
    if (stopping_) return;
    if (reading_ || working_) {
        again_ = true;
        return;
    }
    timer_.cancel();  // poll() now rather than at the tick
    poll();
}

void ReplyDesk::poll() {
    if (stopping_ || reading_ || working_) return;
    reading_ = true;
    again_ = false;
    receipts_.pending_inbound(after_, kPage, [this](std::vector<receipts::InboundRow> rows) {
        reading_ = false;
        if (stopping_) return;
        const bool full = static_cast<int>(rows.size()) >= kPage;
        for (auto& r : rows) {
            after_ = std::max(after_, r.id);
            rows_.push_back(std::move(r));
        }
        if (!rows_.empty()) {
            again_ = again_ || full;
            return next();
        }
        timer_.expires_after(std::chrono::seconds(again_ ? 0 : 1));
        // Cancelled by notify(), which polls itself.
        timer_.async_wait([this](boost::system::error_code e) {
            if (!e) poll();
        });
    });
}

void ReplyDesk::next() {
    if (stopping_) return;
    if (rows_.empty()) {
        working_ = false;
        return poll();
    }
    working_ = true;
    auto job = std::make_shared<Job>();
    job->row = std::move(rows_.front());
    rows_.pop_front();
    job->settled.id = job->row.id;
    find_citizens(job);
}

// Something could not be read or written: this row and the ones after it are worked out again
// in a second, from the stored rows.
void ReplyDesk::retry_from(std::int64_t id) {
    after_ = std::min(after_, id - 1);
    rows_.clear();
    working_ = false;
    timer_.expires_after(std::chrono::seconds(1));
    timer_.async_wait([this](boost::system::error_code e) {
        if (!e) poll();
    });
}

void ReplyDesk::find_citizens(std::shared_ptr<Job> job) {
    if (!job->row.answered_citizen.empty()) {
        job->citizens.push_back(job->row.answered_citizen);
        return find_message(job);
    }
    // A WhatsApp reply comes from the citizen's phone: their SMS number counts as well.
    const std::string channel = job->row.channel, address = job->row.sender;
    directory_.run<std::vector<std::string>>(
        [channel, address](directory::Directory& d) {
            auto found = d.citizens_with(channel, address);
            const char* other = channel == "whatsapp" ? "sms" : channel == "sms" ? "whatsapp" : nullptr;
            if (other)
                for (auto& c : d.citizens_with(other, address))
                    if (std::find(found.begin(), found.end(), c) == found.end()) found.push_back(c);
            return found;
        },
        [this, job](std::optional<std::vector<std::string>> found) {
            if (stopping_) return;
            if (!found) return retry_from(job->row.id);  // the directory could not be read
            job->citizens = std::move(*found);
            find_message(job);
        },
        true);
}

void ReplyDesk::find_message(std::shared_ptr<Job> job) {
    auto& s = job->settled;
    if (!job->row.answered_job.empty()) {
        s.answered_job = job->row.answered_job;
        s.service = job->row.answered_service;
        s.journey = job->row.answered_journey;
        return to_journey(job);
    }
    if (job->citizens.empty()) return to_journey(job);
    receipts_.latest_message_of(job->citizens, [this, job](std::optional<receipts::LatestMessage> m) {
        if (stopping_) return;
        if (m) {
            job->settled.answered_job = m->job_id;
            job->settled.service = m->service;
            job->settled.journey = m->journey;
        }
        to_journey(job);
    });
}

void ReplyDesk::to_journey(std::shared_ptr<Job> job) {
    if (!journeys_ || !journeys_->library() || (job->citizens.empty() && job->settled.journey.empty()))
        return settle(job);
    journeys::ReplyIn in{job->row.id, job->citizens, job->settled.journey, job->row.text};
    journeys_->reply(std::move(in), [this, job](std::optional<journeys::ReplyTaken> taken) {
        if (stopping_) return;
        if (!taken) return retry_from(job->row.id);  // the journeys' state could not be written
        auto& s = job->settled;
        if (taken->elsewhere) {
            s.journey = taken->instance;  // its keeper, another daemon, reads it; the service is the message's
        } else if (!taken->instance.empty()) {
            s.journey = taken->instance;
            s.service = taken->service;
            s.citizen = taken->citizen;
            s.keyword = taken->keyword;
            job->reference = taken->reference;
        } else if (!s.journey.empty()) {
            s.journey.clear();  // the message's journey has ended: the reply goes to its service
        }
        settle(job);
    });
}

void ReplyDesk::settle(std::shared_ptr<Job> job) {
    auto& s = job->settled;
    if (s.citizen.empty() && !job->citizens.empty()) s.citizen = job->citizens.front();
    if (!s.journey.empty()) {
        s.outcome = receipts::InboundOutcome::journey;
        metrics_.inbound_to_journeys++;
    } else if (!s.service.empty()) {
        s.outcome = receipts::InboundOutcome::forwarded;
        metrics_.inbound_forwarded++;
    } else if (job->citizens.empty()) {
        s.outcome = receipts::InboundOutcome::unknown_sender;
        metrics_.inbound_unknown_sender++;
        spdlog::info("replies: {} on {} from {}, whom no citizen has: kept", job->row.id, job->row.channel,
                     mask_address(job->row.sender));
    } else {
        s.outcome = receipts::InboundOutcome::unmatched;
        metrics_.inbound_unmatched++;
    }
    if (!s.service.empty()) {
        s.callback_key = s.answered_job.empty() ? "reply:" + std::to_string(job->row.id) : s.answered_job;
        s.callback_payload = reply_callback_json(job->row, s, receipts_.instance_id(), job->reference);
    }
    receipts_.settle_inbound(s, [this, job](std::error_code e) {
        if (stopping_) return;
        if (e) return retry_from(job->row.id);
        next();
    });
}

}  // namespace crieur
