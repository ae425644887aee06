#include "daemon/send_gate.hpp"

#include <boost/asio/post.hpp>

namespace crieur {

bool SendGate::try_enter(const void* provider, int limit) {
    Lane& lane = lanes_[provider];
    if (lane.active >= limit) return false;
    ++lane.active;
    return true;
}

void SendGate::enter(const void* provider, Priority priority, std::function<void()> start) {
    lanes_[provider].waiting[static_cast<std::size_t>(priority)].push_back(std::move(start));
    ++waiting_;
}

void SendGate::leave(const void* provider) {
    auto it = lanes_.find(provider);
    if (it == lanes_.end()) return;  // a provider without a limit
    Lane& lane = it->second;
    --lane.active;
    for (auto& queue : lane.waiting) {
        if (queue.empty()) continue;
        ++lane.active;
        --waiting_;
        // Posted: the send that ends is still inside its driver's completion.
        boost::asio::post(io_, std::move(queue.front()));
        queue.pop_front();
        return;
    }
}

}  // namespace crieur
