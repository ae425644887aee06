// Street names compared the French way: an agent types "av. Jean-Jaurès", the register says
// "Avenue Jean Jaurès", the import said "AVENUE JEAN JAURES": one street. The key is lower-case,
// without accents (NFD, combining marks dropped), words split on anything not a letter or digit,
// the usual abbreviations spelt out (av → avenue, bd → boulevard, st → saint, r → rue, ...), and
// the small words (de, la, du, l', d', ...) left out. The directory stores each citizen's key
// beside the street as written, and an audience's `street` is looked up by it.
#pragma once

#include <string>
#include <string_view>

namespace crieur::directory {

std::string street_key(std::string_view street);

}  // namespace crieur::directory
