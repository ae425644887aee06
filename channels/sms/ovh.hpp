// OvhChannel: SMS through the OVHcloud API v1 (POST /sms/{service}/jobs), each request signed
// ("$1$" + SHA1 of secret, consumer key, method, URL, body and timestamp). Public-service messages
// go with noStopClause, so that OVH neither appends the commercial STOP mention nor holds them
// until marketing hours. Delivery reports come to /hooks/<name>/<token> (OVH signs nothing: the
// token in the path is the protection). Use from the io_context's thread only.
//
// Its keys, in a [[providers]] entry with type = "ovh":
//   service_name (sms-xx12345-1), application_key, application_secret_env | _file,
//   consumer_key_env | _file, sender (validated by OVH, at most 11 characters): all required;
//   callback_token_env | _file (the secret path part of /hooks/<name>/<token>; without it no
//   delivery reports), base_url = "https://eu.api.ovh.com/1.0", timeout_ms = 10000;
//   sender_for_response = false (true: sent from a number that can be answered, OVH's
//   senderForResponse, instead of `sender`), inbound_poll_s = 0 (every so many seconds, the
//   citizens' replies are fetched from GET /sms/{service}/incoming, since OVH pushes none, and
//   each is deleted there once stored; 0: not fetched).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "channels/channel.hpp"
#include "channels/http_client.hpp"
#include "channels/provider.hpp"
#include "daemon/clock.hpp"

namespace crieur {

struct OvhConfig {
    std::string base_url = "https://eu.api.ovh.com/1.0";
    std::string service_name;        // sms-xx12345-1
    std::string application_key;
    std::string application_secret;  // from application_secret_env/_file
    std::string consumer_key;        // from consumer_key_env/_file
    std::string sender;              // a sender validated by OVH (≤ 11 characters)
    std::string callback_token;      // the secret path part of /hooks/<name>/<token>
    int timeout_ms = 10'000;
    bool sender_for_response = false;  // send from a number citizens can answer
    int inbound_poll_s = 0;            // fetch their replies every so many seconds; 0: never
    bool operator==(const OvhConfig&) const = default;
};

ProviderType ovh_provider();

// "$1$" + hex(SHA1(AS+CK+METHOD+URL+BODY+TS)).
std::string ovh_signature(const std::string& application_secret, const std::string& consumer_key,
                          const std::string& method, const std::string& url, const std::string& body,
                          const std::string& timestamp);
Outcome classify_ovh(const HttpResponse& response, const std::string& receiver);
// A delivery report's `dlr` as our status word: 1 delivered, 2 or 16 failed, else nothing.
std::string ovh_status(const std::string& dlr);
// An incoming message as GET /sms/{service}/incoming/{id} answers it ({creationDatetime, credits,
// id, message, sender, tag}); nullopt when it is not one. The sender comes as +33... or 0033...
std::optional<InboundMessage> parse_ovh_incoming(std::string_view body);

class OvhChannel final : public Channel {
public:
    OvhChannel(boost::asio::io_context& io, HttpClient& http, std::string name, OvhConfig config, const Clock& clock);
    ~OvhChannel() override;
    std::string_view provider() const override { return name_; }
    bool carries(std::string_view channel) const override { return channel == "sms"; }
    void send(Message message, Done done) override;
    HookResult hook(const HookRequest& request) const override;
    void start_inbound(InboundSink sink) override;
    void stop() override;

private:
    HttpRequest signed_request(std::string method, std::string url, std::string body) const;
    void poll_later(std::chrono::seconds after);
    void poll();
    void fetch(std::shared_ptr<std::vector<long long>> ids, std::size_t next, std::vector<InboundMessage> got);
    void remove(const std::vector<long long>& ids);

    boost::asio::io_context& io_;
    HttpClient& http_;
    const Clock& clock_;
    std::string name_;
    OvhConfig config_;
    std::string url_;
    InboundSink sink_;
    std::unique_ptr<boost::asio::steady_timer> poll_timer_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // answers that come after stop() do nothing
};

}  // namespace crieur
