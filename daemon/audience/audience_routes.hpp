// The audiences' HTTP API: POST /v1/audiences/preview (scope send), the dry run of an audience
// with a template (daemon/audience/preview.hpp). It runs on a directory connection and worker of
// its own, so that a preview of a million citizens never delays the lookups of messages being sent.
#pragma once

#include "daemon/audience/preview.hpp"
#include "daemon/config.hpp"
#include "daemon/directory/directory_service.hpp"
#include "daemon/http/routes.hpp"
#include "daemon/http/send_routes.hpp"

namespace crieur::audience {

void add_audience_routes(http::Routes& routes, const Config& config, directory::DirectoryService& reader,
                         http::CurrentTemplates templates, Carried carried);

}  // namespace crieur::audience
