// bench-render: how fast a compiled template renders. A typical SMS and a typical e-mail with 6
// variables, through the bare engine (compiled template + parsed data → text) and through the
// template store (the data checked against the manifest, SMS cost and economy policy, e-mail
// HTML from Markdown by cmark). Prints ns per render, renders/s, and the ratio to the 1 µs budget.
//   bench-render [--seconds S]
#include <rapidjson/document.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "daemon/render/template_store.hpp"

using namespace crieur;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_per_case = 1.0;

// Runs `f` for about seconds_per_case; returns ns per call.
double measure(const std::function<std::size_t()>& f) {
    std::size_t sink = 0, n = 0;
    for (int i = 0; i < 1000; ++i) sink += f();  // warm up
    const auto start = Clock::now();
    const auto until = start + std::chrono::duration<double>(seconds_per_case);
    auto now = start;
    while (now < until) {
        for (int i = 0; i < 1000; ++i) sink += f();
        n += 1000;
        now = Clock::now();
    }
    if (sink == 42) std::puts("");  // keep the work observable
    return std::chrono::duration<double, std::nano>(now - start).count() / static_cast<double>(n);
}

void report(const char* what, double ns) {
    std::printf("  %-52s %9.0f ns  %10.0f /s  %6.2fx the 1 µs budget\n", what, ns, 1e9 / ns, ns / 1000.0);
}

const char* kSms = "{{name}}, votre {{document}} expire le {{expires_on}}. Rendez-vous {{office}}, "
                   "{{hours}} : {{booking_url}}";
const char* kEmail = "Bonjour {{name}},\n\nVotre **{{document}}** expire le **{{expires_on}}**.\n\n"
                     "Les délais pour obtenir un rendez-vous peuvent atteindre plusieurs semaines. Nous vous "
                     "conseillons de réserver dès maintenant à la {{office}}, {{hours}} :\n\n"
                     "[Prendre rendez-vous]({{booking_url}})\n\nPensez à apporter une photo d'identité récente "
                     "et un justificatif de domicile.\n\n--\nVotre mairie\n";
const char* kData = R"({"name":"Madame Martin","document":"passeport","expires_on":"14 mars 2027",)"
                    R"("office":"mairie du 3e","hours":"du lundi au vendredi, 8 h 30 - 16 h 45",)"
                    R"("booking_url":"https://mairie.example.fr/rdv"})";

void write(const std::filesystem::path& p, const std::string& text) {
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p) << text;
}

}  // namespace

int main(int argc, char** argv) {
    for (int i = 1; i + 1 < argc; i += 2)
        if (!std::strcmp(argv[i], "--seconds")) seconds_per_case = std::atof(argv[i + 1]);

    rapidjson::Document data;
    data.Parse(kData);
    auto sms = std::get<render::Template>(render::compile(kSms));
    auto email = std::get<render::Template>(render::compile(kEmail));

    // The same two as a template set, for the store's full path.
    const auto dir = std::filesystem::temp_directory_path() / ("crieur-bench-render-" + std::to_string(::getpid()));
    write(dir / "notice/manifest.toml",
          "description = \"bench\"\ndefault_locale = \"fr\"\nlocales = [\"fr\"]\nchannels = [\"sms\", \"email\"]\n"
          "[variables]\nname = { type = \"string\", example = \"Madame Martin\" }\n"
          "document = { type = \"string\", example = \"passeport\" }\n"
          "expires_on = { type = \"string\", example = \"14 mars 2027\" }\n"
          "office = { type = \"string\", example = \"mairie du 3e\" }\n"
          "hours = { type = \"string\", example = \"8 h 30 - 16 h 45\" }\n"
          "booking_url = { type = \"string\", example = \"https://mairie.example.fr/rdv\" }\n"
          "[sms]\nmax_segments = 3\npolicy = \"economy\"\n");
    write(dir / "notice/fr/sms.mustache", kSms);
    write(dir / "notice/fr/email.subject.mustache", "Votre {{document}} expire le {{expires_on}}");
    write(dir / "notice/fr/email.mustache", kEmail);
    auto loaded = render::TemplateStore::load(dir.string());
    std::filesystem::remove_all(dir);
    if (!loaded.store) {
        for (auto& p : loaded.problems) std::fprintf(stderr, "%s\n", p.c_str());
        return 1;
    }
    const auto& store = *loaded.store;

    std::string out;
    std::printf("bench-render: 6 variables; one thread; %.1f s per case\n", seconds_per_case);
    std::printf("  SMS renders to %zu bytes, the e-mail text to %zu bytes\n",
                render::render(sms, data, render::Escape::none).size(),
                render::render(email, data, render::Escape::none).size());
    report("engine: SMS (compiled template → text)", measure([&] {
               out.clear();
               render::render(sms, data, render::Escape::none, nullptr, out);
               return out.size();
           }));
    report("engine: e-mail text body", measure([&] {
               out.clear();
               render::render(email, data, render::Escape::none, nullptr, out);
               return out.size();
           }));
    report("engine: e-mail body as HTML-escaped", measure([&] {
               out.clear();
               render::render(email, data, render::Escape::html, nullptr, out);
               return out.size();
           }));
    report("store: SMS (data checked, GSM cost, economy policy)", measure([&] {
               auto r = store.render("notice", "sms", "fr", data);
               return std::get<render::Rendered>(r).text.size();
           }));
    report("store: e-mail (subject, text, HTML through cmark)", measure([&] {
               auto r = store.render("notice", "email", "fr", data);
               return std::get<render::Rendered>(r).html.size();
           }));
    report("job data: JSON parse (what the daemon does per job)", measure([&] {
               rapidjson::Document d;
               d.Parse(kData);
               return static_cast<std::size_t>(d.MemberCount());
           }));
    return 0;
}
