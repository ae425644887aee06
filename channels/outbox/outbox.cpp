#include "channels/outbox/outbox.hpp"

#include <chrono>

#include <boost/asio/post.hpp>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "daemon/log.hpp"

namespace crieur {

OutboxChannel::OutboxChannel(boost::asio::io_context& io, const OutboxConfig& config, const Clock& clock)
    : io_(io), dir_(config.dir), run_(std::to_string(to_unix_ms(clock.now()))) {
    std::filesystem::create_directories(dir_);
    thread_ = std::thread([this] { loop(); });
}

OutboxChannel::~OutboxChannel() {
    stop();
    for (auto& [channel, fd] : files_) ::close(fd);
}

void OutboxChannel::send(Message message, Done done) {
    bool was_empty;
    {
        std::lock_guard lock(mutex_);
        if (stopping_) {
            boost::asio::post(io_, [done = std::move(done)] {
                done(Outcome{OutcomeKind::retry, "outbox", {}, "stopping", "the outbox is stopping", 1000});
            });
            return;
        }
        was_empty = queue_.empty();
        queue_.push_back({std::move(message), std::move(done)});
    }
    if (was_empty) wake_.notify_one();
}

void OutboxChannel::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_one();
    if (thread_.joinable()) thread_.join();
}

int OutboxChannel::file_for(const std::string& channel) {
    auto it = files_.find(channel);
    if (it != files_.end()) return it->second;
    const auto path = (std::filesystem::path(dir_) / (channel + ".jsonl")).string();
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd >= 0) files_.emplace(channel, fd);
    return fd;
}

void OutboxChannel::loop() {
    std::deque<Item> batch;
    std::map<std::string, std::string> buffers;
    for (;;) {
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
            if (queue_.empty()) return;
            batch.swap(queue_);
        }
        // One write(2) per channel file per batch; lines of a batch stay whole (O_APPEND).
        std::vector<std::string> ids;
        ids.reserve(batch.size());
        for (auto& item : batch) {
            const Message& m = item.message;
            const render::Rendered& c = m.content;
            ids.push_back("outbox-" + run_ + "-" + std::to_string(++sequence_));
            rapidjson::StringBuffer buf;
            rapidjson::Writer<rapidjson::StringBuffer> w(buf);
            auto field = [&w](const char* key, const std::string& value) {
                w.Key(key);
                w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
            };
            w.StartObject();
            field("id", ids.back());
            field("job_id", m.job_id);
            field("channel", c.channel);
            field("to", m.recipient);
            field("template", c.template_name);
            field("locale", c.locale);
            if (!c.subject.empty()) field(c.channel == "push" ? "title" : "subject", c.subject);
            field("text", c.text);
            if (!c.html.empty()) field("html", c.html);
            if (!c.url.empty()) field("url", c.url);
            if (!c.icon.empty()) field("icon", c.icon);
            if (c.sms) {
                field("encoding", sms::to_string(c.sms->encoding));
                w.Key("segments");
                w.Int(c.sms->segments);
            }
            if (!c.whatsapp_name.empty()) {
                field("whatsapp_template", c.whatsapp_name);
                field("whatsapp_language", c.whatsapp_language);
                w.Key("parameters");
                w.StartArray();
                for (auto& p : c.whatsapp_parameters) w.String(p.data(), static_cast<rapidjson::SizeType>(p.size()));
                w.EndArray();
            }
            w.EndObject();
            auto& out = buffers[c.channel];
            out.append(buf.GetString(), buf.GetSize());
            out.push_back('\n');
        }
        std::map<std::string, std::string> errors;
        for (auto& [channel, text] : buffers) {
            if (text.empty()) continue;
            int fd = file_for(channel);
            std::size_t off = 0;
            while (fd >= 0 && off < text.size()) {
                ssize_t n = ::write(fd, text.data() + off, text.size() - off);
                if (n < 0 && errno == EINTR) continue;
                if (n <= 0) break;
                off += static_cast<std::size_t>(n);
            }
            if (fd < 0 || off < text.size()) {
                errors[channel] = std::string("cannot write the outbox file: ") + std::strerror(errno);
                spdlog::error("outbox: {} ({})", errors[channel], channel);
            }
            text.clear();
        }
        std::vector<std::pair<Done, Outcome>> results;
        results.reserve(batch.size());
        for (std::size_t i = 0; i < batch.size(); ++i) {
            Outcome o;
            o.provider = "outbox";
            auto err = errors.find(batch[i].message.content.channel);
            if (err == errors.end()) {
                o.kind = OutcomeKind::accepted;
                o.provider_id = std::move(ids[i]);
            } else {
                // A partly written batch may hold this line: say so rather than "not sent".
                o.kind = OutcomeKind::unknown;
                o.code = "write_error";
                o.reason = err->second;
            }
            results.emplace_back(std::move(batch[i].done), std::move(o));
        }
        batch.clear();
        boost::asio::post(io_, [results = std::move(results)]() mutable {
            for (auto& [done, outcome] : results) done(std::move(outcome));
        });
    }
}

}  // namespace crieur
