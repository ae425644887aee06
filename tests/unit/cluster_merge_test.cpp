// Several daemons' lists and counts merged into one answer (daemon/cluster/merge.hpp).
#include <doctest/doctest.h>

#include <rapidjson/document.h>

#include "daemon/cluster/merge.hpp"
#include "daemon/cluster/peers.hpp"

using namespace crieur;
using namespace crieur::cluster;

namespace {
std::string message(const std::string& id, const std::string& created, std::int64_t row) {
    return R"({"id":")" + id + R"(","service":"etat-civil","created_at":")" + created + R"(","cursor":"m)" +
           std::to_string(row) + R"("})";
}
std::string page(const std::vector<std::string>& messages, const char* next) {
    std::string out = R"({"messages":[)";
    for (std::size_t i = 0; i < messages.size(); ++i) out += (i ? "," : "") + messages[i];
    return out + R"(],"next_cursor":)" + (next ? "\"" + std::string(next) + "\"" : "null") + "}";
}
std::vector<std::string> ids(const rapidjson::Document& d) {
    std::vector<std::string> out;
    for (auto& m : d["messages"].GetArray()) {
        CHECK_FALSE(m.HasMember("cursor"));  // each daemon's own cursor is not shown
        out.emplace_back(m["id"].GetString());
    }
    return out;
}
}  // namespace

TEST_CASE("merged list: newest first over the daemons, each daemon's part a prefix, the cursor resumes each where it stopped") {
    const std::vector<DaemonPage> pages{
        {"a", page({message("a3", "2026-12-03T10:00:05.000Z", 30), message("a2", "2026-12-03T10:00:02.000Z", 20),
                    message("a1", "2026-12-03T10:00:01.000Z", 10)}, "m10")},
        {"b", page({message("b2", "2026-12-03T10:00:04.000Z", 7), message("b1", "2026-12-03T10:00:03.000Z", 6)}, nullptr)}};
    rapidjson::Document d;
    d.Parse(merge_pages(pages, 3, {{"a", ""}, {"b", ""}}, {}).c_str());
    REQUIRE(d.IsObject());
    CHECK(ids(d) == std::vector<std::string>{"a3", "b2", "b1"});
    auto next = parse_cursor(d["next_cursor"].GetString());
    REQUIRE(next);
    CHECK(*next == Positions{{"a", "m30"}, {"b", "-"}});  // b gave all it had and said it had no more
    CHECK_FALSE(d.HasMember("unavailable"));
    // The last page: everything given, nothing more anywhere.
    d.Parse(merge_pages({{"a", page({message("a2", "2026-12-03T10:00:02.000Z", 20)}, nullptr)}}, 3, *next, {}).c_str());
    CHECK(ids(d) == std::vector<std::string>{"a2"});
    CHECK(d["next_cursor"].IsNull());
}

TEST_CASE("merged list: a daemon that did not answer keeps its place and is named, so nothing of it is skipped") {
    const Positions asked{{"a", "m40"}, {"b", "m9"}};
    rapidjson::Document d;
    d.Parse(merge_pages({{"a", page({message("a3", "2026-12-03T10:00:05.000Z", 30)}, nullptr)}}, 10, asked, {"b"}).c_str());
    CHECK(ids(d) == std::vector<std::string>{"a3"});
    auto next = parse_cursor(d["next_cursor"].GetString());
    REQUIRE(next);
    CHECK(*next == Positions{{"a", "-"}, {"b", "m9"}});
    REQUIRE(d["unavailable"].IsArray());
    CHECK(std::string(d["unavailable"][0].GetString()) == "b");
}

TEST_CASE("cluster cursors: what format_cursor gave reads back, anything else is refused") {
    const Positions p{{"mairie-1-4242", "m123"}, {"mairie-2-77", ""}, {"mairie-3-9", "-"}};
    CHECK(parse_cursor(format_cursor(p)) == p);
    CHECK_FALSE(parse_cursor("m123"));
    CHECK_FALSE(parse_cursor("c"));
    CHECK_FALSE(parse_cursor("c!!!"));
    CHECK_FALSE(parse_cursor(format_cursor({{"a", "x1"}})));
    CHECK_FALSE(parse_cursor(format_cursor({{"a", "m12a"}})));
    CHECK_FALSE(parse_cursor(format_cursor({{"a", "m99999999999999999999"}})));
    CHECK_FALSE(parse_cursor(format_cursor({{"a", "m0"}})));
}

TEST_CASE("merged counts: summed by key over the daemons, the missing ones named") {
    const std::string a = R"({"since":null,"by":"status","counts":{"delivered":3,"failed":1}})";
    const std::string b = R"({"since":null,"by":"status","counts":{"delivered":2,"queued":5}})";
    rapidjson::Document d;
    d.Parse(merge_stats({a, b}, {"c"}).c_str());
    REQUIRE(d.IsObject());
    CHECK(std::string(d["by"].GetString()) == "status");
    CHECK(d["counts"]["delivered"].GetInt64() == 5);
    CHECK(d["counts"]["failed"].GetInt64() == 1);
    CHECK(d["counts"]["queued"].GetInt64() == 5);
    CHECK(std::string(d["unavailable"][0].GetString()) == "c");
}

TEST_CASE("the registry: fresh peers other than this daemon, with a URL, stale, malformed and own entries left out") {
    const std::vector<std::pair<std::string, std::string>> fields{
        {"self", "1000000 http://127.0.0.1:8080"},      {"b", "1000000 http://10.0.0.6:8080/"},
        {"stale", "900000 http://10.0.0.7:8080"},       {"junk", "soon http://10.0.0.8:8080"},
        {"nourl", "1000000 gopher://10.0.0.9"}};
    CHECK(parse_registry(fields, "self", 985'000) == std::vector<Peer>{{"b", "http://10.0.0.6:8080"}});
}
