#include "channels/sms/gsm7.hpp"

#include <algorithm>
#include <array>
#include <vector>

namespace crieur::sms {

namespace {

// GSM 03.38 default alphabet, as Unicode code points.
constexpr std::u32string_view kBasic =
    U"@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    U"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
// The extension table: each costs an escape septet and itself.
constexpr std::u32string_view kExtension = U"\f^{}\\[~]|€";

// Decodes UTF-8; an invalid byte becomes U+FFFD.
std::u32string decode(std::string_view s) {
    std::u32string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size();) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        int len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
        if (len == 0 || i + static_cast<std::size_t>(len) > s.size()) {
            out += U'\uFFFD';
            ++i;
            continue;
        }
        char32_t cp = len == 1 ? c : len == 2 ? (c & 0x1f) : len == 3 ? (c & 0x0f) : (c & 0x07);
        bool ok = true;
        for (int k = 1; k < len; ++k) {
            unsigned char cc = static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]);
            ok = ok && (cc >> 6) == 0x2;
            cp = (cp << 6) | (cc & 0x3f);
        }
        out += ok ? cp : U'\uFFFD';
        i += ok ? static_cast<std::size_t>(len) : 1;
    }
    return out;
}

void encode(char32_t cp, std::string& out) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xc0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xe0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
        out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
        out += static_cast<char>(0xf0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
        out += static_cast<char>(0x80 | (cp & 0x3f));
    }
}

int septets(char32_t cp) {
    if (kBasic.find(cp) != std::u32string_view::npos) return 1;
    if (kExtension.find(cp) != std::u32string_view::npos) return 2;
    return 0;
}

// Fills segments of `per_segment` units with items of 1 or 2 units that may not be split.
int segments_for(const std::vector<int>& sizes, int single, int per_segment) {
    int total = 0;
    for (int s : sizes) total += s;
    if (total == 0) return 0;
    if (total <= single) return 1;
    int segments = 1, used = 0;
    for (int s : sizes) {
        if (used + s > per_segment) {
            ++segments;
            used = 0;
        }
        used += s;
    }
    return segments;
}

struct Replacement {
    char32_t from;
    std::string_view to;
};
// Closest GSM 03.38 equivalents of what French (and its typography) uses outside the alphabet.
constexpr std::array<Replacement, 52> kReplacements{{
    {U'ç', "c"},  {U'â', "a"},  {U'ê', "e"},  {U'î', "i"},  {U'ô', "o"},  {U'û', "u"},  {U'ë', "e"},
    {U'ï', "i"},  {U'ÿ', "y"},  {U'á', "a"},  {U'í', "i"},  {U'ó', "o"},  {U'ú', "u"},  {U'ã', "a"},
    {U'õ', "o"},  {U'À', "A"},  {U'Â', "A"},  {U'È', "E"},  {U'Ê', "E"},  {U'Ë', "E"},  {U'Î', "I"},
    {U'Ï', "I"},  {U'Ô', "O"},  {U'Ù', "U"},  {U'Û', "U"},  {U'Ÿ', "Y"},  {U'Á', "A"},  {U'Í', "I"},
    {U'Ó', "O"},  {U'Ú', "U"},  {U'œ', "oe"}, {U'Œ', "OE"}, {U'’', "'"},  {U'‘', "'"},  {U'‚', "'"},
    {U'“', "\""}, {U'”', "\""}, {U'„', "\""}, {U'«', "\""}, {U'»', "\""}, {U'–', "-"},  {U'—', "-"},
    {U'‐', "-"},  {U'…', "..."}, {U'\u00A0', " "}, {U'\u202F', " "}, {U'\u2009', " "}, {U'\t', " "},
    {U'`', "'"},  {U'´', "'"},  {U'•', "-"},  {U'°', "o"},
}};

}  // namespace

Cost cost(std::string_view utf8) {
    const std::u32string text = decode(utf8);
    Cost c;
    c.characters = static_cast<int>(text.size());
    std::vector<int> sizes;
    sizes.reserve(text.size());
    bool gsm = true;
    for (char32_t cp : text) {
        int n = septets(cp);
        if (n == 0) {
            gsm = false;
            break;
        }
        sizes.push_back(n);
    }
    if (gsm) {
        c.encoding = Encoding::gsm7;
        for (int s : sizes) c.units += s;
        c.segments = segments_for(sizes, 160, 153);
        return c;
    }
    sizes.clear();
    for (char32_t cp : text) sizes.push_back(cp > 0xFFFF ? 2 : 1);  // surrogate pairs
    c.encoding = Encoding::ucs2;
    for (int s : sizes) c.units += s;
    c.segments = segments_for(sizes, 70, 67);
    return c;
}

std::string to_gsm7(std::string_view utf8) {
    std::string out;
    out.reserve(utf8.size());
    for (char32_t cp : decode(utf8)) {
        if (septets(cp) > 0) {
            encode(cp, out);
            continue;
        }
        auto r = std::find_if(kReplacements.begin(), kReplacements.end(), [&](const Replacement& x) { return x.from == cp; });
        out += r != kReplacements.end() ? r->to : "?";
    }
    return out;
}

const char* to_string(Encoding e) { return e == Encoding::gsm7 ? "gsm7" : "ucs2"; }

}  // namespace crieur::sms
