#include <doctest/doctest.h>

#include <algorithm>

#include <filesystem>
#include <fstream>

#include "daemon/render/template_store.hpp"

using namespace crieur;
using namespace crieur::render;
namespace fs = std::filesystem;

namespace {

const std::string kShipped = CRIEUR_SOURCE_DIR "/templates";

// A template folder written by the test, removed afterwards.
struct Fixture {
    fs::path dir = fs::temp_directory_path() / ("crieur-templates-" + std::to_string(::getpid()) + "-" +
                                                 std::to_string(reinterpret_cast<std::uintptr_t>(this)));
    Fixture() {
        fs::remove_all(dir);
        write("notice/manifest.toml",
              "description = \"a notice\"\ncategory = \"information\"\ndefault_locale = \"fr\"\n"
              "locales = [\"fr\"]\nchannels = [\"sms\", \"email\"]\n\n[variables]\n"
              "name = { type = \"string\", example = \"Martin\" }\n"
              "count = { type = \"number\", example = 3 }\n\n[sms]\nmax_segments = 1\n");
        write("notice/fr/sms.mustache", "Bonjour {{name}}, {{count}} nouvelles.\n");
        write("notice/fr/email.subject.mustache", "Pour {{name}}\n");
        write("notice/fr/email.mustache", "Bonjour **{{name}}**, vous avez {{count}} nouvelles.\n");
    }
    ~Fixture() { fs::remove_all(dir); }
    void write(const std::string& rel, const std::string& text) {
        fs::create_directories((dir / rel).parent_path());
        std::ofstream(dir / rel) << text;
    }
    std::vector<std::string> problems() { return TemplateStore::load(dir.string()).problems; }
    std::shared_ptr<const TemplateStore> store() {
        auto r = TemplateStore::load(dir.string());
        for (auto& p : r.problems) MESSAGE(p);
        REQUIRE(r.store);
        return r.store;
    }
};

bool has(const std::vector<std::string>& problems, const std::string& needle) {
    for (auto& p : problems)
        if (p.find(needle) != std::string::npos) return true;
    return false;
}

rapidjson::Document json(const std::string& text) {
    rapidjson::Document d;
    d.Parse(text.c_str());
    return d;
}

}  // namespace

TEST_CASE("every shipped template renders in every declared channel and locale with its example values") {
    auto loaded = TemplateStore::load(kShipped);
    for (auto& p : loaded.problems) MESSAGE(p);
    REQUIRE(loaded.store);
    const auto& store = *loaded.store;
    CHECK(store.names().size() >= 9);
    int rendered = 0;
    for (auto& name : store.names()) {
        auto* m = store.manifest(name);
        auto data = json(store.example_data(name));
        for (auto& locale : m->locales)
            for (auto& channel : m->channels) {
                CAPTURE(name);
                CAPTURE(locale);
                CAPTURE(channel);
                auto r = store.render(name, channel, locale, data);
                REQUIRE(std::holds_alternative<Rendered>(r));
                auto& out = std::get<Rendered>(r);
                CHECK(out.locale == locale);
                CHECK_FALSE(out.text.empty());
                CHECK(out.text.find("{{") == std::string::npos);
                if (channel == "email") CHECK(out.html.find("<html lang=\"" + locale + "\">") != std::string::npos);
                if (channel == "sms") CHECK(out.sms->segments <= m->sms_max_segments);
                ++rendered;
            }
    }
    CHECK(rendered >= 60);
}

TEST_CASE("a syntax error is reported with its file, line and column") {
    Fixture f;
    f.write("notice/fr/sms.mustache", "Bonjour {{name}},\n{{#count}}{{count}} nouvelles{{/cuont}}\n");
    auto p = f.problems();
    CHECK(has(p, "notice/fr/sms.mustache:2:30: closing tag 'cuont' does not match the open section 'count'"));
}

TEST_CASE("a variable used but not declared, or declared and never used, is reported") {
    Fixture f;
    f.write("notice/fr/sms.mustache", "Bonjour {{nom}}, {{count}} nouvelles.\n");
    f.write("notice/fr/email.mustache", "Bonjour, vous avez {{count}} nouvelles.\n");
    f.write("notice/fr/email.subject.mustache", "Des nouvelles\n");
    auto p = f.problems();
    CHECK(has(p, "notice/fr/sms.mustache:1:9: variable 'nom' is used but not declared in manifest.toml"));
    CHECK(has(p, "notice/manifest.toml:8: variables.name: declared but never used"));
}

TEST_CASE("a channel file missing for a declared locale is reported") {
    Fixture f;
    fs::remove(f.dir / "notice/fr/email.subject.mustache");
    CHECK(has(f.problems(), "notice/fr/email.subject.mustache: missing: the manifest lists locale 'fr' and channel 'email'"));
}

TEST_CASE("an SMS over max_segments with the example values is reported") {
    Fixture f;
    f.write("notice/fr/sms.mustache", "Bonjour {{name}}, {{count}} nouvelles. " + std::string(150, 'x') + "\n");
    CHECK(has(f.problems(), "notice/fr/sms.mustache: with the example values the SMS takes 2 segments (gsm7, 179 characters), more than sms.max_segments = 1"));
}

TEST_CASE("unknown manifest keys and stray files are reported with where they are") {
    Fixture f;
    f.write("notice/manifest.toml",
            "description = \"a notice\"\ncategroy = \"information\"\ndefault_locale = \"fr\"\n"
            "locales = [\"fr\"]\nchannels = [\"sms\", \"email\"]\n\n[variables]\n"
            "name = { type = \"string\", example = \"Martin\" }\ncount = { type = \"number\", example = 3 }\n");
    CHECK(has(f.problems(), "notice/manifest.toml:2: categroy: unknown key"));
}

TEST_CASE("a stray file beside the channel files is reported") {
    Fixture f;
    f.write("notice/fr/sms.mustach", "typo\n");
    CHECK(has(f.problems(), "notice/fr/sms.mustach: not a file of the manifest's channels"));
}

TEST_CASE("locales fall back from fr-FR to fr, and to the template's default") {
    auto store = TemplateStore::load(kShipped).store;
    REQUIRE(store);
    CHECK(store->resolve_locale("passport_expiry", "fr-FR") == "fr");
    CHECK(store->resolve_locale("passport_expiry", "en_GB") == "en");
    CHECK(store->resolve_locale("passport_expiry", "de") == "fr");
    CHECK(store->resolve_locale("passport_expiry", "") == "fr");
}

TEST_CASE("missing and wrongly typed variables are named, and nothing is rendered") {
    Fixture f;
    auto store = f.store();
    auto r = store->render("notice", "sms", "fr", json(R"({"count":"trois"})"));
    REQUIRE(std::holds_alternative<RenderError>(r));
    auto& e = std::get<RenderError>(r);
    CHECK(e.reason == "missing data for template 'notice': name; wrong type in data for template 'notice': count (expected a number)");
    CHECK(e.variables == std::vector<std::string>{"name", "count"});
}

TEST_CASE("HTML escaping applies to the e-mail's HTML only") {
    Fixture f;
    auto store = f.store();
    auto r = store->render("notice", "email", "fr", json(R"({"name":"<b>Tom & Jerry</b> *star*","count":2})"));
    REQUIRE(std::holds_alternative<Rendered>(r));
    auto& out = std::get<Rendered>(r);
    CHECK(out.text.find("<b>Tom & Jerry</b> *star*") != std::string::npos);
    CHECK(out.html.find("&lt;b&gt;Tom &amp; Jerry&lt;/b&gt; *star*") != std::string::npos);
    CHECK(out.html.find("<b>") == std::string::npos);
    CHECK(out.html.find("<em>") == std::string::npos);  // a value cannot add Markdown either
    CHECK(out.html.find("<strong>") != std::string::npos);  // the template's own Markdown does
    auto sms = store->render("notice", "sms", "fr", json(R"({"name":"<b>Tom & Jerry</b>\u0007","count":2})"));
    CHECK(std::get<Rendered>(sms).text == "Bonjour <b>Tom & Jerry</b>, 2 nouvelles.");  // control character dropped
}

TEST_CASE("WhatsApp renders the approved template's name, language and ordered parameters") {
    auto store = TemplateStore::load(kShipped).store;
    REQUIRE(store);
    auto r = store->render("appointment_recap", "whatsapp", "en-GB",
                           json(R"({"name":"Mr Bernard","service_name":"registry","date":"12 January","time":"9:30",
                                    "address":"1 Town Square","documents":[]})"));
    REQUIRE(std::holds_alternative<Rendered>(r));
    auto& out = std::get<Rendered>(r);
    CHECK(out.whatsapp_name == "appointment_recap_v1");
    CHECK(out.whatsapp_language == "en_GB");
    CHECK(out.whatsapp_parameters == std::vector<std::string>{"Mr Bernard", "registry", "12 January", "9:30", "1 Town Square"});
}

TEST_CASE("a push payload over the Web Push limit is refused at render") {
    auto store = TemplateStore::load(kShipped).store;
    REQUIRE(store);
    auto data = json(store->example_data("welcome_resident"));
    auto ok = store->render("welcome_resident", "push", "fr", data);
    REQUIRE(std::holds_alternative<Rendered>(ok));
    CHECK(std::get<Rendered>(ok).push_payload_bytes < kPushPayloadLimit);
    data["district"].SetString(std::string(5000, 'x').c_str(), data.GetAllocator());
    auto big = store->render("welcome_resident", "push", "fr", data);
    REQUIRE(std::holds_alternative<RenderError>(big));
    CHECK(std::get<RenderError>(big).reason.find("over the 3993-byte limit") != std::string::npos);
}

TEST_CASE("the economy policy sends GSM 7-bit and keeps the cost as written for the preview") {
    auto store = TemplateStore::load(kShipped).store;
    REQUIRE(store);
    auto r = store->render("passport_expiry", "sms", "fr", json(store->example_data("passport_expiry")));
    auto& out = std::get<Rendered>(r);
    CHECK(out.sms->encoding == sms::Encoding::gsm7);
    REQUIRE(out.sms_as_written);
    CHECK(out.sms_as_written->encoding == sms::Encoding::ucs2);
    CHECK(out.sms_as_written->segments > out.sms->segments);
}

TEST_CASE("the economy policy never garbles a name: it keeps UCS-2, and the preview says why") {
    auto store = TemplateStore::load(kShipped).store;
    REQUIRE(store);
    for (const char* name : {"Madame Łucja Wójcik", "Monsieur Nguyễn Văn", "Иван Петров"}) {
        CAPTURE(name);
        auto data = json(store->example_data("passport_expiry"));
        data["name"].SetString(name, data.GetAllocator());
        auto out = std::get<Rendered>(store->render("passport_expiry", "sms", "fr", data));
        CHECK(out.text.find(name) != std::string::npos);
        CHECK(out.text.find('?') == std::string::npos);
        CHECK(out.sms->encoding == sms::Encoding::ucs2);
        CHECK(out.sms_policy.starts_with("economy: kept in UCS-2, '"));
    }
    // A decomposed accent is composed, and goes as GSM-7.
    auto data = json(store->example_data("passport_expiry"));
    data["name"].SetString("Madame Lefe\xCC\x80vre", data.GetAllocator());  // e + U+0300
    auto out = std::get<Rendered>(store->render("passport_expiry", "sms", "fr", data));
    CHECK(out.text.find("Lefèvre") != std::string::npos);
    CHECK(out.sms->encoding == sms::Encoding::gsm7);
    CHECK(out.sms_policy == "economy: accents replaced, sent in GSM-7");
}

TEST_CASE("the e-mail's plain-text part is the Markdown rendered as text, links written out") {
    CHECK(markdown_text("**Coupure d'électricité** rue *Garibaldi*.\n\n[Suivre l'évolution](https://mairie.example.fr/travaux)\n") ==
          "Coupure d'électricité rue Garibaldi.\n\nSuivre l'évolution (https://mairie.example.fr/travaux)\n");
    CHECK(markdown_text("<https://mairie.example.fr>") == "https://mairie.example.fr\n");  // the URL once
    CHECK(markdown_text("À apporter :\n\n- une photo\n- l'ancien passeport\n\n1. réserver\n2. venir\n") ==
          "À apporter :\n\n- une photo\n- l'ancien passeport\n\n1. réserver\n2. venir\n");
    auto store = TemplateStore::load(kShipped).store;
    REQUIRE(store);
    for (const auto& name : store->names()) {
        const auto channels = store->channels(name);
        if (std::find(channels.begin(), channels.end(), "email") == channels.end()) continue;
        CAPTURE(name);
        auto r = store->render(name, "email", "fr", json(store->example_data(name)));
        REQUIRE(std::holds_alternative<Rendered>(r));
        const auto& text = std::get<Rendered>(r).text;
        CHECK(text.find("**") == std::string::npos);
        CHECK(text.find("](") == std::string::npos);
    }
}
