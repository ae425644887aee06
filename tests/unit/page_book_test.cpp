#include <doctest/doctest.h>

#include "daemon/ui/page_book.hpp"
#include "daemon/ui/resources.hpp"

using namespace crieur::ui;

TEST_CASE("every dashboard page compiles and renders in both languages, with a strict CSP and no inline script") {
    PageBook book("Europe/Paris", "");
    int pages = 0;
    for (auto& [name, content] : resources()) {
        if (!name.starts_with("pages/") || name.starts_with("pages/_")) continue;
        const std::string page(name.substr(6, name.size() - 6 - 9));
        for (Lang lang : {Lang::fr, Lang::en}) {
            rapidjson::Document d(rapidjson::kObjectType);
            auto r = book.page(200, page, d, lang);
            CHECK(r.content_type == "text/html; charset=utf-8");
            // No script but from a file: a <script> tag always has a src.
            for (auto at = r.body.find("<script"); at != std::string::npos; at = r.body.find("<script", at + 1))
                CHECK(r.body.substr(at, r.body.find('>', at) - at).find(" src=") != std::string::npos);
            CHECK(r.body.find(" style=") == std::string::npos);
            CHECK(r.body.find(" onclick=") == std::string::npos);
            if (!page.ends_with("_live")) CHECK(r.body.find("<html lang=\"" + std::string(to_string(lang)) + "\">") != std::string::npos);
        }
        ++pages;
    }
    CHECK(pages >= 8);
    rapidjson::Document d(rapidjson::kObjectType);
    auto r = book.page(200, "login", d, Lang::en);
    std::string csp;
    for (auto& [k, v] : r.headers)
        if (k == "Content-Security-Policy") csp = v;
    CHECK(csp.find("script-src 'self'") != std::string::npos);
    CHECK(csp.find("unsafe-inline") == std::string::npos);
    CHECK(csp.find("frame-ancestors 'none'") != std::string::npos);
    CHECK(r.body.find("Sign in") != std::string::npos);
    CHECK(book.text(Lang::fr, "login_submit") == "Se connecter");
    PageBook with_tiles("Europe/Paris", "https://tiles.example.org");
    rapidjson::Document e(rapidjson::kObjectType);
    for (auto& [k, v] : with_tiles.page(200, "login", e, Lang::fr).headers)
        if (k == "Content-Security-Policy") CHECK(v.find("img-src 'self' data: https://tiles.example.org;") != std::string::npos);
}

TEST_CASE("the dashboard shows times in the town's zone and reads a form's local time back to UTC") {
    PageBook book("Europe/Paris", "");
    CHECK(book.show_time("2026-12-04T21:15:03.120Z", Lang::fr) == "04/12/2026 22:15:03");
    CHECK(book.show_time("2026-07-04T21:15:03.120Z", Lang::en) == "2026-07-04 23:15:03");  // summer time
    CHECK(book.show_time("not a time", Lang::fr) == "not a time");
    CHECK(book.local_to_rfc3339("2026-12-04T22:15") == "2026-12-04T21:15:00.000Z");
    CHECK(book.local_to_rfc3339("2026-07-04T23:15:03") == "2026-07-04T21:15:03.000Z");
    CHECK(book.local_to_rfc3339("2026-12-04 22:15").empty());
    CHECK(book.local_to_rfc3339("yesterday").empty());
    CHECK(book.local_to_rfc3339("2026-12-04T22:15junk").empty());

    rapidjson::Document d;
    d.Parse(R"({"created_at":"2026-12-04T21:15:03.120Z","attempts":[{"at":"2026-12-04T21:16:00.000Z","n":1}]})");
    book.add_time_texts(d, d.GetAllocator(), Lang::fr);
    CHECK(std::string(d["created_at_text"].GetString()) == "04/12/2026 22:15:03");
    CHECK(std::string(d["attempts"][0]["at_text"].GetString()) == "04/12/2026 22:16:00");
}
