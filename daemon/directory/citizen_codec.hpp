// CitizenCodec: a citizen from the JSON the HTTP API and JSON-lines imports carry, or from a CSV
// row; and a citizen as JSON. Every address is checked and made canonical (ContactCheck); a
// problem names its field or column.
#pragma once

#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "daemon/directory/citizen.hpp"
#include "daemon/directory/contact_check.hpp"

namespace crieur::directory {

struct FieldError {
    std::string field;   // "contacts.sms", "phone", "quiet_hours.start"
    std::string reason;
};

// {"id", "given_name", "family_name", "locale", "time_zone", "quiet_hours": {"start": "21:00", "end": "08:00"},
//  "channels": ["sms", "email"], "address": {"line", "number", "street", "postcode", "city", "insee", "district"},
//  "location": {"lat", "lon"}, "tags": ["registre_canicule", ...],
//  "contacts": {"sms": "06 12 34 56 78" | [...], "whatsapp", "email", "push": [subscription | fcm token]},
//  "consents": [{"channel", "category", "granted", "source"}]}
// `id_from_path`: the id in the URL, which the body's must match when it has one.
std::variant<Citizen, FieldError> citizen_from_json(std::string_view json, const ContactCheck& check,
                                                    const std::string& id_from_path = {});
std::string citizen_to_json(const Citizen& c);

// The CSV columns an import reads (header names; any order, unknown ones are an error, all optional but id):
// id, given_name, family_name, locale, time_zone, channels (";"-separated), sms, whatsapp, email,
// address_line, street_number, street, postcode, city, insee, district, lat, lon, quiet_start, quiet_end,
// consent_information (";"-separated channels), tags (";"-separated).
class CsvCitizenReader {
public:
    // Checks the header; a FieldError names the unknown or missing column.
    static std::variant<CsvCitizenReader, FieldError> from_header(const std::vector<std::string>& header);
    std::variant<Citizen, FieldError> read(const std::vector<std::string>& row, const ContactCheck& check) const;

private:
    std::vector<std::string> columns_;
};

// Splits one CSV record (RFC 4180: quoted fields, "" for a quote). False when a quote is left open
// (the record continues on the next line: call again with the lines joined by '\n').
bool split_csv(std::string_view line, std::vector<std::string>& fields);

// Why a tag is not one (lower-case letters, digits, _ - : ., 1 to 64 characters); nullopt when it is.
std::optional<std::string> tag_problem(const std::string& tag);

// "21:00" → 1260; nullopt when not HH:MM.
std::optional<int> minutes_of(std::string_view hhmm);

}  // namespace crieur::directory
