#include <doctest/doctest.h>

#include "daemon/log.hpp"

using namespace crieur;

TEST_CASE("a phone number keeps its country code and last two digits") {
    CHECK(mask_phone("+33612345678") == "+336******78");
    CHECK(mask_phone("0612345678") == "********78");
    CHECK(mask_phone("+33 6 12 34 56 78") == "+33 * ** ** ** 78");
    CHECK(mask_phone("123") == "***");
}

TEST_CASE("an e-mail address keeps two initials and the top-level domain") {
    CHECK(mask_email("jeanne.martin@example.fr") == "j***@e***.fr");
    CHECK(mask_email("@x") == "****@x***");
    CHECK(mask_email("nobody").find("nobody") == std::string::npos);
}

TEST_CASE("mask_address picks the mask from the address's shape") {
    CHECK(mask_address("jeanne.martin@example.fr") == "j***@e***.fr");
    CHECK(mask_address("+33612345678") == "+336******78");
}
