// Test support: responses of crieurd recorded by an integration test, then checked against
// docs/openapi.json by validators written outside the project (tests/tools/openapi/check.mjs:
// the OpenAPI 3.1 schema, then Ajv for each response's schema). Test code only.
#pragma once

#include <doctest/doctest.h>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "support/process.hpp"

namespace crieur::test {

class OpenApiResponses {
public:
    explicit OpenApiResponses(const TempDir& dir) : dir_(dir), path_(dir / "responses.jsonl") {}

    // Records the answer to `method path_template` (the document's path, "/v1/messages/{id}"); returns it.
    const HttpResult& add(const std::string& method, const std::string& path_template, const HttpResult& r) {
        rapidjson::StringBuffer b;
        rapidjson::Writer<rapidjson::StringBuffer> w(b);
        w.StartObject();
        w.Key("method");
        w.String(method.c_str());
        w.Key("path");
        w.String(path_template.c_str());
        w.Key("status");
        w.Int(r.status);
        w.Key("body");
        w.String(r.body.c_str(), static_cast<rapidjson::SizeType>(r.body.size()));
        w.EndObject();
        std::ofstream(path_, std::ios::app) << b.GetString() << "\n";
        ++recorded_;
        return r;
    }

    // Runs the validators over the document and every response recorded; fails the test with
    // what they said when anything does not hold.
    void check() const {
        const std::string tool = CRIEUR_SOURCE_DIR "/tests/tools/openapi";
        REQUIRE_MESSAGE(std::filesystem::exists(tool + "/node_modules/@seriousme/openapi-schema-validator"),
                        "tools/setup installs the OpenAPI validators (npm ci in tests/tools/openapi)");
        Process node({"node", tool + "/check.mjs", CRIEUR_SOURCE_DIR "/docs/openapi.json", path_}, dir_ / "openapi-check.log");
        const int code = node.wait(std::chrono::seconds(60));
        const std::string said = read_file(dir_ / "openapi-check.log");
        CHECK_MESSAGE(code == 0, said);
        CHECK(said.find(std::to_string(recorded_) + " responses checked against the document, 0 problems") != std::string::npos);
    }

private:
    const TempDir& dir_;
    std::string path_;
    int recorded_ = 0;
};

}  // namespace crieur::test
