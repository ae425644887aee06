#include "tools/journey_command.hpp"

#include <cstdio>
#include <filesystem>

#include "daemon/journeys/journey.hpp"
#include "daemon/render/template_store.hpp"

namespace crieur::cli {

namespace {
namespace fs = std::filesystem;
using journeys::Journey;
using journeys::JourneyLibrary;
using journeys::Step;
using journeys::StepKind;

std::string joined(const std::vector<std::string>& v, const char* sep = ", ") {
    std::string out;
    for (auto& s : v) out += (out.empty() ? "" : sep) + s;
    return out;
}

// One line per step: what it does and where it goes.
std::string describe(const Step& s) {
    switch (s.kind) {
    case StepKind::send: {
        std::string d = "send " + s.template_name + " on " + (s.channels.empty() ? "its channels" : joined(s.channels, " "));
        if (s.window.count() > 0) d += ", the send time picking within " + journeys::format_duration(s.window);
        if (s.priority == Priority::urgent) d += ", urgent";
        if (!s.replies.empty()) d += ", asking for " + joined(s.replies, " / ");
        return d + " → " + s.next;
    }
    case StepKind::wait: {
        std::string d = "wait";
        if (s.wait_for) d += " " + journeys::format_duration(*s.wait_for);
        if (s.wait_until) d += " until " + s.wait_until->text;
        if (!s.until.empty()) d += std::string(s.wait_for || s.wait_until ? " or" : " for") + " " + joined(s.until, " | ");
        d += " → " + s.next;
        if (s.wait_until && s.if_past != "next") d += " (already past: → " + s.if_past + ")";
        return d;
    }
    case StepKind::branch: {
        std::string d = "branch:";
        for (auto& c : s.cases) d += " " + c.when.text + " → " + c.then + ";";
        return d + " otherwise → " + s.next;
    }
    case StepKind::notify: return "notify the service: " + s.notice + " → " + s.next;
    case StepKind::end: return "end";
    }
    return "";
}

void show(const Journey& j) {
    std::printf("%s: %s\n  file: %s\n", j.name.c_str(), j.description.c_str(), j.file.c_str());
    if (!j.anchors.empty()) std::printf("  anchors: %s\n", joined(j.anchors).c_str());
    if (!j.events.empty()) {
        std::string ev;
        for (auto& [name, e] : j.events)
            ev += (ev.empty() ? "" : ", ") + name + (e.anchors.empty() ? "" : " (" + joined(e.anchors) + ")");
        std::printf("  events: %s\n", ev.c_str());
    }
    if (!j.on.empty()) {
        std::string on;
        for (auto& [e, t] : j.on) on += (on.empty() ? "" : "; ") + e + " → " + t;
        std::printf("  on, from any step: %s\n", on.c_str());
    }
    for (std::size_t i = 0; i < j.steps.size(); ++i)
        std::printf("  %2zu %-18s %s\n", i + 1, j.steps[i].id.c_str(), describe(j.steps[i]).c_str());
}
}  // namespace

int journey_command(const std::string& templates_dir, const std::vector<std::string>& args) {
    if (args.empty() || (args[0] != "check" && args[0] != "show") || args.size() > 2) return 2;
    auto templates = render::TemplateStore::load(templates_dir);
    for (auto& p : templates.problems) std::fprintf(stderr, "%s\n", p.c_str());
    if (!templates.store) {
        std::fprintf(stderr, "crieur: the templates in %s have problems: journeys not checked\n", templates_dir.c_str());
        return 1;
    }
    const std::string dir = (fs::path(templates_dir) / "_journeys").string();
    // check [DIR|FILE]; show NAME
    const bool one_file = args[0] == "check" && args.size() == 2 && fs::is_regular_file(args[1]);
    const std::string where = args[0] == "check" && args.size() == 2 ? args[1] : dir;
    auto loaded = one_file ? JourneyLibrary::load_file(where, templates.store.get())
                           : JourneyLibrary::load(where, templates.store.get());
    for (auto& p : loaded.problems) std::fprintf(stderr, "%s\n", p.c_str());
    if (!loaded.library) {
        std::fprintf(stderr, "%zu problem%s in %s\n", loaded.problems.size(), loaded.problems.size() == 1 ? "" : "s",
                     where.c_str());
        return 1;
    }
    if (args[0] == "show") {
        if (args.size() != 2) return 2;
        const Journey* j = loaded.library->find(args[1]);
        if (!j) {
            std::fprintf(stderr, "crieur: no journey '%s' in %s\n", args[1].c_str(), dir.c_str());
            return 1;
        }
        show(*j);
        return 0;
    }
    for (auto& [name, j] : loaded.library->all())
        std::printf("%-22s %2zu steps  %s\n", name.c_str(), j.steps.size(), j.description.c_str());
    std::printf("%zu journeys in %s: ok\n", loaded.library->all().size(), where.c_str());
    return 0;
}

}  // namespace crieur::cli
