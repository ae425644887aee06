// The Mustache specification's core modules, run as they are from ../shared/conformance when the
// folder is there (reported skipped when it is not).
#include <doctest/doctest.h>

#include <rapidjson/document.h>
#include <rapidjson/istreamwrapper.h>

#include <filesystem>
#include <fstream>

#include "daemon/render/mustache.hpp"

using namespace crieur::render;

namespace {

const std::filesystem::path kSpecDir = std::filesystem::path(CRIEUR_SOURCE_DIR) / "../shared/conformance/mustache-spec";

void run_module(const char* module) {
    const auto file = kSpecDir / (std::string(module) + ".json");
    if (!std::filesystem::exists(file)) {
        MESSAGE("skipped: " << file << " is not there");
        return;
    }
    std::ifstream in(file);
    rapidjson::IStreamWrapper wrapper(in);
    rapidjson::Document spec;
    spec.ParseStream(wrapper);
    REQUIRE_FALSE(spec.HasParseError());
    int cases = 0;
    for (auto& test : spec["tests"].GetArray()) {
        const std::string name = test["name"].GetString();
        CAPTURE(name);
        PartialSet partials;
        if (test.HasMember("partials"))
            for (auto& p : test["partials"].GetObject()) partials.add(p.name.GetString(), p.value.GetString());
        auto compiled = compile(test["template"].GetString());
        if (auto* e = std::get_if<SyntaxError>(&compiled)) FAIL_CHECK("syntax error: " << e->message);
        else CHECK(render(std::get<Template>(compiled), test["data"], Escape::html, &partials) == test["expected"].GetString());
        ++cases;
    }
    MESSAGE(std::string(module) << ": " << cases << " cases");
    CHECK(cases > 0);
}

}  // namespace

TEST_CASE("Mustache spec: interpolation") { run_module("interpolation"); }
TEST_CASE("Mustache spec: sections") { run_module("sections"); }
TEST_CASE("Mustache spec: inverted sections") { run_module("inverted"); }
TEST_CASE("Mustache spec: comments") { run_module("comments"); }
TEST_CASE("Mustache spec: partials") { run_module("partials"); }
TEST_CASE("Mustache spec: set delimiters") { run_module("delimiters"); }
