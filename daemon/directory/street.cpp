#include "daemon/directory/street.hpp"

#include <unicase.h>
#include <uninorm.h>
#include <unistr.h>

#include <cstdlib>
#include <memory>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace crieur::directory {

namespace {
// The abbreviations found in French addresses (La Poste's and the Base Adresse Nationale's usual
// forms), spelt out so that either way of writing gives the same key.
const std::unordered_map<std::string_view, std::string_view> kAbbreviations{
    {"av", "avenue"},      {"ave", "avenue"},      {"bd", "boulevard"},   {"bld", "boulevard"},
    {"blvd", "boulevard"}, {"boul", "boulevard"},  {"r", "rue"},          {"st", "saint"},
    {"ste", "sainte"},     {"pl", "place"},        {"che", "chemin"},     {"chem", "chemin"},
    {"imp", "impasse"},    {"all", "allee"},       {"rte", "route"},      {"fg", "faubourg"},
    {"fbg", "faubourg"},   {"sq", "square"},       {"pass", "passage"},   {"qu", "quai"},
    {"qua", "quai"},       {"crs", "cours"},       {"res", "residence"},  {"lot", "lotissement"},
    {"sen", "sente"},      {"vla", "villa"},       {"hame", "hameau"},    {"ham", "hameau"},
    {"gal", "general"},    {"gen", "general"},     {"mal", "marechal"},   {"pdt", "president"},
    {"pres", "president"}, {"dr", "docteur"},      {"doct", "docteur"},   {"prof", "professeur"},
    {"cdt", "commandant"}, {"cne", "capitaine"},   {"lt", "lieutenant"},  {"mgr", "monseigneur"},
    {"n", "notre"},        {"nd", "notre dame"},   {"zi", "zone industrielle"}, {"za", "zone artisanale"}};
const std::unordered_set<std::string_view> kSmallWords{"de", "du", "des", "la", "le", "les", "l", "d", "et", "a", "au", "aux", "en"};

// Lower-case, without accents: NFD, combining marks (U+0300–U+036F) dropped, then lower case.
std::string folded(std::string_view text) {
    std::size_t nfd_len = 0;
    std::unique_ptr<uint8_t, decltype(&std::free)> nfd(
        u8_normalize(UNINORM_NFD, reinterpret_cast<const uint8_t*>(text.data()), text.size(), nullptr, &nfd_len), &std::free);
    if (!nfd) return std::string(text);
    std::string bare;
    bare.reserve(nfd_len);
    for (const uint8_t* p = nfd.get(); p < nfd.get() + nfd_len;) {
        ucs4_t c = 0;
        const int n = u8_mbtouc(&c, p, nfd.get() + nfd_len - p);
        if (!(c >= 0x300 && c <= 0x36F)) bare.append(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
        p += n;
    }
    std::size_t lower_len = 0;
    std::unique_ptr<uint8_t, decltype(&std::free)> lower(
        u8_tolower(reinterpret_cast<const uint8_t*>(bare.data()), bare.size(), nullptr, nullptr, nullptr, &lower_len), &std::free);
    if (!lower) return bare;
    std::string out(reinterpret_cast<const char*>(lower.get()), lower_len);
    // Ligatures a register may hold (œ, æ), and the typographic apostrophes, spaces and dashes a
    // word processor puts in ("d’Alsace", a no-break space): separators like their ASCII forms.
    for (auto [from, to] : {std::pair<std::string_view, std::string_view>{"\xC5\x93", "oe"}, {"\xC3\xA6", "ae"},
                            {"\xE2\x80\x99", " "}, {"\xE2\x80\x98", " "}, {"\xC2\xA0", " "}, {"\xE2\x80\xAF", " "},
                            {"\xE2\x80\x93", " "}, {"\xE2\x80\x94", " "}})
        for (auto at = out.find(from); at != std::string::npos; at = out.find(from, at + to.size())) out.replace(at, from.size(), to);
    return out;
}
}  // namespace

std::string street_key(std::string_view street) {
    const std::string text = folded(street);
    std::string key, word;
    auto flush = [&] {
        if (word.empty()) return;
        std::string_view w = word;
        if (auto it = kAbbreviations.find(w); it != kAbbreviations.end()) w = it->second;
        if (!kSmallWords.count(w)) key.append(key.empty() ? "" : " ").append(w);
        word.clear();
    };
    for (unsigned char c : text) {
        // ASCII letters and digits make words; anything else (space, hyphen, apostrophe, period,
        // comma, and the rare letter left outside ASCII) ends one, except non-ASCII bytes which
        // are kept as they are (a name in another script still gives a key).
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c >= 0x80) word += static_cast<char>(c);
        else flush();
    }
    flush();
    return key;
}

}  // namespace crieur::directory
