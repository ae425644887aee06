#include "daemon/engagement/engagement_routes.hpp"

#include <algorithm>
#include <set>

#include "channels/email/tracking.hpp"
#include "channels/http_client.hpp"
#include "daemon/engagement/events.hpp"
#include "daemon/log.hpp"

namespace crieur::engagement {

namespace {

using http::status_problem;
using http::Reply;
using http::Request;

// A transparent 1×1 GIF, the smallest image every mail client shows.
constexpr unsigned char kPixel[] = {0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00,
                                    0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00,
                                    0x00, 0x2c, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02,
                                    0x44, 0x01, 0x00, 0x3b};

std::string json_string(std::string_view s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        if (static_cast<unsigned char>(c) < 0x20) continue;
        out += c;
    }
    return out + "\"";
}

// Records the engagements, then answers with what became of them.
void record_all(ReceiptStore& store, std::vector<Engagement> events, std::size_t erased, Reply reply) {
    struct Tally {
        std::size_t left = 0, recorded = 0, failed = 0;
        std::vector<std::string> unknown;
        std::size_t erased = 0;
        Reply reply;
    };
    auto tally = std::make_shared<Tally>();
    tally->left = events.size();
    tally->erased = erased;
    tally->reply = std::move(reply);
    auto finish = [](Tally& t) {
        if (t.failed > 0) return t.reply(status_problem(503, "the receipts database refused the events: send them again"));
        std::string body = "{\"recorded\":" + std::to_string(t.recorded) + ",\"erased_citizens\":" +
                           std::to_string(t.erased) + ",\"unknown_messages\":[";
        for (std::size_t i = 0; i < t.unknown.size() && i < 50; ++i) body += (i ? "," : "") + json_string(t.unknown[i]);
        t.reply({200, "application/json", body + "]}", {}});
    };
    if (events.empty()) return finish(*tally);
    for (auto& e : events) {
        std::string id = e.job_id;
        store.record_engagement(std::move(e), [tally, id = std::move(id), finish](EventVerdict v) {
            if (v == EventVerdict::recorded) ++tally->recorded;
            else if (v == EventVerdict::unknown) tally->unknown.push_back(id);
            else ++tally->failed;
            if (--tally->left == 0) finish(*tally);
        });
    }
}

void record_one(ReceiptStore& store, Engagement e) {
    store.record_engagement(std::move(e), [](EventVerdict v) {
        if (v == EventVerdict::failed) spdlog::warn("engagement: an e-mail open or click could not be recorded");
    });
}

}  // namespace

void add_engagement_routes(http::Routes& routes, const Config& config, ReceiptStore& store,
                           directory::DirectoryService& directory, const Clock& clock) {
    routes.add("POST", "/v1/events", [&store, &directory, &clock](const Request& req, std::string_view, Reply reply) {
        auto parsed = parse_events(req.body, clock.now());
        if (auto* err = std::get_if<EventsError>(&parsed))
            return reply(http::problem(422, "event_invalid", err->field.empty() ? err->reason : err->field + ": " + err->reason, err->field));
        auto events = std::move(std::get<std::vector<Engagement>>(parsed));
        std::set<std::string> citizens;
        for (auto& e : events)
            if (e.event == "session") citizens.insert(e.citizen);
        if (citizens.empty()) return record_all(store, std::move(events), 0, std::move(reply));
        // An erased citizen's id is not written again: their sessions are dropped.
        directory.run<std::set<std::string>>(
            [citizens](directory::Directory& d) {
                std::set<std::string> erased;
                for (auto& c : citizens)
                    if (d.erased(c)) erased.insert(c);
                return erased;
            },
            [&store, events = std::move(events), reply = std::move(reply)](std::optional<std::set<std::string>> erased) mutable {
                if (!erased) return reply(status_problem(503, "the directory could not be read: send the events again"));
                const auto before = events.size();
                std::erase_if(events, [&](const Engagement& e) { return e.event == "session" && erased->count(e.citizen); });
                record_all(store, std::move(events), before - events.size(), std::move(reply));
            },
            true);
    }, keys::Scope::events);

    routes.add("GET", "/t/o/", [&config, &store, &clock](const Request&, std::string_view token, Reply reply) {
        auto id = tracking::open_message_id(config.links.secret, token);
        if (!id) return reply(status_problem(404, "unknown image"));
        record_one(store, {*id, "email", "open", "", to_unix_ms(clock.now()), "image"});
        reply({200, "image/gif", std::string(reinterpret_cast<const char*>(kPixel), sizeof kPixel),
               {{"Cache-Control", "no-store, private"}}});
    }, http::Access::external);

    routes.add("GET", "/t/c/", [&config, &store, &clock](const Request& req, std::string_view token, Reply reply) {
        std::string url;
        for (auto& [k, v] : form_decode(req.query))
            if (k == "u") url = v;
        auto id = tracking::click_message_id(config.links.secret, token, url);
        // Never a redirect to a URL the token was not made for (an open redirect), nor one that
        // could break out of its header line.
        const bool printable = std::none_of(url.begin(), url.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; });
        if (!id || !printable) return reply(status_problem(404, "unknown or damaged link"));
        record_one(store, {*id, "email", "click", "", to_unix_ms(clock.now()), "link"});
        reply({302, "text/plain; charset=utf-8", "Moved: " + url + "\n",
               {{"Location", url}, {"Cache-Control", "no-store, private"}, {"Referrer-Policy", "no-referrer"}}});
    }, http::Access::external);
}

}  // namespace crieur::engagement
