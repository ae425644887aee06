// Importer: citizens from a CSV file (with a header) or JSON lines, upserted by external id,
// streamed line by line (memory does not grow with the file). Every line is applied whole or
// rejected with its line number, field and reason; rejected lines do not stop the import.
// Writes go in one transaction per batch of lines (default 10,000): a failure of the database
// rolls back the current batch and stops, naming the first line not imported; the batches before
// it stay (an import is an upsert, so running the same file again is safe). A dry run does all the
// work in transactions that are rolled back: the counts are exact and nothing is written.
#pragma once

#include <cstdint>
#include <functional>
#include <istream>
#include <string>

#include "daemon/directory/contact_check.hpp"
#include "daemon/directory/directory.hpp"

namespace crieur::directory {

enum class ImportFormat { csv, jsonl };

struct ImportOptions {
    ImportFormat format = ImportFormat::csv;
    bool dry_run = false;
    std::size_t batch_lines = 10'000;
    std::int64_t now_ms = 0;
};

struct ImportProblem {
    std::int64_t line = 0;
    std::string field;  // the column or JSON field; empty for the whole line
    std::string reason;
};

struct ImportReport {
    std::int64_t lines = 0;  // records read (the header not counted)
    std::int64_t created = 0, updated = 0, rejected = 0;
    std::string stopped;            // why the import stopped early (the database); empty when it went through
    std::int64_t stopped_at = 0;    // the first line not imported when it stopped
};

ImportReport import_citizens(std::istream& in, Directory& directory, const ContactCheck& check,
                             const ImportOptions& options, const std::function<void(const ImportProblem&)>& on_problem);

// By the file name (.csv, .jsonl, .ndjson, .json), else by the first character ('{': JSON lines).
ImportFormat guess_format(const std::string& path, std::string_view first_line);

}  // namespace crieur::directory
