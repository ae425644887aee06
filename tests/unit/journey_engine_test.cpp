// The journey engine, run on the shipped journeys with times given by the test: four months of
// a passport renewal in microseconds, each trigger's sends, timers and end checked.
#include <date/tz.h>
#include <doctest/doctest.h>

#include "daemon/journeys/engine.hpp"
#include "daemon/job_codec.hpp"
#include "daemon/render/template_store.hpp"

using namespace crieur;
using namespace crieur::journeys;

namespace {
const JourneyLibrary& library() {
    static const auto templates = render::TemplateStore::load(CRIEUR_SOURCE_DIR "/templates").store;
    static const auto loaded = JourneyLibrary::load(CRIEUR_SOURCE_DIR "/templates/_journeys", templates.get());
    REQUIRE(loaded.library);
    return *loaded.library;
}

std::int64_t ms(const char* rfc3339) { return to_unix_ms(*parse_rfc3339(rfc3339)); }
std::string at(std::int64_t t) { return format_rfc3339(from_unix_ms(t)); }
constexpr std::int64_t kHour = 3'600'000, kDay = 24 * kHour;

// One instance driven through its journey, as the daemon would: each trigger's result becomes
// the state the next one sees, and every message queued is kept.
struct Run {
    const Journey& journey;
    Instance in;
    const date::time_zone* zone = date::locate_zone("Europe/Paris");
    std::vector<SendOrder> sent;
    std::vector<std::string> notices;
    Advance last;

    Run(const char* name, const std::string& data) : journey(*library().find(name)) {
        in.id = "j-1";
        in.journey = name;
        in.citizen = "c-1";
        in.data_json = data;
    }
    Advance& take(Advance a) {
        for (auto& s : a.sends) sent.push_back(s);
        for (auto& n : a.notices) notices.push_back(n);
        in = a.instance;
        last = std::move(a);
        return last;
    }
    Advance& start(std::int64_t now) { return take(advance(journey, in, Trigger{Trigger::Kind::start}, now, zone)); }
    // The timer fires when it is due.
    Advance& wake() {
        REQUIRE(in.wake_ms);
        Trigger t{Trigger::Kind::timer, in.step, in.runs[in.step]};
        return take(advance(journey, in, t, *in.wake_ms, zone));
    }
    Advance& event(const std::string& name, std::int64_t now, const std::string& data = "") {
        Trigger t{Trigger::Kind::event, name};
        t.data_json = data;
        return take(advance(journey, in, t, now, zone));
    }
    Advance& progress(const std::string& step, MessageProgress p, std::int64_t now) {
        Trigger t{Trigger::Kind::message, step, in.messages.at(step).run, p};
        return take(advance(journey, in, t, now, zone));
    }
    Advance& reply(const std::string& keyword, std::int64_t now) {
        return take(advance(journey, in, Trigger{Trigger::Kind::reply, keyword}, now, zone));
    }
    Advance& act(Action a, std::int64_t now) { return take(apply(journey, in, a, now, zone)); }
    std::vector<std::string> templates() const {
        std::vector<std::string> out;
        for (auto& s : sent) out.push_back(s.template_name);
        return out;
    }
};

const std::string kPassport = R"({"expiry_date":"2027-03-14","name":"Madame Martin","document":"passeport",)"
                              R"("expires_on":"14 mars 2027","booking_url":"https://mairie.example.fr/rdv"})";
using V = std::vector<std::string>;
}  // namespace

TEST_CASE("the passport journey without an answer: the warning, the reminder, then nothing") {
    Run r("passport_renewal", kPassport);
    r.start(ms("2026-06-01T10:00:00Z"));
    CHECK(r.sent.empty());
    CHECK(r.in.step == "until_warning");
    // 120 days before 14 March 2027, at 09:00 in Paris (UTC+1 in November).
    CHECK(at(*r.in.wake_ms) == "2026-11-14T08:00:00.000Z");

    r.wake();
    REQUIRE(r.sent.size() == 1);
    CHECK(r.sent[0].job_id == "j-1:warning");
    CHECK(r.sent[0].template_name == "passport_expiry");
    CHECK(at(*r.sent[0].deadline_ms) == "2026-11-21T08:00:00.000Z");  // the send time's week
    CHECK(r.in.step == "no_answer");
    CHECK(at(*r.in.wake_ms) == "2026-12-05T08:00:00.000Z");

    r.progress("warning", MessageProgress::delivered, ms("2026-11-16T12:00:00Z"));
    CHECK(r.in.step == "no_answer");  // delivered is not a click
    r.wake();
    CHECK(r.templates() == V{"passport_expiry", "document_reminder"});
    CHECK(r.sent[1].job_id == "j-1:reminder");
    CHECK(r.in.step == "until_expiry");

    r.wake();
    CHECK(r.in.state == InstanceState::ended);
    CHECK(r.in.ended_reason == "end");
    CHECK(r.sent.size() == 2);
    CHECK(r.event("document_ready", ms("2027-04-01T10:00:00Z")).ignored.find("ended") != std::string::npos);
    CHECK(r.sent.size() == 2);
}

TEST_CASE("the passport journey with a click: no reminder") {
    Run r("passport_renewal", kPassport);
    r.start(ms("2026-06-01T10:00:00Z"));
    r.wake();
    auto& a = r.progress("warning", MessageProgress::clicked, ms("2026-11-15T19:00:00Z"));
    CHECK(a.moved);
    CHECK(r.in.step == "until_expiry");  // the wait ended early and the branch saw the click
    CHECK(r.templates() == V{"passport_expiry"});
    // The 21-day timer still fires in Redis: the instance has left that wait.
    Trigger stale{Trigger::Kind::timer, "no_answer", 1};
    CHECK_FALSE(advance(r.journey, r.in, stale, ms("2026-12-05T08:00:00Z"), r.zone).ignored.empty());
}

TEST_CASE("the passport journey with a booking: the recap the day before at 18:00 local, then the SMS") {
    Run r("passport_renewal", kPassport);
    r.start(ms("2026-06-01T10:00:00Z"));
    r.wake();
    r.event("booked", ms("2026-11-20T10:00:00Z"),
            R"({"appointment_at":"2027-01-12T09:30:00+01:00","date":"mardi 12 janvier","time":"9 h 30",)"
            R"("service_name":"état civil","address":"1 place de la Comédie","documents":[{"item":"photo"}]})");
    CHECK(r.in.step == "until_recap");
    CHECK(at(*r.in.wake_ms) == "2027-01-11T17:00:00.000Z");  // 18:00 in Paris
    r.wake();
    CHECK(r.templates() == V{"passport_expiry", "appointment_recap"});
    CHECK(r.sent[1].channels == V{"email", "sms"});
    CHECK(r.sent[1].data_json.find("\"time\":\"9 h 30\"") != std::string::npos);  // the event's data merged
    CHECK(r.in.step == "until_ready");

    r.event("document_ready", ms("2027-01-30T10:00:00Z"), R"({"office":"mairie du 3e","collect_by":"15 avril"})");
    CHECK(r.templates() == V{"passport_expiry", "appointment_recap", "document_ready"});
    CHECK(r.sent[2].channels == V{"sms"});
    CHECK(r.in.state == InstanceState::ended);
}

TEST_CASE("a booking for tomorrow morning sends no recap: the anchor is past") {
    Run r("passport_renewal", kPassport);
    r.start(ms("2026-06-01T10:00:00Z"));
    r.event("booked", ms("2026-11-20T19:00:00Z"), R"({"appointment_at":"2026-11-21T08:30:00+01:00"})");
    CHECK(r.in.step == "until_ready");
    CHECK(r.sent.empty());
    CHECK(r.last.trace.size() >= 2);
}

TEST_CASE("a journey whose anchor is missing or not a date ends, saying which") {
    Run r("passport_renewal", R"({"name":"Madame Martin"})");
    r.start(ms("2026-06-01T10:00:00Z"));
    CHECK(r.in.state == InstanceState::ended);
    CHECK(r.in.ended_reason.find("'expiry_date' is not in the data") != std::string::npos);
    Run bad("passport_renewal", R"({"expiry_date":"14/03/2027"})");
    bad.start(ms("2026-06-01T10:00:00Z"));
    CHECK(bad.in.ended_reason.find("not a date or a date-time: '14/03/2027'") != std::string::npos);
    CHECK(bad.sent.empty());
}

TEST_CASE("a passport journey started after the warning's date warns at once") {
    Run r("passport_renewal", kPassport);
    r.start(ms("2027-01-05T10:00:00Z"));
    CHECK(r.templates() == V{"passport_expiry"});
    CHECK(r.in.step == "no_answer");
}

TEST_CASE("the heatwave check answered OK ends, unanswered it asks again then tells the service to call") {
    const std::int64_t t0 = ms("2027-07-20T08:00:00Z");
    {
        Run r("heatwave_check", R"({"callback_number":"04 72 00 00 00"})");
        r.start(t0);
        REQUIRE(r.sent.size() == 1);
        CHECK(r.sent[0].priority == Priority::urgent);
        CHECK(r.sent[0].channels == V{"sms"});
        r.reply("OK", t0 + 20 * 60'000);
        CHECK(r.in.state == InstanceState::ended);
        CHECK(r.sent.size() == 1);
        CHECK(r.notices.empty());
    }
    {
        Run r("heatwave_check", R"({"callback_number":"04 72 00 00 00"})");
        r.start(t0);
        r.wake();  // two hours of silence
        CHECK(r.sent.size() == 2);
        CHECK(r.sent[1].job_id == "j-1:check_again");
        CHECK(r.sent[1].channels == V{"whatsapp", "push"});
        CHECK(at(*r.in.wake_ms) == at(t0 + 4 * kHour));
        r.wake();
        CHECK(r.notices == V{"call_needed"});
        CHECK(r.in.step == "until_visited");
        r.event("visited", t0 + 5 * kHour);
        CHECK(r.in.state == InstanceState::ended);
        CHECK(r.in.ended_reason == "on visited");
    }
    {
        // Read on WhatsApp counts as an answer; AIDE tells the service at once.
        Run r("heatwave_check", R"({"callback_number":"04 72 00 00 00"})");
        r.start(t0);
        r.wake();
        r.progress("check_again", MessageProgress::read, t0 + 3 * kHour);
        CHECK(r.in.state == InstanceState::ended);
        Run h("heatwave_check", R"({"callback_number":"04 72 00 00 00"})");
        h.start(t0);
        h.reply("AIDE", t0 + 60'000);
        CHECK(h.notices == V{"help_asked"});
        CHECK(h.in.step == "until_visited");
    }
}

TEST_CASE("events, progress and timers that do not apply are recorded or ignored, never sent twice") {
    Run r("aid_eligibility", R"({"aid_name":"l'aide à la cantine","amount":"60 €","apply_url":"https://x.fr","apply_by":"30 septembre"})");
    const std::int64_t t0 = ms("2027-09-01T08:00:00Z");
    r.start(t0);
    CHECK(r.start(t0 + 1).ignored == "already started");
    CHECK(r.sent.size() == 1);
    // A timer before its time, then a duplicate delivery receipt.
    Trigger early{Trigger::Kind::timer, "reading", 1};
    CHECK(advance(r.journey, r.in, early, t0 + kDay, r.zone).ignored.find("before its time") != std::string::npos);
    r.progress("inform", MessageProgress::delivered, t0 + kHour);
    CHECK(r.progress("inform", MessageProgress::delivered, t0 + 2 * kHour).ignored.find("already delivered") !=
          std::string::npos);
    // Not read in ten days: one reminder, then the end.
    r.wake();
    CHECK(r.sent.size() == 2);
    CHECK(r.sent[1].template_name == "aid_eligibility");
    CHECK(r.in.state == InstanceState::ended);

    Run read("aid_eligibility", "{}");
    read.start(t0);
    read.progress("inform", MessageProgress::read, t0 + kHour);
    CHECK(read.in.state == InstanceState::ended);
    CHECK(read.sent.size() == 1);
}

TEST_CASE("agents step in: a further message, a reschedule, pause and resume, stop") {
    Run r("welcome_resident", R"({"name":"Madame Petit","district":"Gerland","services_url":"https://x.fr"})");
    const std::int64_t t0 = ms("2027-02-01T08:00:00Z");
    r.start(t0);
    CHECK(r.in.step == "a_week");

    Action send{Action::Kind::send, "welcome_guide", {"email"}, R"({"guide_url":"https://x.fr/g","collection_day":"mardi"})", 0, "agent-1"};
    r.act(send, t0 + kHour);
    CHECK(r.sent.back().job_id == "j-1:action-1");
    CHECK(r.sent.back().data_json.find("collection_day") != std::string::npos);
    CHECK(r.in.step == "a_week");  // the journey goes on as before
    r.act(send, t0 + 2 * kHour);
    CHECK(r.sent.back().job_id == "j-1:action-2");

    Action pause{Action::Kind::pause};
    pause.by = "agent-1";
    r.act(pause, t0 + 3 * kHour);
    CHECK(r.in.state == InstanceState::paused);
    const auto due = *r.in.wake_ms;
    Trigger timer{Trigger::Kind::timer, "a_week", 1};
    CHECK(advance(r.journey, r.in, timer, due, r.zone).ignored.find("paused") != std::string::npos);
    Action resume{Action::Kind::resume};
    resume.by = "agent-2";
    r.act(resume, due + kHour);  // past its time: it goes on at once
    CHECK(r.sent.back().template_name == "welcome_guide");
    CHECK(r.sent.back().job_id == "j-1:guide");
    CHECK(r.in.state == InstanceState::ended);

    Run s("welcome_resident", R"({"name":"Madame Petit","district":"Gerland","services_url":"https://x.fr"})");
    s.start(t0);
    Action later{Action::Kind::reschedule};
    later.at_ms = t0 + 10 * kDay;
    later.by = "agent-1";
    s.act(later, t0 + kHour);
    CHECK(*s.in.wake_ms == t0 + 10 * kDay);
    Action stop{Action::Kind::stop};
    stop.by = "agent-3";
    s.act(stop, t0 + 2 * kHour);
    CHECK(s.in.state == InstanceState::ended);
    CHECK(s.in.ended_reason == "stopped by agent-3");
    CHECK(s.act(stop, t0 + 3 * kHour).ignored.find("ended") != std::string::npos);
}

TEST_CASE("a step's job ids: its first run, then its run number") {
    Instance in;
    in.id = "passport-42";
    CHECK(step_of_job(in, "passport-42:warning") == std::pair<std::string, int>{"warning", 1});
    CHECK(step_of_job(in, "passport-42:check:3") == std::pair<std::string, int>{"check", 3});
    CHECK_FALSE(step_of_job(in, "passport-4:warning"));
    CHECK_FALSE(step_of_job(in, "passport-42:check:1"));
    CHECK_FALSE(step_of_job(in, "passport-42:check:x"));
}

TEST_CASE("what a citizen's reply is to a journey: a keyword its latest message asked for or it jumps on, else free words") {
    Run r("heatwave_check", R"({"callback_number":"04 72 00 00 00"})");
    const auto t0 = ms("2026-07-01T10:00:00+02:00");
    r.start(t0);  // the check asked for OK, AIDE or HELP
    struct Case {
        const char* text;
        const char* is;  // the trigger's keyword; "" free words
    };
    for (const Case c : {Case{"OK", "OK"}, {"  ok ", "OK"}, {"Aïde !", "AIDE"}, {"help", "HELP"}, {"oui", ""},
                         {"ok merci", ""}, {"", ""}, {"STOP", ""}}) {
        INFO(c.text);
        const Trigger t = reply_trigger(r.journey, r.in, c.text);
        CHECK(t.kind == Trigger::Kind::reply);
        CHECK(t.name == c.is);
    }
    // A journey that asks for no keyword and jumps on none takes every reply as free words.
    Run welcome("welcome_resident", R"({"name":"M","district":"D","services_url":"https://x.fr","guide_url":"https://x.fr","collection_day":"mardi"})");
    welcome.start(t0);
    CHECK(reply_trigger(welcome.journey, welcome.in, "ok").name.empty());
    r.in.messages["check"].sent_ms = t0;
    r.in.messages["check_again"] = SentMessage{"j-1:check_again", 1, MessageProgress::queued, t0 + kHour, false};
    CHECK(reply_trigger(r.journey, r.in, "OK").name == "OK");  // the latest, check_again, asks for it too
}
