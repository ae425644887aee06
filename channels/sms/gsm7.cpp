#include "channels/sms/gsm7.hpp"

#include <uninorm.h>
#include <unistr.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <memory>

namespace crieur::sms {

namespace {

// GSM 03.38 default alphabet, as Unicode code points.
constexpr std::u32string_view kBasic =
    U"@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    U"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
// The extension table: each costs an escape septet and itself.
constexpr std::u32string_view kExtension = U"\f^{}\\[~]|€";

// Reads the code point at `i` and moves `i` past it; an invalid byte reads as U+FFFD.
inline char32_t next_code_point(std::string_view s, std::size_t& i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {  // the common case, kept short
        ++i;
        return c;
    }
    const int len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    if (len == 0 || i + static_cast<std::size_t>(len) > s.size()) {
        ++i;
        return U'\uFFFD';
    }
    char32_t cp = len == 1 ? c : len == 2 ? (c & 0x1f) : len == 3 ? (c & 0x0f) : (c & 0x07);
    for (int k = 1; k < len; ++k) {
        const unsigned char cc = static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]);
        if ((cc >> 6) != 0x2) {
            ++i;
            return U'\uFFFD';
        }
        cp = (cp << 6) | (cc & 0x3f);
    }
    i += static_cast<std::size_t>(len);
    return cp;
}

// Septets per code point of the Basic Multilingual Plane: 1, 2 (extension table) or 0 (not GSM).
const std::array<std::uint8_t, 0x10000> kSeptets = [] {
    std::array<std::uint8_t, 0x10000> t{};
    for (char32_t cp : kBasic) t[cp] = 1;
    for (char32_t cp : kExtension) t[cp] = 2;
    return t;
}();

inline int septets(char32_t cp) { return cp < 0x10000 ? kSeptets[cp] : 0; }

// Units of each character of `s` under an encoding: septets for GSM (0 when not GSM), UTF-16
// code units for UCS-2.
int units_of(char32_t cp, Encoding e) { return e == Encoding::gsm7 ? septets(cp) : (cp > 0xFFFF ? 2 : 1); }

// Fills segments of `per_segment` units with characters that may not be split.
int segments_for(std::string_view s, Encoding e, int total, int single, int per_segment) {
    if (total == 0) return 0;
    if (total <= single) return 1;
    int segments = 1, used = 0;
    for (std::size_t i = 0; i < s.size();) {
        const int u = units_of(next_code_point(s, i), e);
        if (used + u > per_segment) {
            ++segments;
            used = 0;
        }
        used += u;
    }
    return segments;
}

struct Replacement {
    char32_t from;
    std::string_view to;
};
// Closest GSM 03.38 equivalents of what French (and its typography) uses outside the alphabet.
// Sorted by code point (looked up by binary search; a static_assert keeps it sorted).
// Every accented Latin-1 letter GSM lacks is here, capitals and small alike.
constexpr std::array<Replacement, 58> kReplacements{{
    {U'\t', " "},     {U'`', "'"},      {U'\u00A0', " "}, {U'«', "\""},     {U'°', "o"},      {U'´', "'"},
    {U'»', "\""},     {U'À', "A"},      {U'Á', "A"},      {U'Â', "A"},      {U'Ã', "A"},      {U'È', "E"},
    {U'Ê', "E"},      {U'Ë', "E"},      {U'Ì', "I"},      {U'Í', "I"},      {U'Î', "I"},      {U'Ï', "I"},
    {U'Ò', "O"},      {U'Ó', "O"},      {U'Ô', "O"},      {U'Õ', "O"},      {U'Ù', "U"},      {U'Ú', "U"},
    {U'Û', "U"},      {U'Ý', "Y"},      {U'á', "a"},      {U'â', "a"},      {U'ã', "a"},      {U'ç', "c"},
    {U'ê', "e"},      {U'ë', "e"},      {U'í', "i"},      {U'î', "i"},      {U'ï', "i"},      {U'ó', "o"},
    {U'ô', "o"},      {U'õ', "o"},      {U'ú', "u"},      {U'û', "u"},      {U'ý', "y"},      {U'ÿ', "y"},
    {U'Œ', "OE"},     {U'œ', "oe"},     {U'Ÿ', "Y"},      {U'\u2009', " "}, {U'‐', "-"},      {U'–', "-"},
    {U'—', "-"},      {U'‘', "'"},      {U'’', "'"},      {U'‚', "'"},      {U'“', "\""},     {U'”', "\""},
    {U'„', "\""},     {U'•', "-"},      {U'…', "..."},    {U'\u202F', " "},
}};

constexpr bool sorted(const auto& table) {
    for (std::size_t i = 1; i < table.size(); ++i)
        if (!(table[i - 1].from < table[i].from)) return false;
    return true;
}
static_assert(sorted(kReplacements), "kReplacements must be sorted by code point");

}  // namespace

Cost cost(std::string_view utf8) {
    Cost c;
    bool gsm = true;
    int non_bmp = 0;  // code points that take a surrogate pair in UTF-16
    for (std::size_t i = 0; i < utf8.size();) {
        const unsigned char b = static_cast<unsigned char>(utf8[i]);
        char32_t cp;
        if (b < 0x80) {
            cp = b;
            ++i;
        } else {
            cp = next_code_point(utf8, i);
            non_bmp += cp > 0xFFFF;
        }
        ++c.characters;
        const int n = septets(cp);
        gsm = gsm && n > 0;
        c.units += n;
    }
    if (gsm) {
        c.encoding = Encoding::gsm7;
        c.segments = segments_for(utf8, Encoding::gsm7, c.units, 160, 153);
        return c;
    }
    c.encoding = Encoding::ucs2;
    c.units = c.characters + non_bmp;
    c.segments = segments_for(utf8, Encoding::ucs2, c.units, 70, 67);
    return c;
}

std::optional<std::string> to_gsm7(std::string_view utf8, std::string* missing) {
    std::string out;
    out.reserve(utf8.size());
    std::size_t run = 0;  // start of the run of GSM characters not yet copied
    for (std::size_t i = 0; i < utf8.size();) {
        const std::size_t start = i;
        const char32_t cp = next_code_point(utf8, i);
        if (septets(cp) > 0) continue;
        auto r = std::lower_bound(kReplacements.begin(), kReplacements.end(), cp,
                                  [](const Replacement& x, char32_t v) { return x.from < v; });
        if (r == kReplacements.end() || r->from != cp) {
            if (missing) *missing = std::string(utf8.substr(start, i - start));
            return std::nullopt;
        }
        out.append(utf8.substr(run, start - run));
        run = i;
        out += r->to;
    }
    out.append(utf8.substr(run));
    return out;
}

std::string nfc(std::string_view utf8) {
    // Below U+0300 every code point is its own normal form and none composes with another: only a
    // combining mark (U+0300 up) or a later script can change. In UTF-8 those start with a byte of
    // 0xCC or more, so ASCII and Latin-1 text (French, with its é and ç) go no further.
    if (std::none_of(utf8.begin(), utf8.end(), [](char c) { return static_cast<unsigned char>(c) >= 0xCC; }))
        return std::string(utf8);
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(utf8.data());
    if (u8_check(bytes, utf8.size()) != nullptr) return std::string(utf8);
    std::size_t length = 0;
    std::unique_ptr<std::uint8_t, decltype(&std::free)> normal(
        u8_normalize(UNINORM_NFC, bytes, utf8.size(), nullptr, &length),
        &std::free);
    if (!normal) return std::string(utf8);
    return std::string(reinterpret_cast<const char*>(normal.get()), length);
}

const char* to_string(Encoding e) { return e == Encoding::gsm7 ? "gsm7" : "ucs2"; }

}  // namespace crieur::sms
