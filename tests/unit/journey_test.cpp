// Journey definitions: the shipped ones load against the shipped templates, and each kind of
// mistake in a file is named with its line and key.
#include <date/tz.h>
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "daemon/journeys/anchor.hpp"
#include "daemon/journeys/journey.hpp"
#include "daemon/render/template_store.hpp"

using namespace crieur;
using namespace crieur::journeys;

namespace {
const render::TemplateStore& templates() {
    static const auto store = render::TemplateStore::load(CRIEUR_SOURCE_DIR "/templates").store;
    return *store;
}

// Loads one journey written in a temporary file named `name`.toml; the problems, or none.
std::vector<std::string> problems_of(const std::string& text, const std::string& name = "j") {
    namespace fs = std::filesystem;
    const fs::path dir = fs::temp_directory_path() / ("crieur-journey-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    const std::string file = (dir / (name + ".toml")).string();
    std::ofstream(file) << text;
    auto problems = JourneyLibrary::load_file(file, &templates()).problems;
    fs::remove_all(dir);
    // Named as the journey's author sees it.
    for (auto& p : problems)
        if (p.rfind(file, 0) == 0) p = name + ".toml" + p.substr(file.size());
    return problems;
}

bool any_has(const std::vector<std::string>& problems, const std::string& part) {
    for (auto& p : problems)
        if (p.find(part) != std::string::npos) return true;
    return false;
}

std::string joined(const std::vector<std::string>& v) {
    std::string out;
    for (auto& s : v) out += s + "\n";
    return out;
}

const char* kGood = R"(description = "ok"
[[step]]
id = "hello"
send = "welcome_resident"
[[step]]
id = "later"
wait = "7d"
)";
}  // namespace

TEST_CASE("durations and anchors are read as written, and refused with a reason") {
    CHECK(parse_duration("21d") == std::chrono::hours(21 * 24));
    CHECK(parse_duration("1d12h") == std::chrono::hours(36));
    CHECK(parse_duration("2w") == std::chrono::hours(14 * 24));
    CHECK(parse_duration("90m") == std::chrono::minutes(90));
    CHECK_FALSE(parse_duration("12h1d"));  // units in order, each once
    CHECK_FALSE(parse_duration("3 days"));
    CHECK_FALSE(parse_duration(""));
    CHECK(format_duration(std::chrono::hours(36)) == "1d12h");

    auto a = parse_anchor_time("appointment_at - 1d at 18:00");
    REQUIRE(std::holds_alternative<AnchorTime>(a));
    CHECK(std::get<AnchorTime>(a).anchor == "appointment_at");
    CHECK(std::get<AnchorTime>(a).days == -1);
    CHECK(std::get<AnchorTime>(a).at_minute == 18 * 60);
    CHECK(std::holds_alternative<std::string>(parse_anchor_time("- 1d")));
    CHECK(std::holds_alternative<std::string>(parse_anchor_time("expiry_date - 120x")));
    CHECK(std::holds_alternative<std::string>(parse_anchor_time("expiry_date at 25:00")));
    CHECK(std::holds_alternative<std::string>(parse_anchor_time("expiry_date tomorrow")));
}

TEST_CASE("an anchor moves by calendar days in the citizen's zone and lands on the local hour") {
    const auto* paris = date::locate_zone("Europe/Paris");
    // 2027-03-28 is the night the clocks go forward in Paris: the day before a 10:30 appointment
    // on the 29th at 18:00 is 16:00 UTC on the 28th (UTC+2), the 27th at 18:00 is 17:00 UTC.
    auto before = std::get<AnchorTime>(parse_anchor_time("appointment_at - 1d at 18:00"));
    CHECK(format_rfc3339(*resolve(before, "2027-03-29T10:30:00+02:00", paris)) == "2027-03-28T16:00:00.000Z");
    CHECK(format_rfc3339(*resolve(before, "2027-03-28T10:30:00+02:00", paris)) == "2027-03-27T17:00:00.000Z");
    // A date is the local day: 120 days before 14 March 2027 at 09:00 in Paris (winter, UTC+1).
    auto ahead = std::get<AnchorTime>(parse_anchor_time("expiry_date - 120d at 09:00"));
    CHECK(format_rfc3339(*resolve(ahead, "2027-03-14", paris)) == "2026-11-14T08:00:00.000Z");
    CHECK(format_rfc3339(*resolve(ahead, "2027-03-14", nullptr)) == "2026-11-14T09:00:00.000Z");
    // Hours are elapsed time.
    auto plus = std::get<AnchorTime>(parse_anchor_time("appointment_at + 2h"));
    CHECK(format_rfc3339(*resolve(plus, "2027-03-28T01:30:00+01:00", paris)) == "2027-03-28T02:30:00.000Z");
    CHECK_FALSE(resolve(ahead, "14/03/2027", paris));
    CHECK_FALSE(resolve(ahead, "2027-02-30", paris));
}

TEST_CASE("the shipped journeys load against the shipped templates") {
    auto loaded = JourneyLibrary::load(CRIEUR_SOURCE_DIR "/templates/_journeys", &templates());
    INFO(joined(loaded.problems));
    REQUIRE(loaded.library);
    for (const char* name : {"passport_renewal", "heatwave_check", "aid_eligibility", "welcome_resident"})
        CHECK_MESSAGE(loaded.library->find(name), name);
    const Journey& p = *loaded.library->find("passport_renewal");
    CHECK(p.steps.front().id == "until_warning");
    CHECK(p.on.at("booked") == "until_recap");
    CHECK(p.step("until_warning")->next == "warning");  // the file's next step
    CHECK(p.step("recap")->channels == std::vector<std::string>{"email", "sms"});
    CHECK(p.step("warning")->window == std::chrono::hours(7 * 24));
    CHECK(p.events.at("booked").anchors == std::vector<std::string>{"appointment_at"});
    CHECK(problems_of(kGood).empty());
}

TEST_CASE("a journey file's mistakes are named with their line and key") {
    SUBCASE("not TOML") { CHECK(any_has(problems_of("[[step]\n"), "j.toml:1:")); }
    SUBCASE("an unknown step kind") {
        auto p = problems_of("[[step]]\nid = \"a\"\nsend = \"welcome_resident\"\n[[step]]\nid = \"b\"\nsleep = \"1d\"\n");
        INFO(joined(p));
        CHECK(any_has(p, "j.toml:4: step b: a step is one of send, wait"));
    }
    SUBCASE("an unknown key in a step") {
        auto p = problems_of("[[step]]\nid = \"a\"\nsend = \"welcome_resident\"\nwindows = \"2d\"\n");
        CHECK(any_has(p, "j.toml:4: step a.windows: unknown key for a send step"));
    }
    SUBCASE("a jump to a missing step") {
        auto p = problems_of(std::string(kGood) + "next = \"nowhere\"\n");
        INFO(joined(p));
        CHECK(any_has(p, "step later.next: no step 'nowhere'"));
    }
    SUBCASE("an event jump to a missing step") {
        auto p = problems_of(std::string(kGood) + "[events]\ncalled = {}\n[on]\ncalled = \"gone\"\n");
        INFO(joined(p));
        CHECK(any_has(p, "j.toml:11: on.called: no step 'gone'"));
    }
    SUBCASE("a cycle with no wait") {
        auto p = problems_of(R"([[step]]
id = "a"
send = "welcome_resident"
[[step]]
id = "b"
branch = [{ message = "a", is = "read", then = "end" }]
otherwise = "a"
)");
        INFO(joined(p));
        CHECK(any_has(p, "a cycle with no wait would spin: a → b → a"));
    }
    SUBCASE("a cycle through a wait is allowed") {
        auto p = problems_of(R"([[step]]
id = "a"
send = "welcome_resident"
[[step]]
id = "b"
wait = "7d"
[[step]]
id = "c"
branch = [{ message = "a", is = "read", then = "end" }]
otherwise = "a"
)");
        INFO(joined(p));
        CHECK(p.empty());
    }
    SUBCASE("an anchor neither given at the start nor brought by an event") {
        auto p = problems_of("anchors = [\"expiry_date\"]\n[[step]]\nid = \"w\"\nwait_until = \"expires - 1d\"\n");
        CHECK(any_has(p, "j.toml:4: step w.wait_until: the anchor 'expires' is neither in `anchors`"));
    }
    SUBCASE("an event that is not declared") {
        auto p = problems_of("[[step]]\nid = \"w\"\nwait = \"1d\"\nuntil = [\"boked\"]\n");
        CHECK(any_has(p, "j.toml:4: step w.until: no event 'boked'"));
    }
    SUBCASE("a template, a channel or a category the templates do not have") {
        auto p = problems_of("[[step]]\nid = \"a\"\nsend = \"welcom\"\n");
        CHECK(any_has(p, "j.toml:3: step a.send: no template 'welcom'"));
        p = problems_of("[[step]]\nid = \"a\"\nsend = \"welcome_resident\"\nchannels = [\"whatsapp\"]\n");
        CHECK(any_has(p, "step a.channels: the template welcome_resident has no whatsapp version"));
        p = problems_of("[[step]]\nid = \"a\"\nsend = \"welcome_resident\"\ncategory = \"alert\"\n");
        CHECK(any_has(p, "step a.category: the template welcome_resident is of the category 'information'"));
    }
    SUBCASE("a branch asking about a step that sends nothing") {
        auto p = problems_of(std::string(kGood) + "[[step]]\nid = \"c\"\nbranch = [{ message = \"later\", is = \"read\", then = \"end\" }]\n");
        CHECK(any_has(p, "no send step 'later' whose message to ask about"));
    }
    SUBCASE("a step nothing leads to") {
        auto p = problems_of(std::string(kGood) + "next = \"end\"\n[[step]]\nid = \"orphan\"\nsend = \"welcome_resident\"\n");
        CHECK(any_has(p, "step orphan: no step and no event leads here"));
    }
    SUBCASE("two steps with one id, a reply keyword that is consent's") {
        auto p = problems_of(std::string(kGood) + "[[step]]\nid = \"later\"\nend = true\n");
        CHECK(any_has(p, "the step 'later' is already defined above"));
        p = problems_of("[[step]]\nid = \"a\"\nsend = \"heatwave_check\"\nreplies = [\"Arrêt\"]\n");
        CHECK(any_has(p, "'Arrêt' keeps its meaning"));
    }
}

TEST_CASE("a reply's keyword is folded: spaces, case, accents and punctuation") {
    CHECK(fold_keyword("  Oui.") == "OUI");
    CHECK(fold_keyword("aïde !") == "AIDE");
    CHECK(fold_keyword("Arrêt") == "ARRET");
    CHECK(fold_keyword("ok merci") == "OK MERCI");
    CHECK(is_crieur_event("reply.OUI"));
    CHECK_FALSE(is_crieur_event("reply.oui"));
    CHECK_FALSE(is_crieur_event("booked"));
}
