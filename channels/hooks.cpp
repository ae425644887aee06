#include "channels/hooks.hpp"

#include <cctype>

namespace crieur {

SmsKeyword sms_keyword(std::string_view body) {
    while (!body.empty() && std::isspace(static_cast<unsigned char>(body.front()))) body.remove_prefix(1);
    while (!body.empty() && (std::isspace(static_cast<unsigned char>(body.back())) || body.back() == '.' || body.back() == '!'))
        body.remove_suffix(1);
    if (body.size() > 16) return SmsKeyword::none;
    std::string word;
    for (unsigned char c : body) word += static_cast<char>(std::toupper(c));
    if (word == "ARR\xC3\x8AT" || word == "ARR\xC3\xAAT") return SmsKeyword::opt_out;  // ARRÊT, arrêt: ê is not upper-cased bytewise
    for (const char* k : {"STOP", "STOPALL", "UNSUBSCRIBE", "END", "QUIT", "REVOKE", "OPTOUT", "CANCEL", "ARRET"})
        if (word == k) return SmsKeyword::opt_out;
    for (const char* k : {"START", "UNSTOP"})
        if (word == k) return SmsKeyword::opt_in;
    return SmsKeyword::none;
}

}  // namespace crieur
