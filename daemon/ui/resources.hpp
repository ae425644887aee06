// The dashboard's own files (daemon/ui/pages, i18n, static), built into the binary by CMake
// (daemon/ui/resources.cpp.in): the daemon serves the pages its code was built with, and an
// install needs no directory of them. Third-party assets (Leaflet) are not here: they come from
// npm and are served from http.ui_assets_dir.
#pragma once

#include <string_view>
#include <utility>
#include <vector>

namespace crieur::ui {

// (path under daemon/ui/, content), e.g. ("pages/login.mustache", "...").
const std::vector<std::pair<std::string_view, std::string_view>>& resources();

}  // namespace crieur::ui
