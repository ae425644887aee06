#include <doctest/doctest.h>

#include "channels/sms/gsm7.hpp"

using namespace crieur::sms;

namespace {
std::string repeat(std::string_view s, int n) {
    std::string out;
    for (int i = 0; i < n; ++i) out += s;
    return out;
}
}  // namespace

TEST_CASE("plain French without cedilla or circumflex fits GSM 7-bit") {
    auto c = cost("Votre passeport expire le 14 mars. Prenez rendez-vous à la mairie, réponse sous 8 jours.");
    CHECK(c.encoding == Encoding::gsm7);
    CHECK(c.segments == 1);
}

TEST_CASE("ç, â ê î ô û, œ and the typographic apostrophe force UCS-2") {
    for (const char* s : {"Reçu", "âge", "fenêtre", "île", "hôtel", "sûr", "cœur", "l’état", "« oui »"}) {
        CAPTURE(s);
        CHECK(cost(s).encoding == Encoding::ucs2);
    }
    CHECK(cost("Ça va ? L'été à Noël").encoding == Encoding::ucs2);  // ë is not in GSM either
    CHECK(cost("Ça va ? L'été à Nîmes").encoding == Encoding::ucs2);
    CHECK(cost("Ça va ? L'été à Paris, où ça ?").encoding == Encoding::ucs2);  // the lower-case ç
    CHECK(cost("Ça va ? L'été à Paris, où è ù ì ò ?").encoding == Encoding::gsm7);
}

TEST_CASE("GSM boundaries: 160 septets in one segment, 161 in two, 153 per segment after") {
    CHECK(cost(repeat("a", 160)).segments == 1);
    CHECK(cost(repeat("a", 161)).segments == 2);
    CHECK(cost(repeat("a", 306)).segments == 2);
    CHECK(cost(repeat("a", 307)).segments == 3);
    CHECK(cost(repeat("a", 153 * 4)).segments == 4);
    CHECK(cost(repeat("a", 153 * 4 + 1)).segments == 5);
    CHECK(cost("").segments == 0);
}

TEST_CASE("extension characters count two septets and are never split across segments") {
    auto c = cost(repeat("€", 80));
    CHECK(c.encoding == Encoding::gsm7);
    CHECK(c.characters == 80);
    CHECK(c.units == 160);
    CHECK(c.segments == 1);
    CHECK(cost(repeat("a", 159) + "€").segments == 2);
    // 152 septets then a two-septet character: it goes whole to the second segment.
    auto split = cost(repeat("a", 152) + "€" + repeat("a", 152) + "a");
    CHECK(split.units == 307);
    CHECK(split.segments == 3);
}

TEST_CASE("UCS-2 boundaries: 70 units in one segment, 71 in two, 67 per segment after") {
    CHECK(cost(repeat("ç", 70)).segments == 1);
    CHECK(cost(repeat("ç", 71)).segments == 2);
    CHECK(cost(repeat("ç", 134)).segments == 2);
    CHECK(cost(repeat("ç", 135)).segments == 3);
    auto emoji = cost("Bonne année 🎉");
    CHECK(emoji.encoding == Encoding::ucs2);
    CHECK(emoji.characters == 13);
    CHECK(emoji.units == 14);  // the emoji is a surrogate pair
}

TEST_CASE("economy replaces what forces UCS-2 and keeps what GSM has") {
    CHECK(to_gsm7("Reçu à l’hôtel de ville, cœur « fenêtre » — sûr…") ==
          "Recu à l'hotel de ville, coeur \" fenetre \" - sur...");
    const std::string french = "Votre carte d’identité est prête : retirez-la à l’accueil.";
    CHECK(cost(french).encoding == Encoding::ucs2);
    CHECK(cost(*to_gsm7(french)).encoding == Encoding::gsm7);
    CHECK_FALSE(to_gsm7("日本"));
}

TEST_CASE("economy never loses a letter: a character with no GSM-7 equivalent keeps the text as written") {
    std::string missing;
    CHECK_FALSE(to_gsm7("Madame Łucja Wójcik", &missing));
    CHECK(missing == "Ł");
    CHECK_FALSE(to_gsm7("Monsieur Nguyễn", &missing));
    CHECK(missing == "ễ");
    CHECK_FALSE(to_gsm7("Иван"));
    // The Latin-1 capitals are as even as the small letters.
    CHECK(to_gsm7("ÌÒÝÃÕ ìòýãõ") == "IOYAO ìòyao");  // ì and ò are GSM-7
    CHECK(to_gsm7("Wójcik") == "Wojcik");
}

TEST_CASE("decomposed text is composed first: e and a combining acute are the é of GSM-7") {
    const std::string decomposed = "Cafe\xCC\x81";  // "Cafe" + U+0301
    CHECK(cost(decomposed).encoding == Encoding::ucs2);
    CHECK(nfc(decomposed) == "Café");
    CHECK(cost(nfc(decomposed)).encoding == Encoding::gsm7);
    CHECK(nfc("plain ascii") == "plain ascii");
    CHECK(nfc("\xFF broken") == "\xFF broken");  // invalid UTF-8 comes back as it was
    // Latin text is already composed (the quick path); what lies above U+0300 is still normalised.
    CHECK(nfc("Élodie Ça ñ ß Ł ő") == "Élodie Ça ñ ß Ł ő");
    CHECK(nfc("Nguye\xCC\x82\xCC\x83n") == "Nguyễn");      // two combining marks
    CHECK(nfc("\xE2\x84\xAB") == "\xC3\x85");              // ANGSTROM SIGN → Å, a singleton
    CHECK(nfc("\xE1\x84\x80\xE1\x85\xA1") == "\xEA\xB0\x80");  // Hangul jamo ᄀ + ᅡ → 가
}
