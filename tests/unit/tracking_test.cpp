// E-mail tracking: tokens that cannot be forged or reused for another purpose or URL, and the HTML
// rewriting of links and the image.
#include <doctest/doctest.h>

#include "channels/email/smtp.hpp"
#include "channels/email/tracking.hpp"

using namespace crieur;

TEST_CASE("tracking tokens: bound to the secret, the message, the purpose and the link's URL") {
    const std::string secret = "k3y", id = "passport-2027/C-1042";
    const auto open = tracking::open_token(secret, id);
    CHECK(tracking::open_message_id(secret, open) == id);
    CHECK_FALSE(tracking::open_message_id("other", open));
    CHECK_FALSE(tracking::open_message_id(secret, open.substr(0, open.size() - 1) + (open.back() == '0' ? "1" : "0")));
    CHECK_FALSE(tracking::open_message_id("", open));
    const std::string url = "https://mairie.example.fr/rdv?x=1&y=2";
    const auto click = tracking::click_token(secret, id, url);
    CHECK(tracking::click_message_id(secret, click, url) == id);
    CHECK_FALSE(tracking::click_message_id(secret, click, "https://evil.example/"));
    CHECK_FALSE(tracking::click_message_id(secret, click, ""));
    // One purpose's token is not another's: open, click and unsubscribe.
    CHECK_FALSE(tracking::open_message_id(secret, click));
    CHECK_FALSE(tracking::open_message_id(secret, unsubscribe_token(secret, id)));
    CHECK_FALSE(unsubscribe_message_id(secret, open));
    // Another message's MAC on this id.
    const auto other = tracking::open_token(secret, "another");
    CHECK_FALSE(tracking::open_message_id(secret, open.substr(0, open.find('.')) + other.substr(other.find('.'))));
}

TEST_CASE("tracking HTML: http(s) links go through /t/c/, other links stay, the image goes before </body>") {
    const std::string secret = "k3y", id = "m-1", base = "https://crieur.example.fr/t";
    const std::string html =
        "<html><body><p><a href=\"https://mairie.example.fr/rdv?a=1&amp;b=2\">Rendez-vous</a> "
        "<a href=\"mailto:etat-civil@mairie.example.fr\">écrire</a> <a title=\"x\" href=\"http://x.example/\">x</a></p>"
        "<link href=\"https://cdn.example/style.css\"></body></html>";
    const std::string out = tracking::track_html(html, base, secret, id);
    const std::string first = base + "/c/" + tracking::click_token(secret, id, "https://mairie.example.fr/rdv?a=1&b=2") +
                              "?u=https%3A%2F%2Fmairie.example.fr%2Frdv%3Fa%3D1%26b%3D2";
    CHECK(out.find("<a href=\"" + first + "\">Rendez-vous</a>") != std::string::npos);
    CHECK(out.find("href=\"mailto:etat-civil@mairie.example.fr\"") != std::string::npos);
    CHECK(out.find(base + "/c/" + tracking::click_token(secret, id, "http://x.example/")) != std::string::npos);
    CHECK(out.find("<link href=\"https://cdn.example/style.css\">") != std::string::npos);  // not an <a>
    const auto image = out.find("<img src=\"" + base + "/o/" + tracking::open_token(secret, id) + "\"");
    CHECK(image != std::string::npos);
    CHECK(image < out.find("</body>"));
    CHECK(tracking::track_html("<p>no body tag</p>", base, secret, id).ends_with("border:0\">"));
}
