#include "daemon/audience/audience_routes.hpp"

#include <chrono>

#include "daemon/log.hpp"
#include "daemon/render/template_store.hpp"

namespace crieur::audience {

void add_audience_routes(http::Routes& routes, const Config& config, directory::DirectoryService& reader,
                         http::CurrentTemplates templates, Carried carried) {
    routes.add("POST", "/v1/audiences/preview",
               [&reader, policy = policy_of(config.router), templates, carried](const http::Request& req, std::string_view,
                                                                                http::Reply reply) {
                   auto parsed = preview_request(req.body, *templates(), req.caller.service);
                   if (auto* e = std::get_if<AudienceError>(&parsed))
                       return reply(http::problem(422, "bad_audience", (e->part.empty() ? "" : e->part + ": ") + e->reason, e->part));
                   auto request = std::make_shared<PreviewRequest>(std::move(std::get<PreviewRequest>(parsed)));
                   using Answer = std::variant<Preview, AudienceError>;
                   const auto started = std::chrono::steady_clock::now();
                   reader.run<Answer>(
                       [request, policy, carried](directory::Directory& dir) { return preview(dir, *request, policy, carried); },
                       [request, reply, started](std::optional<Answer> answer) {
                           if (!answer) return reply(http::status_problem(503, "the directory could not be read; try again"));
                           if (auto* e = std::get_if<AudienceError>(&*answer))
                               return reply(http::problem(422, "bad_audience", "audience." + e->part + ": " + e->reason,
                                                          "audience." + e->part));
                           const auto& p = std::get<Preview>(*answer);
                           spdlog::info("audience: preview of {} citizens with template {} in {} ms", p.citizens,
                                        request->template_name,
                                        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count());
                           reply({200, "application/json", p.to_json(*request), {}});
                       },
                       true);
               },
               keys::Scope::send);
}

}  // namespace crieur::audience
