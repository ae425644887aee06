// SendTime: the instant, within a message's window, that maximises the chance the citizen reads
// or acts on it before the deadline, learnt from engagement history.
//
// The model. A citizen has an availability a(b) per local time bin b (48 bins: 24 hours × weekday
// or weekend), one for phone-like channels (SMS, WhatsApp, push, app) and one for e-mail. A
// message delivered at s draws the citizen's attention with hazard a(bin(t)) · exp(-(t - s) / τ)
// at time t: attention is highest soon after delivery and fades as the message sinks among others
// (τ = 3 h on a phone, 8 h for e-mail). So P(engaged before deadline | sent at s) = 1 - exp(-∫ a ·
// decay), and the best s is just before the citizen's available hours, not merely the earliest.
//
// Learning a(b) from history is the Poisson rate "engagements / decayed exposure" per bin: each
// delivered message exposes the bins it spends unread (weighted by the decay), and its first
// engagement is an event in its bin. This corrects for when messages were sent: a citizen who got
// everything at 09:00 and read it at 19:00 gets exposure at 09:00-19:00 and the event at 19:00.
// E-mail opens within 30 s of delivery are machine opens (ignored). Recent history weighs more
// (half-life 60 days). Per-citizen rates are shrunk towards the population's (Gamma-Poisson, a
// prior worth `prior_hours` of exposure), so little history means the population's rhythm, and
// more history sharpens it. App sessions (not caused by messages) reshape the phone prior of app
// users. A small share of decisions (5 %, chosen by a hash of the query id) explores: a random
// allowed slot, so that rarely-tried hours keep being measured. Urgent messages go at once.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "daemon/clock.hpp"
#include "daemon/quiet_hours.hpp"

namespace crieur::sendtime {

inline constexpr int kBins = 48;
using Rates = std::array<double, kBins>;

enum class Group { phone, email };
Group group_of(const std::string& channel);

struct HistoryEvent {
    TimePoint ts;
    std::string citizen, message, channel, event, kind;
};

// One message as learning sees it: its citizen and channel group, when it reached them (sent, or
// delivered when a receipt said so), and their first engagement with it (e-mail machine opens
// already left out). A message that failed is not one.
// `offset`: the citizen's UTC offset in minutes, for their local hours.
struct Observed {
    const std::string* citizen;
    int offset;
    Group group;
    TimePoint delivered;
    std::optional<TimePoint> engaged;
};

// Reads a history once, calling `message` for each message (in any order) and `session` for
// each app session. Learning calls it once per pass.
using HistoryScan = std::function<void(const std::function<void(const Observed&)>& message,
                                       const std::function<void(const std::string& citizen, int offset, TimePoint at)>& session)>;

struct CitizenInfo {
    std::optional<int> utc_offset_minutes;
    int policy_utc_offset_minutes = 0;
    bool app_user = false;
};

struct Query {
    std::string id, citizen, channel;
    TimePoint created_at, not_before, deadline;
    bool urgent = false;
    QuietWindow quiet;
    int policy_utc_offset_minutes = 0;
};

struct Options {
    double prior_hours = 30;      // the population prior's weight, in hours of exposure
    double half_life_days = 60;
    double explore = 0.05;
    int step_minutes = 15;
};

class Model {
public:
    explicit Model(Options options = {}) : options_(options) {}
    // Learns from history (sorted by time), with each citizen's offset.
    void learn(const std::vector<HistoryEvent>& history, const std::map<std::string, CitizenInfo>& citizens);
    // The same from a history read again for each pass: one for the population's rates, then one
    // per shard of at most `shard_citizens` citizens, whose counts are kept as bytes before the
    // next shard. Memory holds one shard's counts (1.5 KB a citizen), however long the history.
    // `first` and `end`: the span of the history (recency weights, app sessions per week).
    void learn(const HistoryScan& scan, TimePoint first, TimePoint end, std::size_t shard_citizens = 20'000);
    // The chosen instant for a query (hard rules: within [not_before, deadline], outside quiet
    // hours for normal messages, within 15 minutes of not_before for urgent ones).
    TimePoint choose(const Query& q, const CitizenInfo* citizen) const;
    // P(engaged before the deadline | sent at s), under the learnt rates.
    double expected(const Query& q, const CitizenInfo* citizen, TimePoint s) const;
    // The citizen's rates (shrunk), for a group.
    Rates rates(const std::string& citizen, Group g) const;
    const Rates& population(Group g) const { return population_[static_cast<int>(g)]; }
    // Whether any engagement was learnt: without it every instant is alike, and nothing explores.
    bool has_data() const { return engagements_ > 0; }

    // How many citizens have rates of their own (for the logs).
    std::size_t citizens() const { return own_.size(); }

private:
    struct Counts {
        Rates events{}, exposure{};
    };
    // A citizen's learnt rates, kept once learning is over: per group, each bin's rate as a factor
    // of the population's, quantised to a byte (log2 in sixteenths, from 1/256 to 256). 48 bytes
    // a group instead of the 1.5 KB of counts: a city's citizens fit in a few tens of MB.
    struct Own {
        std::string citizen;
        std::array<std::int32_t, 2> at{-1, -1};  // offsets into factors_ by group; -1: the prior
    };
    Rates learnt_rates(const std::string& citizen, Group g) const;  // from the counts, while learning
    void freeze();  // the counts of per_citizen_ and sessions_ into own_ and factors_, then cleared
    Options options_;
    std::map<std::string, std::array<Counts, 2>> per_citizen_;  // while learning only
    std::map<std::string, Rates> sessions_;  // session counts per bin (app users), while learning only
    std::vector<Own> own_;                   // sorted by citizen
    std::vector<std::uint8_t> factors_;
    std::array<Rates, 2> population_{};
    double session_span_weeks_ = 1;
    double engagements_ = 0;
};

double decay_hours(Group g);
int bin_of(TimePoint t, int utc_offset_minutes);

}  // namespace crieur::sendtime
