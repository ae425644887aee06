// A rendered message as the JSON a preview shows (`crieur template preview --json`, the API's
// `?preview=1`): its text per channel, and for an SMS what it costs.
#pragma once

#include <string>
#include <string_view>

#include "daemon/render/rendered.hpp"

namespace crieur::render {

std::string preview_json(const Rendered& r);

}  // namespace crieur::render
