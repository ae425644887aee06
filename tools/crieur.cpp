// crieur: the operators' command-line tool.
//   crieur [--config FILE] enqueue FILE.json|-      queue one job, or one job per line (JSON lines)
//   crieur [--config FILE] status ID [--json]       a message's status, attempts and events
//   crieur [--config FILE] status ID ID...          one line per message
//   crieur [--config FILE] wait [--timeout S] ID... wait until each message has a final status
//   crieur [--config FILE] dead list [--count N]    the dead-letter stream, oldest first
//   crieur [--config FILE] dead requeue ENTRY_ID    put a dead-lettered job back on the jobs stream
//   crieur [--config FILE] template check [DIR]
//   crieur [--config FILE] journey check [DIR|FILE] | show NAME   journeys as the daemon reads them
//   crieur [--config FILE] template preview NAME --channel C [--locale L] (--data JSON | --example) [--json]
//   crieur template render FILE --data DATA.json [--partials DIR]
//   crieur [--config FILE] citizens import FILE|- [--dry-run] [--format csv|jsonl] [--batch N]
//   crieur [--config FILE] citizens show ID        a citizen as the directory holds them (JSON)
//   crieur [--config FILE] campaign create FILE|- [--service S] [--no-wait]   (docs/campaigns.md)
//   crieur [--config FILE] campaign cap ALERT.xml|- [--service S] [--dry-run]      a CAP 1.2 alert
//   crieur [--config FILE] campaign followup ID FILE|- | launch ID | show ID | list | cancel ID
//   crieur sendtime --citizens F --history F --queries F > answers.csv   (docs/sendtime.md)
// The config is the daemon's (redis address and streams, receipts database, templates); default
// $CRIEUR_CONFIG, else /etc/crieur/crieur.toml. The template commands work without one.
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>
#include <string>
#include <variant>
#include <vector>

#include "channels/url.hpp"
#include <boost/asio/io_context.hpp>

#include "channels/registry.hpp"
#include "daemon/audience/preview.hpp"
#include "daemon/callbacks/endpoints.hpp"
#include "daemon/callbacks/signature.hpp"
#include "daemon/config.hpp"
#include "daemon/directory/citizen_codec.hpp"
#include "daemon/directory/importer.hpp"
#include "daemon/sendtime/files.hpp"
#include "daemon/job_codec.hpp"
#include "daemon/keys/api_keys.hpp"
#include "daemon/pipeline.hpp"
#include "daemon/receipts/queries.hpp"
#include "daemon/render/preview_json.hpp"
#include "daemon/render/template_store.hpp"
#include "daemon/receipts/sqlite.hpp"
#include "daemon/redis/sync_client.hpp"
#include "daemon/status.hpp"
#include "tools/campaign_command.hpp"
#include "tools/journey_command.hpp"
#include "tools/operators_command.hpp"

namespace {

using namespace crieur;

int usage(FILE* to = stderr) {
    std::fputs("usage: crieur [--config FILE] enqueue FILE.json|-\n"
               "       crieur [--config FILE] status ID [--json]\n"
               "       crieur [--config FILE] status ID ID...\n"
               "       crieur [--config FILE] wait [--timeout SECONDS] ID...\n"
               "       crieur [--config FILE] dead list [--count N]\n"
               "       crieur [--config FILE] dead requeue ENTRY_ID\n"
               "       crieur [--config FILE] template check [DIR]\n"
               "       crieur [--config FILE] journey check [DIR|FILE] | show NAME\n"
               "       crieur [--config FILE] template preview NAME --channel C [--locale L] (--data JSON | --example) [--json]\n"
               "       crieur template render FILE --data DATA.json [--partials DIR]\n"
               "       crieur [--config FILE] citizens import FILE|- [--dry-run] [--format csv|jsonl] [--batch N]\n"
               "       crieur [--config FILE] citizens show ID\n"
               "       crieur [--config FILE] audience preview FILE|- [--service S]\n"
               "       crieur [--config FILE] campaign create FILE|- [--service S] [--no-wait]\n"
               "       crieur [--config FILE] campaign cap ALERT.xml|- [--service S] [--language fr] [--dry-run] [--no-wait]\n"
               "       crieur [--config FILE] campaign followup ID FILE|- [--no-wait]\n"
               "       crieur [--config FILE] campaign launch|show|cancel ID\n"
               "       crieur [--config FILE] campaign list [--service S] [--limit N]\n"
               "       crieur [--config FILE] keys create --service S --scopes send,read,... [--name N] [--expires 90d|YYYY-MM-DD] [--test]\n"
               "       crieur [--config FILE] keys create --operator [--name N] [--expires ...]\n"
               "       crieur [--config FILE] keys list [--json]\n"
               "       crieur [--config FILE] keys revoke ID\n"
               "       crieur [--config FILE] operators add --name N --role viewer|agent|admin   (the password from the terminal or stdin)\n"
               "       crieur [--config FILE] operators passwd|disable|enable --name N\n"
               "       crieur [--config FILE] operators list\n"
               "       crieur [--config FILE] services list [--json]\n"
               "       crieur [--config FILE] services callback set --service S --url URL\n"
               "       crieur [--config FILE] services callback rotate|retire|remove --service S\n"
               "       crieur sendtime --citizens citizens.csv --history history.csv --queries queries.csv\n"
               "The config is --config FILE, else $CRIEUR_CONFIG, else /etc/crieur/crieur.toml.\n",
               to);
    return to == stdout ? 0 : 2;
}

redis::SyncClient connect(const Config& c) {
    if (c.redis.sentinels.empty()) return redis::SyncClient(c.redis.host, c.redis.port, c.redis.password);
    std::vector<redis::Address> sentinels;
    for (auto& s : c.redis.sentinels)
        if (auto a = redis::parse_address(s)) sentinels.push_back(*a);
    const auto primary = redis::primary_from_sentinels(sentinels, c.redis.master_name, c.redis.sentinel_password);
    return redis::SyncClient(primary.host, primary.port, c.redis.password);
}

// Splits input into jobs: a whole document that is one JSON object is one job; otherwise one job
// per non-blank line. Returns (line number, text) pairs.
std::vector<std::pair<int, std::string>> split_jobs(const std::string& input) {
    rapidjson::Document whole;
    whole.Parse<rapidjson::kParseIterativeFlag>(input.data(), input.size());
    if (!whole.HasParseError() && whole.IsObject()) return {{1, input}};
    std::vector<std::pair<int, std::string>> out;
    std::istringstream in(input);
    std::string line;
    for (int n = 1; std::getline(in, line); ++n)
        if (line.find_first_not_of(" \t\r") != std::string::npos) out.emplace_back(n, line);
    return out;
}

int enqueue(const Config& c, const std::string& file) {
    std::string input;
    if (file == "-") {
        std::stringstream ss;
        ss << std::cin.rdbuf();
        input = ss.str();
    } else {
        std::ifstream in(file, std::ios::binary);
        if (!in) {
            std::fprintf(stderr, "crieur: cannot read %s\n", file.c_str());
            return 1;
        }
        std::stringstream ss;
        ss << in.rdbuf();
        input = ss.str();
    }
    const std::string name = file == "-" ? "stdin" : file;
    auto jobs = split_jobs(input);
    // Check every job first, with the daemon's own rules (the contract, and the templates when
    // their folder is here): a job that would be dead-lettered is not queued.
    auto templates = render::TemplateStore::load(c.templates.dir);
    if (!templates.store)
        std::fprintf(stderr, "crieur: templates not checked (%s)\n",
                     templates.problems.empty() ? "none" : templates.problems.front().c_str());
    std::vector<std::pair<const std::string*, bool>> valid;  // the job, and whether it is urgent
    int invalid = 0;
    for (auto& [line, text] : jobs) {
        auto parsed = parse_job(text, c.intake.max_job_bytes);
        std::optional<JobError> error;
        if (auto* e = std::get_if<JobError>(&parsed)) error = *e;
        else if (templates.store)
            if (auto prepared = prepare(std::get<Job>(parsed), *templates.store, c.intake.default_channel);
                std::holds_alternative<JobError>(prepared))
                error = std::get<JobError>(prepared);
        if (error) {
            std::fprintf(stderr, "%s:%d: %s\n", name.c_str(), line, error->reason.c_str());
            ++invalid;
        } else {
            valid.emplace_back(&text, std::get<Job>(parsed).priority == Priority::urgent);
        }
    }
    // Urgent jobs on the urgent stream: the daemon reads it first, whatever waits on the other.
    const std::string urgent_stream = urgent_stream_of(c.redis);
    auto redis = connect(c);
    std::size_t urgent = 0;
    for (auto& [text, is_urgent] : valid) {
        redis.append({"XADD", is_urgent ? urgent_stream : c.redis.stream, "*", "job", *text});
        urgent += is_urgent;
    }
    std::size_t queued = 0;
    for (std::size_t i = 0; i < valid.size(); ++i) {
        auto r = redis.reply();
        if (r->type == REDIS_REPLY_ERROR) std::fprintf(stderr, "crieur: XADD failed: %s\n", r->str);
        else ++queued;
    }
    std::printf("queued %zu job%s on %s", queued, queued == 1 ? "" : "s", c.redis.stream.c_str());
    if (urgent) std::printf(" (%zu urgent on %s)", urgent, urgent_stream.c_str());
    if (invalid) std::printf(", refused %d invalid (see above)", invalid);
    std::printf("\n");
    return invalid || queued != valid.size() ? 1 : 0;
}

sqlite::DbPtr open_receipts(const Config& c) {
    auto db = sqlite::open(c.receipts.path, SQLITE_OPEN_READONLY);
    sqlite3_busy_timeout(db.get(), 2000);
    return db;
}

std::string field(const rapidjson::Value& v, const char* name) {
    auto it = v.FindMember(name);
    if (it == v.MemberEnd() || it->value.IsNull()) return "-";
    if (it->value.IsString()) return it->value.GetString();
    if (it->value.IsInt64()) return std::to_string(it->value.GetInt64());
    return "?";
}

int status(const Config& c, const std::string& id, bool json) {
    std::optional<std::string> result;
    try {
        result = receipts::message_json(open_receipts(c).get(), id);
    } catch (const sqlite::Error& e) {
        std::fprintf(stderr, "crieur: %s\n", e.what());
        return 1;
    }
    if (!result) {
        std::fprintf(stderr, "crieur: no message with id %s in %s\n", id.c_str(), c.receipts.path.c_str());
        return 1;
    }
    if (json) {
        std::printf("%s\n", result->c_str());
        return 0;
    }
    rapidjson::Document d;
    d.Parse(result->c_str());
    std::printf("%s  %s", field(d, "job_id").c_str(), field(d, "status").c_str());
    if (field(d, "status_reason") != "-") std::printf("  (%s)", field(d, "status_reason").c_str());
    std::printf("\n  service %s, template %s, channel %s, priority %s\n  created %s, updated %s, stream entry %s\n",
                field(d, "service").c_str(), field(d, "template").c_str(), field(d, "channel").c_str(),
                field(d, "priority").c_str(), field(d, "created_at").c_str(), field(d, "updated_at").c_str(),
                field(d, "stream_id").c_str());
    for (auto& a : d["attempts"].GetArray())
        std::printf("  attempt %s  %s via %s  %s  %s  %s µs%s%s\n", field(a, "n").c_str(), field(a, "channel").c_str(),
                    field(a, "provider").c_str(), field(a, "outcome").c_str(),
                    field(a, "provider_message_id").c_str(), field(a, "latency_us").c_str(),
                    field(a, "error_text") != "-" ? "  " : "", field(a, "error_text") != "-" ? field(a, "error_text").c_str() : "");
    for (auto& e : d["events"].GetArray())
        std::printf("  event %s  %s  %s\n", field(e, "at").c_str(), field(e, "status").c_str(), field(e, "raw").c_str());
    return 0;
}

// One line per message: id, status, channel, provider, last outcome, reason.
int status_table(const Config& c, const std::vector<std::string>& ids) {
    auto db = open_receipts(c);
    sqlite::Stmt q(db.get(), R"(
        SELECT m.status, coalesce(m.channel, '-'), coalesce(a.provider, '-'), coalesce(a.outcome, '-'),
               coalesce(m.status_reason, a.error_text, '')
        FROM messages m LEFT JOIN attempts a ON a.message_id = m.id
             AND a.n = (SELECT max(n) FROM attempts WHERE message_id = m.id)
        WHERE m.job_id = ?1)");
    int missing = 0;
    int w = 2;
    for (auto& id : ids) w = std::max(w, static_cast<int>(id.size()));
    std::printf("%-*s  %-10s %-9s %-9s %-9s %s\n", w, "ID", "STATUS", "CHANNEL", "PROVIDER", "OUTCOME", "REASON");
    for (auto& id : ids) {
        q.bind(1, id);
        if (q.step())
            std::printf("%-*s  %-10s %-9s %-9s %-9s %s\n", w, id.c_str(), std::string(q.text(0)).c_str(),
                        std::string(q.text(1)).c_str(), std::string(q.text(2)).c_str(), std::string(q.text(3)).c_str(),
                        std::string(q.text(4)).c_str());
        else {
            std::printf("%-*s  %-10s\n", w, id.c_str(), "(none)");
            ++missing;
        }
        q.reset();
    }
    return missing ? 1 : 0;
}

int wait_final(const Config& c, const std::vector<std::string>& ids, int timeout_s) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    for (;;) {
        std::size_t final_count = 0;
        try {
            auto db = open_receipts(c);
            sqlite::Stmt q(db.get(), "SELECT status FROM messages WHERE job_id = ?1");
            for (auto& id : ids) {
                q.bind(1, id);
                if (q.step()) {
                    auto s = parse_status(q.text(0));
                    if (s && is_final(*s)) ++final_count;
                }
                q.reset();
            }
        } catch (const sqlite::Error&) {
            // The daemon has not created the database yet.
        }
        if (final_count == ids.size()) return 0;
        if (std::chrono::steady_clock::now() >= deadline) {
            std::fprintf(stderr, "crieur: %zu of %zu messages still without a final status after %d s\n",
                         ids.size() - final_count, ids.size(), timeout_s);
            return 1;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
}

// The dead-letter entry's fields as a map.
std::vector<std::pair<std::string, std::string>> fields_of(const redisReply* entry) {
    std::vector<std::pair<std::string, std::string>> out;
    const redisReply* f = entry->element[1];
    for (std::size_t i = 0; f && i + 1 < f->elements; i += 2)
        out.emplace_back(redis::text(f->element[i]), redis::text(f->element[i + 1]));
    return out;
}

std::string get(const std::vector<std::pair<std::string, std::string>>& fields, std::string_view key) {
    for (auto& [k, v] : fields)
        if (k == key) return v;
    return {};
}

int dead_list(const Config& c, int count) {
    auto redis = connect(c);
    auto r = redis.command({"XRANGE", c.redis.dead_stream, "-", "+", "COUNT", std::to_string(count)});
    const long long total = redis.integer({"XLEN", c.redis.dead_stream});
    for (std::size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; ++i) {
        auto fields = fields_of(r->element[i]);
        std::string job_id = "-";
        rapidjson::Document job;
        const std::string raw = get(fields, "job");
        job.Parse(raw.data(), raw.size());
        if (!job.HasParseError() && job.IsObject() && job.HasMember("id") && job["id"].IsString())
            job_id = job["id"].GetString();
        std::printf("%s  %s  job %s  %s: %s\n", redis::text(r->element[i]->element[0]).data(), get(fields, "at").c_str(),
                    job_id.c_str(), get(fields, "code").c_str(), get(fields, "reason").c_str());
    }
    std::printf("%lld dead-lettered on %s\n", total, c.redis.dead_stream.c_str());
    return 0;
}

int dead_requeue(const Config& c, const std::string& entry_id) {
    auto redis = connect(c);
    auto r = redis.command({"XRANGE", c.redis.dead_stream, entry_id, entry_id});
    if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
        std::fprintf(stderr, "crieur: no entry %s on %s\n", entry_id.c_str(), c.redis.dead_stream.c_str());
        return 1;
    }
    const std::string job = get(fields_of(r->element[0]), "job");
    if (job.empty()) {
        std::fprintf(stderr, "crieur: entry %s holds no job to requeue\n", entry_id.c_str());
        return 1;
    }
    // Back on the stream it belongs to: an urgent job on the urgent stream.
    const auto parsed = parse_job(job, SIZE_MAX);
    const bool urgent = std::holds_alternative<Job>(parsed) && std::get<Job>(parsed).priority == Priority::urgent;
    const std::string stream = urgent ? urgent_stream_of(c.redis) : c.redis.stream;
    // Both or neither: the job is never in both streams, nor lost between them.
    redis.append({"MULTI"});
    redis.append({"XADD", stream, "*", "job", job});
    redis.append({"XDEL", c.redis.dead_stream, entry_id});
    redis.append({"EXEC"});
    redis.reply();
    redis.reply();
    redis.reply();
    auto exec = redis.reply();
    if (exec->type != REDIS_REPLY_ARRAY || exec->elements != 2 || exec->element[0]->type == REDIS_REPLY_ERROR) {
        std::fprintf(stderr, "crieur: requeue failed\n");
        return 1;
    }
    std::printf("requeued %s as %s on %s\n", entry_id.c_str(), redis::text(exec->element[0]).data(), stream.c_str());
    return 0;
}

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

int template_check(const std::string& dir) {
    auto loaded = render::TemplateStore::load(dir);
    for (auto& p : loaded.problems) std::fprintf(stderr, "%s\n", p.c_str());
    if (!loaded.store) {
        std::fprintf(stderr, "%zu problem%s in %s\n", loaded.problems.size(), loaded.problems.size() == 1 ? "" : "s",
                     dir.c_str());
        return 1;
    }
    for (auto& name : loaded.store->names()) {
        auto* m = loaded.store->manifest(name);
        std::string channels, locales;
        for (auto& c : m->channels) channels += (channels.empty() ? "" : " ") + c;
        for (auto& l : m->locales) locales += (locales.empty() ? "" : " ") + l;
        std::printf("%-24s %-12s %-28s %s\n", name.c_str(), m->category.c_str(), channels.c_str(), locales.c_str());
    }
    std::printf("%zu templates in %s: ok\n", loaded.store->names().size(), dir.c_str());
    return 0;
}

int template_preview(const std::string& dir, const std::vector<std::string>& args) {
    std::string name, channel, locale, data;
    bool example = false, json = false;
    for (std::size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--channel" && i + 1 < args.size()) channel = args[++i];
        else if (args[i] == "--locale" && i + 1 < args.size()) locale = args[++i];
        else if (args[i] == "--data" && i + 1 < args.size()) data = args[++i];
        else if (args[i] == "--example") example = true;
        else if (args[i] == "--json") json = true;
        else if (name.empty()) name = args[i];
        else return usage();
    }
    if (name.empty() || channel.empty() || (data.empty() && !example)) return usage();
    auto loaded = render::TemplateStore::load(dir);
    if (!loaded.store) {
        for (auto& p : loaded.problems) std::fprintf(stderr, "%s\n", p.c_str());
        return 1;
    }
    const auto& store = *loaded.store;
    if (!store.has(name)) {
        std::fprintf(stderr, "crieur: no template '%s' in %s\n", name.c_str(), dir.c_str());
        return 1;
    }
    if (example) data = store.example_data(name);
    rapidjson::Document doc;
    doc.Parse(data.data(), data.size());
    if (doc.HasParseError()) {
        std::fprintf(stderr, "crieur: --data is not valid JSON\n");
        return 1;
    }
    auto result = store.render(name, channel, locale, doc);
    if (auto* e = std::get_if<render::RenderError>(&result)) {
        std::fprintf(stderr, "crieur: %s\n", e->reason.c_str());
        return 1;
    }
    const auto& r = std::get<render::Rendered>(result);
    std::string html_path;
    if (!r.html.empty()) {
        html_path = (std::filesystem::temp_directory_path() / ("crieur-preview-" + name + "-" + r.locale + ".html")).string();
        std::ofstream(html_path) << r.html;
    }
    if (json) {
        std::printf("%s\n", render::preview_json(r).c_str());
        return 0;
    }
    std::printf("%s · %s · %s\n\n", name.c_str(), channel.c_str(), r.locale.c_str());
    if (channel == "email") std::printf("Subject: %s\n\n", r.subject.c_str());
    if (channel == "push") std::printf("Title: %s\n", r.subject.c_str());
    if (channel == "whatsapp") {
        std::printf("Meta template %s (%s), parameters:", r.whatsapp_name.c_str(), r.whatsapp_language.c_str());
        for (std::size_t i = 0; i < r.whatsapp_parameters.size(); ++i)
            std::printf(" {{%zu}}=\"%s\"", i + 1, r.whatsapp_parameters[i].c_str());
        std::printf("\n\n");
    }
    std::printf("%s%s", r.text.c_str(), r.text.ends_with('\n') ? "" : "\n");
    if (channel == "push") std::printf("URL: %s\npayload: %zu bytes of %zu\n", r.url.c_str(), r.push_payload_bytes, render::kPushPayloadLimit);
    if (r.sms) {
        std::printf("\n%s, %d characters, %d segment%s\n", sms::to_string(r.sms->encoding), r.sms->characters,
                    r.sms->segments, r.sms->segments == 1 ? "" : "s");
        std::printf("policy: %s\n", r.sms_policy.c_str());
        if (r.sms_as_written)
            std::printf("as written (policy fidelity): %s, %d characters, %d segment%s\n",
                        sms::to_string(r.sms_as_written->encoding), r.sms_as_written->characters,
                        r.sms_as_written->segments, r.sms_as_written->segments == 1 ? "" : "s");
    }
    if (!html_path.empty()) std::printf("\nHTML: %s\n", html_path.c_str());
    return 0;
}

int template_render(const std::vector<std::string>& args) {
    std::string file, data_file, partials_dir;
    for (std::size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--data" && i + 1 < args.size()) data_file = args[++i];
        else if (args[i] == "--partials" && i + 1 < args.size()) partials_dir = args[++i];
        else if (file.empty()) file = args[i];
        else return usage();
    }
    if (file.empty() || data_file.empty()) return usage();
    auto compiled = render::compile(slurp(file));
    if (auto* e = std::get_if<render::SyntaxError>(&compiled)) {
        std::fprintf(stderr, "%s:%d:%d: %s\n", file.c_str(), e->line, e->column, e->message.c_str());
        return 1;
    }
    rapidjson::Document data;
    const std::string text = slurp(data_file);
    data.Parse(text.data(), text.size());
    if (data.HasParseError()) {
        std::fprintf(stderr, "crieur: %s is not valid JSON\n", data_file.c_str());
        return 1;
    }
    render::PartialSet partials;
    if (!partials_dir.empty())
        for (auto& e : std::filesystem::directory_iterator(partials_dir))
            if (e.path().extension() == ".mustache") partials.add(e.path().stem().string(), slurp(e.path().string()));
    std::fputs(render::render(std::get<render::Template>(compiled), data, render::Escape::html, &partials).c_str(), stdout);
    return 0;
}

}  // namespace

int citizens_import(const Config& c, const std::vector<std::string>& args) {
    std::string file, format;
    directory::ImportOptions options;
    for (std::size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--dry-run") options.dry_run = true;
        else if (args[i] == "--format" && i + 1 < args.size()) format = args[++i];
        else if (args[i] == "--batch" && i + 1 < args.size()) options.batch_lines = std::max(1, std::atoi(args[++i].c_str()));
        else if (file.empty() && (args[i] == "-" || !args[i].starts_with("--"))) file = args[i];
        else return usage();
    }
    if (file.empty() || (!format.empty() && format != "csv" && format != "jsonl")) return usage();
    std::ifstream opened;
    if (file != "-") {
        opened.open(file, std::ios::binary);
        if (!opened) {
            std::fprintf(stderr, "crieur: cannot open %s\n", file.c_str());
            return 1;
        }
    }
    std::istream& in = file == "-" ? std::cin : opened;
    if (!format.empty()) {
        options.format = format == "csv" ? directory::ImportFormat::csv : directory::ImportFormat::jsonl;
    } else {
        // Peek at the first line without consuming it.
        std::string first;
        const auto start = in.tellg();
        std::getline(in, first);
        in.clear();
        if (start != std::istream::pos_type(-1)) in.seekg(start);
        else if (file == "-") return std::fprintf(stderr, "crieur: give --format for standard input\n"), 2;
        options.format = directory::guess_format(file, first);
    }
    options.now_ms = to_unix_ms(SystemClock().now());
    directory::Directory dir(c.directory.path, 32);  // the indexes of a million citizens stay warm
    directory::ContactCheck check(c.directory.default_region);
    const std::string name = file == "-" ? "stdin" : file;
    auto report = directory::import_citizens(in, dir, check, options, [&](const directory::ImportProblem& p) {
        std::fprintf(stderr, "%s:%lld: %s%s%s\n", name.c_str(), static_cast<long long>(p.line), p.field.c_str(),
                     p.field.empty() ? "" : ": ", p.reason.c_str());
    });
    std::printf("%s%lld line%s: %lld created, %lld updated, %lld rejected%s\n", options.dry_run ? "dry run, " : "",
                static_cast<long long>(report.lines), report.lines == 1 ? "" : "s",
                static_cast<long long>(report.created), static_cast<long long>(report.updated),
                static_cast<long long>(report.rejected), options.dry_run ? " (nothing written)" : "");
    if (!report.stopped.empty()) {
        std::fprintf(stderr, "crieur: import stopped at line %lld: %s; the lines before it are imported\n",
                     static_cast<long long>(report.stopped_at), report.stopped.c_str());
        return 1;
    }
    return report.rejected > 0 ? 1 : 0;
}

int citizens_show(const Config& c, const std::string& id) {
    directory::Directory dir(c.directory.path);
    auto citizen = dir.get(id);
    if (!citizen) {
        std::fprintf(stderr, "crieur: no citizen '%s'%s\n", id.c_str(), dir.erased(id) ? " (erased at their request)" : "");
        return 1;
    }
    std::printf("%s\n", directory::citizen_to_json(*citizen).c_str());
    return 0;
}

// The dry run of an audience, as POST /v1/audiences/preview answers it: FILE holds the same body.
int audience_preview(const Config& c, const std::vector<std::string>& args) {
    std::string file, service;
    for (std::size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--service" && i + 1 < args.size()) service = args[++i];
        else if (file.empty()) file = args[i];
        else return usage();
    }
    if (file.empty()) return usage();
    std::stringstream body;
    if (file == "-") body << std::cin.rdbuf();
    else {
        std::ifstream in(file, std::ios::binary);
        if (!in) throw std::runtime_error("cannot read " + file);
        body << in.rdbuf();
    }
    auto templates = render::TemplateStore::load(c.templates.dir);
    if (!templates.store) throw std::runtime_error("templates: " + (templates.problems.empty() ? std::string("none") : templates.problems.front()));
    auto request = audience::preview_request(body.str(), *templates.store, service);
    if (auto* e = std::get_if<audience::AudienceError>(&request)) {
        std::fprintf(stderr, "crieur: %s: %s%s\n", file.c_str(), e->part.empty() ? "" : (e->part + ": ").c_str(), e->reason.c_str());
        return 1;
    }
    // The providers as the daemon would have them (drivers are built, nothing is sent).
    boost::asio::io_context io;
    SystemClock clock;
    ChannelRegistry channels(io, c, clock);
    directory::Directory dir(c.directory.path, 32);
    const auto& r = std::get<audience::PreviewRequest>(request);
    const auto started = std::chrono::steady_clock::now();
    auto result = audience::preview(dir, r, policy_of(c.router), [&](const std::string& channel, const std::string& address) {
        return channels.carried(channel, address);
    });
    if (auto* e = std::get_if<audience::AudienceError>(&result)) {
        std::fprintf(stderr, "crieur: %s: audience.%s: %s\n", file.c_str(), e->part.c_str(), e->reason.c_str());
        return 1;
    }
    const auto& p = std::get<audience::Preview>(result);
    std::printf("%s\n", p.to_json(r).c_str());
    std::fprintf(stderr, "crieur: %lld citizens, %lld reachable, %lld unreachable (%lld ms)\n", static_cast<long long>(p.citizens),
                 static_cast<long long>(p.reachable), static_cast<long long>(p.unreachable),
                 static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count()));
    return 0;
}

int sendtime_command(const std::vector<std::string>& args) {
    std::string citizens, history, queries;
    for (std::size_t i = 0; i + 1 < args.size(); i += 2) {
        if (args[i] == "--citizens") citizens = args[i + 1];
        else if (args[i] == "--history") history = args[i + 1];
        else if (args[i] == "--queries") queries = args[i + 1];
        else return usage();
    }
    if (citizens.empty() || history.empty() || queries.empty()) return usage();
    auto open = [](const std::string& f) {
        std::ifstream in(f, std::ios::binary);
        if (!in) throw sendtime::FileError("cannot open " + f);
        return in;
    };
    try {
        auto c_in = open(citizens), h_in = open(history), q_in = open(queries);
        const auto people = sendtime::read_citizens(c_in, citizens);
        const auto events = sendtime::read_history(h_in, history);
        const auto asked = sendtime::read_queries(q_in, queries);
        sendtime::Model model;
        model.learn(events, people);
        std::string out = "query_id,send_at\n";
        for (const auto& q : asked) {
            auto it = people.find(q.citizen);
            out += q.id + "," + sendtime::format_time(model.choose(q, it == people.end() ? nullptr : &it->second)) + "\n";
        }
        std::fwrite(out.data(), 1, out.size(), stdout);
        return 0;
    } catch (const sendtime::FileError& e) {
        std::fprintf(stderr, "crieur: %s\n", e.what());
        return 1;
    }
}

// `crieur keys`: the services' API keys in http.keys_file (daemon/keys/api_keys.hpp). The file is
// rewritten whole (a temporary file, then rename); crieurd reads it again on SIGHUP.
std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// "90d" from now, or "YYYY-MM-DD" (midnight UTC); nullopt when it is neither.
std::optional<std::int64_t> parse_expiry(const std::string& s) {
    if (s.size() >= 2 && s.back() == 'd' && s.find_first_not_of("0123456789") == s.size() - 1) {
        const long days = std::atol(s.c_str());
        if (days <= 0 || days > 3650) return std::nullopt;
        return now_ms() + days * 86'400'000L;
    }
    int y = 0;
    unsigned m = 0, d = 0;
    char dash1 = 0, dash2 = 0;
    std::istringstream in(s);
    if (s.size() != 10 || !(in >> y >> dash1 >> m >> dash2 >> d) || dash1 != '-' || dash2 != '-') return std::nullopt;
    const std::chrono::year_month_day day{std::chrono::year{y}, std::chrono::month{m}, std::chrono::day{d}};
    if (!day.ok()) return std::nullopt;
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::sys_days(day).time_since_epoch()).count();
}

std::string format_ms(std::int64_t ms) {
    if (ms == 0) return "-";
    return format_rfc3339(TimePoint(std::chrono::milliseconds(ms)));
}

int keys_command(const Config& config, const std::vector<std::string>& args) {
    const std::string& file = config.http.keys_file;
    if (file.empty()) {
        std::fprintf(stderr, "crieur: http.keys_file is not set in the config: where should the keys live?\n");
        return 78;
    }
    auto read = keys::read_key_file(file);
    if (!read.error.empty()) {
        std::fprintf(stderr, "crieur: %s\n", read.error.c_str());
        return 1;
    }
    const std::string& verb = args.at(0);
    if (verb == "create") {
        std::string service, scopes_text, name, expires;
        bool test = false, operator_key = false;
        for (std::size_t i = 1; i < args.size(); ++i) {
            auto value = [&](std::string& out) {
                if (i + 1 >= args.size()) throw std::runtime_error(args[i] + " needs a value");
                out = args[++i];
            };
            if (args[i] == "--service") value(service);
            else if (args[i] == "--scopes") value(scopes_text);
            else if (args[i] == "--name") value(name);
            else if (args[i] == "--expires") value(expires);
            else if (args[i] == "--test") test = true;
            else if (args[i] == "--operator") operator_key = true;
            else throw std::runtime_error("unknown option " + args[i]);
        }
        keys::Scopes scopes = 0;
        if (operator_key) {
            if (!service.empty() || !scopes_text.empty())
                throw std::runtime_error("--operator is every scope on every service: no --service or --scopes with it");
            scopes = static_cast<keys::Scopes>(keys::Scope::operator_);
        } else {
            if (service.empty() || service.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-_") != std::string::npos)
                throw std::runtime_error("--service: a service name of lower-case letters, digits, '-' or '_' is needed (e.g. etat-civil)");
            std::string bad;
            auto parsed = keys::parse_scopes(scopes_text, &bad);
            if (!parsed) {
                std::string known;
                for (auto s : keys::all_scopes()) known.append(known.empty() ? "" : ", ").append(keys::to_string(s));
                throw std::runtime_error("--scopes: " + (bad.empty() ? std::string("at least one scope is needed")
                                                                     : "unknown scope '" + bad + "'") + " (scopes: " + known + ")");
            }
            scopes = *parsed;
        }
        std::int64_t expires_ms = 0;
        if (!expires.empty()) {
            auto e = parse_expiry(expires);
            if (!e || *e <= now_ms()) throw std::runtime_error("--expires: '" + expires + "' is not a number of days (90d) or a future date (2027-06-30)");
            expires_ms = *e;
        }
        auto minted = keys::mint(service, name, scopes, test, now_ms(), expires_ms);
        read.keys.push_back(minted.key);
        keys::write_key_file(file, read.keys);
        std::printf("%s\n", minted.token.c_str());
        std::fprintf(stderr, "key %s for %s (%s%s) written to %s. The key above is shown once: store it now.\n"
                             "crieurd takes it on reload (systemctl reload crieurd, or SIGHUP).\n",
                     minted.key.id.c_str(), operator_key ? "every service" : service.c_str(),
                     keys::format_scopes(scopes).c_str(), test ? ", test" : "", file.c_str());
        return 0;
    }
    if (verb == "list") {
        const bool json = args.size() == 2 && args[1] == "--json";
        if (args.size() > 2 || (args.size() == 2 && !json)) return usage();
        std::string out = json ? "" : "id                service          flavour  scopes                         created                  expires                  revoked                  name\n";
        for (const auto& k : read.keys) {
            if (json) {
                // Every field but the secret's hash.
                keys::ApiKey shown = k;
                shown.secret_sha256.clear();
                std::string line = keys::to_json_line(shown);
                line.erase(line.find(",\"secret_sha256\""));
                out += line + "}\n";
                continue;
            }
            char row[512];
            std::snprintf(row, sizeof row, "%-17s %-16s %-8s %-30s %-24s %-24s %-24s %s\n", k.id.c_str(),
                          k.service.empty() ? "*" : k.service.c_str(), k.test ? "test" : "live",
                          keys::format_scopes(k.scopes).c_str(), format_ms(k.created_ms).c_str(),
                          format_ms(k.expires_ms).c_str(), format_ms(k.revoked_ms).c_str(), k.name.c_str());
            out += row;
        }
        std::fwrite(out.data(), 1, out.size(), stdout);
        return 0;
    }
    if (verb == "revoke" && args.size() == 2) {
        auto it = std::find_if(read.keys.begin(), read.keys.end(), [&](const keys::ApiKey& k) { return k.id == args[1]; });
        if (it == read.keys.end()) {
            std::fprintf(stderr, "crieur: no key %s in %s\n", args[1].c_str(), file.c_str());
            return 1;
        }
        if (it->revoked_ms == 0) it->revoked_ms = now_ms();  // kept, revoked: `keys list` shows when
        keys::write_key_file(file, read.keys);
        std::fprintf(stderr, "key %s revoked; crieurd refuses it once reloaded (systemctl reload crieurd, or SIGHUP)\n",
                     args[1].c_str());
        return 0;
    }
    return usage();
}

// `crieur services`: the services' status callbacks in callbacks.file (daemon/callbacks/endpoints.hpp),
// rewritten whole like the keys file; crieurd takes it on SIGHUP. A secret is printed once, on
// stdout, when it is made (set on a new service, rotate); `list` never shows one.
int services_command(const Config& config, const std::vector<std::string>& args) {
    const std::string& file = config.callbacks.file;
    if (file.empty()) {
        std::fprintf(stderr, "crieur: callbacks.file is not set in the config: where should the callbacks live?\n");
        return 78;
    }
    auto endpoints = config.callbacks.endpoints;  // read and checked with the config
    if (args.at(0) == "list") {
        const bool json = args.size() == 2 && args[1] == "--json";
        if (args.size() > 2 || (args.size() == 2 && !json)) return usage();
        std::string out = json ? "" : "service          secrets  created                  url\n";
        for (const auto& e : endpoints) {
            if (json) {
                rapidjson::StringBuffer b;
                rapidjson::Writer<rapidjson::StringBuffer> w(b);
                w.StartObject();
                w.Key("service");
                w.String(e.service.c_str());
                w.Key("url");  // its credentials and query values masked: a token may sit there
                const std::string shown = redact_url(e.url);
                w.String(shown.c_str());
                w.Key("secrets");  // how many, never what
                w.Uint(static_cast<unsigned>(e.secrets.size()));
                w.Key("created_ms");
                w.Int64(e.created_ms);
                w.EndObject();
                out.append(b.GetString(), b.GetSize()).append("\n");
                continue;
            }
            char row[1200];
            std::snprintf(row, sizeof row, "%-16s %-8zu %-24s %s\n", e.service.c_str(), e.secrets.size(),
                          format_ms(e.created_ms).c_str(), redact_url(e.url).substr(0, 1000).c_str());
            out += row;
        }
        std::fwrite(out.data(), 1, out.size(), stdout);
        return 0;
    }
    if (args[0] != "callback" || args.size() < 2) return usage();
    const std::string& verb = args[1];
    std::string service, url;
    for (std::size_t i = 2; i < args.size(); ++i) {
        auto value = [&](std::string& out) {
            if (i + 1 >= args.size()) throw std::runtime_error(args[i] + " needs a value");
            out = args[++i];
        };
        if (args[i] == "--service") value(service);
        else if (args[i] == "--url" && verb == "set") value(url);
        else throw std::runtime_error("unknown option " + args[i]);
    }
    if (service.empty() || service.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-_") != std::string::npos)
        throw std::runtime_error("--service: a service name of lower-case letters, digits, '-' or '_' is needed (e.g. etat-civil)");
    auto it = std::find_if(endpoints.begin(), endpoints.end(), [&](const callbacks::Endpoint& e) { return e.service == service; });
    std::string shown;  // a new secret, printed once
    if (verb == "set") {
        if (url.empty()) throw std::runtime_error("--url: the service's endpoint is needed (https://...)");
        if (auto why = callbacks::url_problem(url, config.callbacks.allow_hosts); !why.empty())
            throw std::runtime_error("--url: " + why);
        if (it == endpoints.end()) {
            shown = callbacks::new_secret();
            endpoints.push_back({service, url, {shown}, now_ms()});
        } else {
            it->url = url;  // the secrets stay: the service verifies as before
        }
    } else if (verb == "rotate" || verb == "retire" || verb == "remove") {
        if (it == endpoints.end()) {
            std::fprintf(stderr, "crieur: %s has no callback in %s\n", service.c_str(), file.c_str());
            return 1;
        }
        if (verb == "rotate") {
            shown = callbacks::new_secret();
            it->secrets.insert(it->secrets.begin(), shown);
        } else if (verb == "retire") {
            it->secrets.resize(1);  // the newest signs alone
        } else {
            endpoints.erase(it);
        }
    } else {
        return usage();
    }
    callbacks::write_endpoint_file(file, endpoints);
    if (!shown.empty()) {
        std::printf("%s\n", shown.c_str());
        std::fflush(stdout);  // before the explanation on stderr
    }
    const char* what = verb == "set" ? (shown.empty() ? "URL changed, secrets kept" : "callback set")
                       : verb == "rotate" ? "new secret added; the old one still signs until `retire`"
                       : verb == "retire" ? "only the newest secret signs now"
                                          : "callback removed";
    std::fprintf(stderr, "%s: %s in %s.%s\ncrieurd takes it on reload (systemctl reload crieurd, or SIGHUP).\n",
                 service.c_str(), what, file.c_str(),
                 shown.empty() ? "" : " The secret above is shown once: give it to the service now.");
    return 0;
}

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    const char* env = std::getenv("CRIEUR_CONFIG");
    std::string config_path = env ? env : "/etc/crieur/crieur.toml";
    if (args.size() >= 2 && (args[0] == "--config" || args[0] == "-c")) {
        config_path = args[1];
        args.erase(args.begin(), args.begin() + 2);
    }
    if (args.empty()) return usage();
    // Help needs no config, wherever it is asked for.
    if (std::any_of(args.begin(), args.end(), [](const std::string& a) { return a == "--help" || a == "-h"; }))
        return usage(stdout);
    try {
        // The template and journey commands need no config: an author may have none.
        auto templates_dir = [&]() -> std::string {
            try {
                return load_config(config_path).templates.dir;
            } catch (const ConfigError&) {
                return "templates";
            }
        };
        if (args[0] == "template" && args.size() >= 2) {
            const std::vector<std::string> rest(args.begin() + 2, args.end());
            if (args[1] == "check") return template_check(rest.empty() ? templates_dir() : rest[0]);
            if (args[1] == "preview") return template_preview(templates_dir(), rest);
            if (args[1] == "render") return template_render(rest);
            return usage();
        }
        if (args[0] == "journey") {
            const int rc = cli::journey_command(templates_dir(), std::vector<std::string>(args.begin() + 1, args.end()));
            return rc == 2 ? usage() : rc;
        }
        if (args[0] == "sendtime") return sendtime_command(std::vector<std::string>(args.begin() + 1, args.end()));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "crieur: %s\n", e.what());
        return 1;
    }
    Config config;
    try {
        config = load_config(config_path);
    } catch (const ConfigError& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 78;
    }
    try {
        if (args[0] == "enqueue" && args.size() == 2) return enqueue(config, args[1]);
        if (args[0] == "status" && (args.size() == 2 || (args.size() == 3 && args[2] == "--json")))
            return status(config, args[1], args.size() == 3);
        if (args[0] == "status" && args.size() > 2)
            return status_table(config, std::vector<std::string>(args.begin() + 1, args.end()));
        if (args[0] == "wait" && args.size() >= 2) {
            int timeout = 60;
            std::size_t first = 1;
            if (args[1] == "--timeout" && args.size() >= 4) {
                timeout = std::atoi(args[2].c_str());
                first = 3;
            }
            return wait_final(config, std::vector<std::string>(args.begin() + static_cast<long>(first), args.end()),
                              timeout);
        }
        if (args[0] == "dead" && args.size() >= 2 && args[1] == "list") {
            int count = 100;
            if (args.size() == 4 && args[2] == "--count") count = std::atoi(args[3].c_str());
            return dead_list(config, count > 0 ? count : 100);
        }
        if (args[0] == "dead" && args.size() == 3 && args[1] == "requeue") return dead_requeue(config, args[2]);
        if (args[0] == "citizens" && args.size() >= 3 && args[1] == "import")
            return citizens_import(config, std::vector<std::string>(args.begin() + 2, args.end()));
        if (args[0] == "citizens" && args.size() == 3 && args[1] == "show") return citizens_show(config, args[2]);
        if (args[0] == "audience" && args.size() >= 3 && args[1] == "preview")
            return audience_preview(config, std::vector<std::string>(args.begin() + 2, args.end()));
        if (args[0] == "campaign" && args.size() >= 2) {
            const int rc = cli::campaign_command(config, std::vector<std::string>(args.begin() + 1, args.end()));
            return rc == 2 ? usage() : rc;
        }
        if (args[0] == "keys" && args.size() >= 2) return keys_command(config, std::vector<std::string>(args.begin() + 1, args.end()));
        if (args[0] == "operators" && args.size() >= 2) {
            const int rc = cli::operators_command(config, std::vector<std::string>(args.begin() + 1, args.end()));
            return rc == 2 ? usage() : rc;
        }
        if (args[0] == "services" && args.size() >= 2)
            return services_command(config, std::vector<std::string>(args.begin() + 1, args.end()));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "crieur: %s\n", e.what());
        return 1;
    }
    return usage();
}
