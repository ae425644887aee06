// The services API's OpenAPI 3.1 document (docs/openapi.json), served at GET /v1/openapi.json.
#pragma once

#include <string_view>

namespace crieur::http {

std::string_view openapi_json();

}  // namespace crieur::http
