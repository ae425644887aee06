#include "daemon/private_file.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace crieur {

void write_private_file(const std::string& path, std::string_view text) {
    const auto dir = std::filesystem::path(path).parent_path();
    if (!dir.empty()) std::filesystem::create_directories(dir);
    const std::string temporary = path + ".new";
    const mode_t old_mask = ::umask(077);
    std::FILE* f = std::fopen(temporary.c_str(), "w");
    ::umask(old_mask);
    if (!f) throw std::runtime_error(temporary + ": cannot be written");
    struct stat before {};
    if (::stat(path.c_str(), &before) == 0 && ::geteuid() == 0 && ::fchown(fileno(f), before.st_uid, before.st_gid) != 0) {
        std::fclose(f);
        std::remove(temporary.c_str());
        throw std::runtime_error(temporary + ": cannot be given the owner of " + path);
    }
    const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size() && std::fflush(f) == 0 &&
                    ::fsync(fileno(f)) == 0;
    std::fclose(f);
    if (!ok || std::rename(temporary.c_str(), path.c_str()) != 0) {
        std::remove(temporary.c_str());
        throw std::runtime_error(path + ": cannot be written");
    }
}

std::string read_private_lines(const std::string& path, const std::function<std::string(std::string_view)>& line) {
    std::ifstream in(path);
    if (!in) return std::filesystem::exists(path) ? path + ": cannot be read" : std::string();
    std::string text;
    int n = 0;
    while (std::getline(in, text)) {
        ++n;
        if (text.empty() || text.front() == '#') continue;
        if (auto why = line(text); !why.empty()) return path + ":" + std::to_string(n) + ": " + why;
    }
    return {};
}

}  // namespace crieur
