// Test support: provider instances built in code (a Config without a file), as [[providers]]
// entries would give them. Test code only.
#pragma once

#include <memory>
#include <string>

#include "channels/provider.hpp"

namespace crieur::test {

template <class Settings>
ProviderConfig instance(std::string type, std::string name, int weight = 1, Settings settings = {}) {
    ProviderConfig p;
    p.type = std::move(type);
    p.name = std::move(name);
    p.weight = weight;
    p.settings = std::make_shared<SettingsOf<Settings>>(std::move(settings));
    return p;
}

}  // namespace crieur::test
