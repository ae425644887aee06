// SMS encoding and cost: whether a text fits the GSM 03.38 7-bit alphabet (extension-table
// characters cost two septets) or needs UCS-2, and how many segments it takes (160/153 septets,
// 70/67 UTF-16 units; a two-septet character or a surrogate pair is never split). The "economy"
// policy replaces characters that force UCS-2 (ç, â ê î ô û, œ, ’, « », …) by their closest GSM
// equivalents. Pure functions.
#pragma once

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
// The text with every character that is not in GSM 03.38 replaced by its closest equivalent
// (or '?' when there is none).
std::string to_gsm7(std::string_view utf8);
const char* to_string(Encoding e);

}  // namespace crieur::sms
