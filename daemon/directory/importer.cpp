#include "daemon/directory/importer.hpp"

#include <vector>

#include "daemon/directory/citizen_codec.hpp"

namespace crieur::directory {

namespace {
constexpr std::size_t kMaxRecordBytes = 64 * 1024;
}  // namespace

ImportFormat guess_format(const std::string& path, std::string_view first_line) {
    auto ends = [&](std::string_view ext) { return path.size() >= ext.size() && path.ends_with(ext); };
    if (ends(".csv")) return ImportFormat::csv;
    if (ends(".jsonl") || ends(".ndjson") || ends(".json")) return ImportFormat::jsonl;
    auto p = first_line.find_first_not_of(" \t\xEF\xBB\xBF");
    return p != std::string_view::npos && first_line[p] == '{' ? ImportFormat::jsonl : ImportFormat::csv;
}

ImportReport import_citizens(std::istream& in, Directory& directory, const ContactCheck& check,
                             const ImportOptions& options, const std::function<void(const ImportProblem&)>& on_problem) {
    ImportReport report;
    std::optional<CsvCitizenReader> csv;
    std::string line, record;
    std::vector<std::string> fields;
    std::int64_t line_no = 0, batch_first_line = 0;
    std::size_t in_batch = 0;
    std::int64_t batch_created = 0, batch_updated = 0;
    bool open = false;

    auto close_batch = [&] {
        if (!open) return;
        if (options.dry_run) directory.rollback();
        else directory.commit();
        open = false;
        report.created += batch_created;
        report.updated += batch_updated;
        batch_created = batch_updated = 0;
        in_batch = 0;
    };
    auto reject = [&](std::int64_t at, std::string field, std::string reason) {
        ++report.rejected;
        on_problem({at, std::move(field), std::move(reason)});
    };

    try {
        while (std::getline(in, line)) {
            ++line_no;
            std::int64_t record_line = line_no;
            if (!line.empty() && line.back() == '\r') line.pop_back();
            if (line.find_first_not_of(" \t") == std::string::npos) continue;
            std::variant<Citizen, FieldError> parsed = FieldError{};
            if (options.format == ImportFormat::csv) {
                record = line;
                // A quoted field may hold line breaks: the record goes on until its quotes close,
                // within a bound, so that one stray quote does not swallow the rest of the file.
                bool closed = split_csv(record, fields);
                while (!closed && record.size() < kMaxRecordBytes && std::getline(in, line)) {
                    ++line_no;
                    if (!line.empty() && line.back() == '\r') line.pop_back();
                    record += '\n';
                    record += line;
                    closed = split_csv(record, fields);
                }
                if (!closed) {
                    if (csv) ++report.lines;
                    reject(record_line, "", "a quoted field is not closed (or the record is longer than 64 KiB)");
                    if (!csv) {
                        report.stopped = "the header is not usable";
                        report.stopped_at = record_line;
                        return report;
                    }
                    continue;
                }
                if (!csv) {
                    auto header = CsvCitizenReader::from_header(fields);
                    if (auto* e = std::get_if<FieldError>(&header)) {
                        reject(record_line, e->field, "header: " + e->reason);
                        report.stopped = "the header is not usable";
                        report.stopped_at = record_line;
                        return report;
                    }
                    csv = std::move(std::get<CsvCitizenReader>(header));
                    continue;
                }
                parsed = csv->read(fields, check);
            } else {
                parsed = citizen_from_json(line, check);
            }
            ++report.lines;
            if (auto* e = std::get_if<FieldError>(&parsed)) {
                reject(record_line, e->field, e->reason);
                continue;
            }
            const Citizen& c = std::get<Citizen>(parsed);
            if (!open) {
                directory.begin();
                open = true;
                batch_first_line = record_line;
            }
            if (directory.erased(c.id)) {
                reject(record_line, "id", "this citizen's data was erased at their request: not re-created");
                continue;
            }
            if (directory.upsert(c, options.now_ms)) ++batch_created;
            else ++batch_updated;
            if (++in_batch >= options.batch_lines) close_batch();
        }
        close_batch();
    } catch (const std::exception& e) {
        if (open) {
            try {
                directory.rollback();
            } catch (const std::exception&) {
            }
        }
        report.stopped = e.what();
        report.stopped_at = batch_first_line ? batch_first_line : line_no;
    }
    return report;
}

}  // namespace crieur::directory
