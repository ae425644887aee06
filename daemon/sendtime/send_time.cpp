#include "daemon/sendtime/send_time.hpp"

#include <date/date.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <unordered_map>
#include <unordered_set>

namespace crieur::sendtime {

namespace {
using std::chrono::minutes;
constexpr double kMachineOpenSeconds = 30;
constexpr double kMaxPendingHours = 72;
constexpr double kMinSessions = 5;  // (weighted) app sessions before they shape a citizen's phone prior  // a message not engaged with after this long exposes no more

bool engagement(const std::string& e) { return e == "open" || e == "read" || e == "click"; }

std::uint64_t fnv1a(const std::string& s) {
    std::uint64_t h = 1469598103934665603ULL;
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
    return h;
}
}  // namespace

Group group_of(const std::string& channel) { return channel == "email" ? Group::email : Group::phone; }
double decay_hours(Group g) { return g == Group::email ? 8.0 : 3.0; }

int bin_of(TimePoint t, int utc_offset_minutes) {
    const auto local = t + minutes(utc_offset_minutes);
    const auto day = date::floor<date::days>(local);
    const int hour = static_cast<int>(date::floor<std::chrono::hours>(local - day).count());
    const unsigned wd = date::weekday(day).c_encoding();  // 0 = Sunday
    return (wd == 0 || wd == 6 ? 24 : 0) + hour;
}

void Model::learn(const std::vector<HistoryEvent>& history, const std::map<std::string, CitizenInfo>& citizens) {
    if (history.empty()) return;
    auto offset_of = [&](const std::string& c) {
        auto it = citizens.find(c);
        if (it == citizens.end()) return 0;
        return it->second.utc_offset_minutes.value_or(it->second.policy_utc_offset_minutes);
    };
    // Events in time order become messages: each ends at its first engagement, at its failure, or
    // once it has waited kMaxPendingHours unread (or at the end of the history).
    HistoryScan scan = [&](const std::function<void(const Observed&)>& message,
                           const std::function<void(const std::string&, int, TimePoint)>& session) {
        struct Open {
            std::string citizen;
            Group group;
            TimePoint delivered;
        };
        std::unordered_map<std::string, Open> open;
        TimePoint swept = history.front().ts;
        auto close = [&](const Open& m, std::optional<TimePoint> engaged) {
            message(Observed{&m.citizen, offset_of(m.citizen), m.group, m.delivered, engaged});
        };
        for (const auto& e : history) {
            if (e.ts - swept >= std::chrono::hours(1)) {  // the ones nobody read in time
                for (auto it = open.begin(); it != open.end();) {
                    if (it->second.delivered + std::chrono::hours(static_cast<int>(kMaxPendingHours)) > e.ts) {
                        ++it;
                        continue;
                    }
                    close(it->second, std::nullopt);
                    it = open.erase(it);
                }
                swept = e.ts;
            }
            if (e.event == "session") {
                session(e.citizen, offset_of(e.citizen), e.ts);
                continue;
            }
            if (e.message.empty()) continue;
            if (e.event == "sent") {
                open[e.message] = {e.citizen, group_of(e.channel), e.ts};
                continue;
            }
            auto it = open.find(e.message);
            if (it == open.end()) continue;
            Open& m = it->second;
            if (e.event == "delivered") {
                m.delivered = e.ts;
            } else if (e.event == "failed") {
                open.erase(it);
            } else if (engagement(e.event)) {
                const double since = std::chrono::duration<double>(e.ts - m.delivered).count();
                // An e-mail "open" seconds after delivery is a mail server or a privacy proxy, not a reader.
                if (e.event == "open" && m.group == Group::email && since >= 0 && since < kMachineOpenSeconds) continue;
                close(m, e.ts);
                open.erase(it);
            }
        }
        for (auto& [id, m] : open) close(m, std::nullopt);
    };
    learn(scan, history.front().ts, history.back().ts, SIZE_MAX);
}

void Model::learn(const HistoryScan& scan, TimePoint first, TimePoint end, std::size_t shard_citizens) {
    own_.clear();
    factors_.clear();
    per_citizen_.clear();
    sessions_.clear();
    engagements_ = 0;
    auto weight = [&](TimePoint t) {
        const double age_days = std::chrono::duration<double>(end - t).count() / 86400.0;
        return std::pow(0.5, age_days / options_.half_life_days);
    };
    const int step = options_.step_minutes;
    // Exposure and events of one message, in its citizen's bins.
    auto count = [&](const Observed& m, std::array<Counts, 2>& both) {
        const double tau = decay_hours(m.group);
        const int offset = m.offset;
        const double w = weight(m.delivered);
        auto& counts = both[static_cast<int>(m.group)];
        const TimePoint stop = std::min({m.engaged.value_or(end), end, m.delivered + std::chrono::hours(72)});
        for (TimePoint t = m.delivered; t < stop; t += minutes(step)) {
            const double age_h = std::chrono::duration<double>(t - m.delivered).count() / 3600.0;
            counts.exposure[static_cast<std::size_t>(bin_of(t, offset))] += w * std::exp(-age_h / tau) * step / 60.0;
        }
        if (m.engaged && *m.engaged < m.delivered + std::chrono::hours(static_cast<int>(kMaxPendingHours))) {
            counts.events[static_cast<std::size_t>(bin_of(*m.engaged, offset))] += w;
            return w;
        }
        return 0.0;
    };
    // The first pass: the population's counts, and how many citizens there are.
    std::array<Counts, 2> population{};
    std::unordered_set<std::uint64_t> seen;
    scan([&](const Observed& m) {
             engagements_ += count(m, population);
             seen.insert(fnv1a(*m.citizen));
         },
         [&](const std::string& citizen, int, TimePoint) { seen.insert(fnv1a(citizen)); });
    for (int g = 0; g < 2; ++g) {
        const auto& events = population[static_cast<std::size_t>(g)].events;
        const auto& exposure = population[static_cast<std::size_t>(g)].exposure;
        // A little smoothing: the population's rate per bin, with its mean as a weak prior.
        double total_e = 0, total_x = 0;
        for (int b = 0; b < kBins; ++b) {
            total_e += events[static_cast<std::size_t>(b)];
            total_x += exposure[static_cast<std::size_t>(b)];
        }
        const double mean = total_x > 0 ? total_e / total_x : 0.05;
        for (int b = 0; b < kBins; ++b)
            population_[static_cast<std::size_t>(g)][static_cast<std::size_t>(b)] =
                (events[static_cast<std::size_t>(b)] + 5 * mean) / (exposure[static_cast<std::size_t>(b)] + 5);
    }
    session_span_weeks_ = std::max(1.0, std::chrono::duration<double>(end - first).count() / (7 * 86400.0));
    // Then each shard of citizens: their counts, kept as bytes before the next shard.
    const std::uint64_t shards = std::max<std::uint64_t>(1, (seen.size() + shard_citizens - 1) / std::max<std::size_t>(1, shard_citizens));
    seen = {};
    for (std::uint64_t shard = 0; shard < shards; ++shard) {
        auto ours = [&](const std::string& c) { return shards == 1 || fnv1a(c) % shards == shard; };
        scan([&](const Observed& m) {
                 if (ours(*m.citizen)) count(m, per_citizen_[*m.citizen]);
             },
             [&](const std::string& citizen, int offset, TimePoint at) {
                 if (ours(citizen)) sessions_[citizen][static_cast<std::size_t>(bin_of(at, offset))] += weight(at);
             });
        freeze();
    }
    std::sort(own_.begin(), own_.end(), [](const Own& a, const Own& b) { return a.citizen < b.citizen; });
    own_.shrink_to_fit();
    factors_.shrink_to_fit();
}

Rates Model::rates(const std::string& citizen, Group g) const {
    const Rates& population = population_[static_cast<int>(g)];
    auto it = std::lower_bound(own_.begin(), own_.end(), citizen, [](const Own& o, const std::string& c) { return o.citizen < c; });
    if (it == own_.end() || it->citizen != citizen || it->at[static_cast<int>(g)] < 0) return population;
    const std::uint8_t* q = factors_.data() + it->at[static_cast<int>(g)];
    Rates out{};
    for (int b = 0; b < kBins; ++b)
        out[static_cast<std::size_t>(b)] = population[static_cast<std::size_t>(b)] * std::exp2((q[b] - 128) / 16.0);
    return out;
}

void Model::freeze() {
    std::vector<std::string> ids;
    for (auto& [c, counts] : per_citizen_) ids.push_back(c);
    for (auto& [c, s] : sessions_)
        if (!per_citizen_.count(c)) ids.push_back(c);
    for (auto& id : ids) {
        Own o{id, {-1, -1}};
        const auto counts = per_citizen_.find(id);
        for (int g = 0; g < 2; ++g) {
            // A group with messages of its own, or the phone of an app user: else the population's.
            const bool has_counts = counts != per_citizen_.end() &&
                                    std::any_of(counts->second[static_cast<std::size_t>(g)].exposure.begin(),
                                                counts->second[static_cast<std::size_t>(g)].exposure.end(),
                                                [](double x) { return x > 0; });
            const auto sessions = sessions_.find(id);
            double session_total = 0;
            if (sessions != sessions_.end())
                for (double v : sessions->second) session_total += v;
            const bool shaped = g == static_cast<int>(Group::phone) && session_total >= kMinSessions;
            if (!has_counts && !shaped) continue;
            const Rates r = learnt_rates(id, static_cast<Group>(g));
            const Rates& population = population_[static_cast<std::size_t>(g)];
            o.at[static_cast<std::size_t>(g)] = static_cast<std::int32_t>(factors_.size());
            for (int b = 0; b < kBins; ++b) {
                const double p = population[static_cast<std::size_t>(b)], v = r[static_cast<std::size_t>(b)];
                const double l = p > 0 && v > 0 ? std::log2(v / p) * 16.0 : -128.0;
                factors_.push_back(static_cast<std::uint8_t>(std::clamp(std::lround(l) + 128, 0L, 255L)));
            }
        }
        if (o.at[0] >= 0 || o.at[1] >= 0) own_.push_back(std::move(o));
    }
    per_citizen_.clear();
    sessions_.clear();
}

Rates Model::learnt_rates(const std::string& citizen, Group g) const {
    Rates prior = population_[static_cast<int>(g)];
    // App users: their sessions say when they pick up their phone; the phone prior takes that shape.
    if (g == Group::phone) {
        if (auto s = sessions_.find(citizen); s != sessions_.end()) {
            double total = 0;
            for (double v : s->second) total += v;
            if (total >= kMinSessions) {
                for (int b = 0; b < kBins; ++b) {
                    const double share = (s->second[static_cast<std::size_t>(b)] + 0.5) / (total + 0.5 * kBins);
                    prior[static_cast<std::size_t>(b)] *= 0.5 + 0.5 * share * kBins;  // half the population's, half their own
                }
            }
        }
    }
    auto it = per_citizen_.find(citizen);
    if (it == per_citizen_.end()) return prior;
    const auto& c = it->second[static_cast<int>(g)];
    Rates out{};
    const double k = options_.prior_hours / kBins * 2;  // pseudo-exposure per bin
    for (int b = 0; b < kBins; ++b)
        out[static_cast<std::size_t>(b)] =
            (c.events[static_cast<std::size_t>(b)] + k * prior[static_cast<std::size_t>(b)]) / (c.exposure[static_cast<std::size_t>(b)] + k);
    return out;
}

double Model::expected(const Query& q, const CitizenInfo* citizen, TimePoint s) const {
    const Group g = group_of(q.channel);
    const Rates r = rates(q.citizen, g);
    const int offset = citizen ? citizen->utc_offset_minutes.value_or(q.policy_utc_offset_minutes) : q.policy_utc_offset_minutes;
    const double tau = decay_hours(g);
    double integral = 0;
    const int step = options_.step_minutes;
    for (TimePoint t = s; t < q.deadline; t += minutes(step)) {
        const double age_h = std::chrono::duration<double>(t - s).count() / 3600.0;
        if (age_h > kMaxPendingHours) break;
        integral += r[static_cast<std::size_t>(bin_of(t, offset))] * std::exp(-age_h / tau) * step / 60.0;
    }
    return 1 - std::exp(-integral);
}

TimePoint Model::choose(const Query& q, const CitizenInfo* citizen) const {
    if (q.urgent || q.deadline <= q.not_before) return q.not_before;
    const TimePoint first = first_allowed_at_offset(q.not_before, q.policy_utc_offset_minutes, q.quiet);
    if (first > q.deadline) return q.not_before;  // only quiet hours in the window: nothing can honour both rules
    if (!has_data()) return first;                 // nothing learnt: every instant is alike
    const int step = options_.step_minutes;
    std::vector<TimePoint> allowed;
    for (TimePoint t = q.not_before; t <= q.deadline && allowed.size() < 2000; t += minutes(step)) {
        // Quiet hours by the policy's offset; the first instant after them is a candidate too.
        const TimePoint free = first_allowed_at_offset(t, q.policy_utc_offset_minutes, q.quiet);
        if (free > q.deadline) continue;
        if (allowed.empty() || allowed.back() != free) allowed.push_back(free);
    }
    const std::uint64_t h = fnv1a(q.id);
    if (static_cast<double>(h % 10000) / 10000.0 < options_.explore) return allowed[(h / 10000) % allowed.size()];

    // The expected engagement of every grid instant at once, backwards from the deadline:
    // I(t) = r(t)·Δ + e^(-Δ/τ)·I(t + Δ), and P(t) = 1 - e^(-I(t)). Linear in the window's length
    // (this runs on the daemon's event loop for every non-urgent message).
    const Group g = group_of(q.channel);
    const Rates r = rates(q.citizen, g);
    const int offset = citizen ? citizen->utc_offset_minutes.value_or(q.policy_utc_offset_minutes) : q.policy_utc_offset_minutes;
    const double dt_h = step / 60.0, fade = std::exp(-dt_h / decay_hours(g));
    const auto n = static_cast<std::size_t>(std::min<std::int64_t>(
        (q.deadline - q.not_before) / minutes(step) + 1, 2000));
    std::vector<double> integral(n + 1, 0.0);
    for (std::size_t i = n; i-- > 0;) {
        const TimePoint t = q.not_before + minutes(step) * static_cast<std::int64_t>(i);
        integral[i] = t < q.deadline ? r[static_cast<std::size_t>(bin_of(t, offset))] * dt_h + fade * integral[i + 1] : 0.0;
    }
    TimePoint best = allowed.front();
    double best_i = -1;
    for (TimePoint t : allowed) {
        const auto since = t - q.not_before;
        double value;
        if (since % minutes(step) == minutes(0) && static_cast<std::size_t>(since / minutes(step)) < n)
            value = integral[static_cast<std::size_t>(since / minutes(step))];
        else
            value = -std::log(1 - std::min(expected(q, citizen, t), 1 - 1e-12));  // an instant off the grid (quiet hours end)
        if (value > best_i + 1e-9) {
            best_i = value;
            best = t;
        }
    }
    return best;
}

}  // namespace crieur::sendtime
