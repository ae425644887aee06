// The directory's plain value types: a citizen, their contacts and consents, as the directory
// stores them and the router reads them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace crieur::directory {

// valid: a provider confirmed delivery to it; unverified: given to us, never yet confirmed or
// refused; invalid: a provider said it cannot be reached (bad number, gone push endpoint).
// The router uses valid and unverified contacts, never invalid ones.
enum class ContactState { valid, unverified, invalid };
const char* to_string(ContactState s);
std::optional<ContactState> contact_state_from(std::string_view s);

struct Contact {
    std::string channel;  // sms, whatsapp, email, push
    std::string address;  // canonical: E.164, lower-cased domain, compact subscription JSON, FCM token
    ContactState state = ContactState::unverified;
    std::string reason;   // why invalid
    std::int64_t state_at = 0;  // Unix ms of the last state change
};

struct Consent {
    std::string channel;
    std::string category;  // service, information, alert
    bool granted = false;
    std::string source;    // "import", "portal", "sms STOP", "unsubscribe link", …
    std::int64_t at = 0;   // Unix ms
};

struct QuietHours {
    int start_minute = 0;  // local time, minutes after midnight; [start, end), may wrap midnight
    int end_minute = 0;
};

struct Citizen {
    std::string id;  // the services' external id ("C-1234")
    std::string given_name, family_name;
    std::string locale;     // "fr", "en-GB"; empty: the template's default
    std::string time_zone;  // IANA, "Europe/Paris"; empty: the daemon's
    std::optional<QuietHours> quiet_hours;  // empty: the config's default
    std::vector<std::string> channels;      // preferred order; empty: the service's default order
    // The postal address: a free line as the register holds it, and its parts an audience selects
    // by (docs/audiences.md): the number, the street, the postcode, the town (name and INSEE
    // code), the town's district.
    std::string address_line, street_number, street, postcode, city, insee, district;
    std::optional<double> lat, lon;
    // What the town knows of them that a campaign may select on: "registre_canicule", "parent",
    // "eligible_rsa" (lower case, digits, _ - : and .).
    std::vector<std::string> tags;
    std::vector<Contact> contacts;  // in the order given, per channel
    std::vector<Consent> consents;
};

inline constexpr const char* kChannels[] = {"sms", "email", "whatsapp", "push"};
inline constexpr const char* kCategories[] = {"service", "information", "alert"};

}  // namespace crieur::directory
