// SMS encoding and cost: whether a text fits the GSM 03.38 7-bit alphabet (extension-table
// characters cost two septets) or needs UCS-2, and how many segments it takes (160/153 septets,
// 70/67 UTF-16 units; a two-septet character or a surrogate pair is never split). The "economy"
// policy replaces characters that force UCS-2 (ç, â ê î ô û, œ, ’, « », …) by their closest GSM
// equivalents, but never at the cost of a letter: a text with a character that has no equivalent
// (Ł, ễ, Cyrillic, ...) stays as written, in UCS-2. Pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace crieur::sms {

enum class Encoding { gsm7, ucs2 };

struct Cost {
    Encoding encoding = Encoding::gsm7;
    int characters = 0;  // Unicode code points
    int units = 0;       // septets (gsm7) or UTF-16 code units (ucs2)
    int segments = 0;    // 0 for an empty text
};

Cost cost(std::string_view utf8);
// The text with every character that is not in GSM 03.38 replaced by its closest equivalent; or
// nullopt, naming in `missing` the first character that has none (nothing is replaced by '?').
std::optional<std::string> to_gsm7(std::string_view utf8, std::string* missing = nullptr);
// The text in Unicode Normalization Form C (a letter and its combining accent as one character:
// "e" + U+0301 becomes "é", which GSM 03.38 has). Invalid UTF-8 is returned as it is.
std::string nfc(std::string_view utf8);
const char* to_string(Encoding e);

}  // namespace crieur::sms
