#include <doctest/doctest.h>

#include "channels/email/smtp.hpp"

using namespace crieur;

TEST_CASE("unsubscribe tokens: the message id comes back only from a token we signed") {
    const std::string token = unsubscribe_token("secret", "job/42 été");
    CHECK(unsubscribe_message_id("secret", token) == "job/42 été");  // any job id survives the trip
    CHECK_FALSE(unsubscribe_message_id("other", token));
    CHECK_FALSE(unsubscribe_message_id("", token));
    std::string altered = token;
    altered.back() = altered.back() == '0' ? '1' : '0';
    CHECK_FALSE(unsubscribe_message_id("secret", altered));
    // Another message's MAC does not fit this id: tokens cannot be enumerated from one known link.
    const std::string other = unsubscribe_token("secret", "job-43");
    CHECK_FALSE(unsubscribe_message_id("secret", token.substr(0, token.find('.')) + other.substr(other.find('.'))));
    CHECK_FALSE(unsubscribe_message_id("secret", "no-dot"));
    CHECK_FALSE(unsubscribe_message_id("secret", "!!!." + token.substr(token.find('.') + 1)));
}
