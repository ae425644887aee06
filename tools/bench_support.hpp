// What the benchmarks read of a process and of the receipts: peak RSS, CPU time, one number from
// SQLite; and the passport message the driver benchmarks send.
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

#include "daemon/receipts/sqlite.hpp"
#include "daemon/types.hpp"

namespace crieur::bench {

// VmHWM: the process's peak resident set, in kB; -1 when it cannot be read.
inline long peak_rss_kb(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("VmHWM:", 0) == 0) return std::atol(line.c_str() + 6);
    return -1;
}

// utime + stime of a process so far, in seconds.
inline double process_cpu_seconds(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto close = stat.rfind(')');  // the command name may hold spaces
    if (close == std::string::npos) return 0;
    std::istringstream fields(stat.substr(close + 2));
    std::string f;
    long utime = 0, stime = 0;
    for (int i = 3; fields >> f; ++i) {  // field 3 is the state; utime is 14, stime 15
        if (i == 14) utime = std::atol(f.c_str());
        if (i == 15) {
            stime = std::atol(f.c_str());
            break;
        }
    }
    return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// The first column of the first row, 0 when there is none.
inline std::int64_t scalar(sqlite3* db, const std::string& sql) {
    sqlite::Stmt s(db, sql.c_str());
    return s.step() ? s.int64(0) : 0;
}

// The shipped passport_expiry SMS as rendered, with its WhatsApp template fields.
inline Message passport_message() {
    Message m;
    m.job_id = "bench-1";
    m.recipient = "+33612345678";
    m.content.channel = "sms";
    m.content.text = "Madame Martin, votre passeport expire le 14 mars 2027. Prenez rendez-vous sur https://mairie.example.fr/rdv";
    m.content.whatsapp_name = "document_expiry_v1";
    m.content.whatsapp_language = "fr";
    m.content.whatsapp_parameters = {"Madame Martin", "passeport", "14 mars 2027"};
    return m;
}

}  // namespace crieur::bench
