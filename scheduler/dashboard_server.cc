#include "scheduler/dashboard_server.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include "scheduler/dashboard_json.h"
#include "scheduler/scheduler_metrics.h"
#include "scheduler/web_assets.h"

namespace dtask::scheduler {

namespace {

// A page of /api/tasks is bounded whatever the query asks for.
constexpr std::size_t kMaxTasksPerPage = 1000;
constexpr std::size_t kDefaultTasksPerPage = 100;
// How long /api/task/<key> waits for the strand before answering 503.
constexpr auto kLookupDeadline = std::chrono::seconds(2);

HttpResponse json_response(std::string body) { return {200, "application/json", std::move(body)}; }

HttpResponse error_response(int status, const std::string& message) {
  return {status, "application/json", error_json(message)};
}

std::size_t size_param(const HttpRequest& request, const std::string& name, std::size_t fallback) {
  std::string text = request.param(name);
  if (text.empty()) return fallback;
  char* end = nullptr;
  unsigned long long value = std::strtoull(text.c_str(), &end, 10);
  return end != nullptr && *end == '\0' ? static_cast<std::size_t>(value) : fallback;
}

}  // namespace

Result<std::unique_ptr<DashboardServer>> DashboardServer::make(const std::string& address,
                                                               const SnapshotSlot<DashboardSnapshot>& snapshots,
                                                               DashboardActions actions,
                                                               std::shared_ptr<spdlog::logger> logger) {
  DTASK_ASSIGN_OR_RETURN(auto http, HttpServer::make(address, std::move(logger)));
  std::unique_ptr<DashboardServer> server(new DashboardServer(std::move(http), snapshots, std::move(actions)));
  server->add_routes();
  return server;
}

DashboardServer::DashboardServer(std::unique_ptr<HttpServer> http, const SnapshotSlot<DashboardSnapshot>& snapshots,
                                 DashboardActions actions)
    : http_(std::move(http)), snapshots_(snapshots), actions_(std::move(actions)) {}

HttpResponse DashboardServer::with_snapshot(
    const std::function<HttpResponse(const DashboardSnapshot&)>& render) const {
  std::shared_ptr<const DashboardSnapshot> snapshot = snapshots_.get();
  if (!snapshot) return error_response(503, "the scheduler has not published a snapshot yet");
  return render(*snapshot);
}

void DashboardServer::add_routes() {
  auto page = [](const char* html) {
    return [html](const HttpRequest&) { return HttpResponse{200, "text/html; charset=utf-8", html}; };
  };
  http_->get("/", page(status_page_html()));
  http_->get("/status", page(status_page_html()));
  http_->get("/graph", page(graph_page_html()));
  http_->get("/health", [](const HttpRequest&) { return HttpResponse{200, "text/plain", "ok\n"}; });
  http_->get("/api/status", [this](const HttpRequest&) {
    return with_snapshot([](const DashboardSnapshot& s) { return json_response(status_json(s)); });
  });
  http_->get("/api/workers", [this](const HttpRequest&) {
    return with_snapshot([](const DashboardSnapshot& s) { return json_response(workers_json(s)); });
  });
  http_->get("/api/stream", [this](const HttpRequest& request) {
    double seconds = std::atof(request.param("seconds", "10").c_str());
    return with_snapshot([seconds](const DashboardSnapshot& s) {
      return json_response(stream_json(s, seconds > 0 ? seconds : 10));
    });
  });
  http_->get("/api/tasks", [this](const HttpRequest& request) {
    std::string state = request.param("state");
    std::size_t offset = size_param(request, "offset", 0);
    std::size_t limit = std::min(size_param(request, "limit", kDefaultTasksPerPage), kMaxTasksPerPage);
    return with_snapshot([&](const DashboardSnapshot& s) {
      Result<std::string> body = tasks_json(s, state, offset, limit);
      return body.ok() ? json_response(std::move(*body)) : error_response(400, body.status().message());
    });
  });
  http_->get("/api/graph", [this](const HttpRequest&) {
    return with_snapshot([](const DashboardSnapshot& s) { return json_response(graph_json(s)); });
  });
  http_->get("/api/task/(.+)", [this](const HttpRequest& request) {
    std::future<std::optional<std::string>> answer = actions_.lookup(request.matches.at(1));
    if (answer.wait_for(kLookupDeadline) != std::future_status::ready) {
      return error_response(503, "the scheduler did not answer in time");
    }
    std::optional<std::string> json = answer.get();
    return json ? json_response(std::move(*json)) : error_response(404, "no such task");
  });
  http_->get("/metrics", [this](const HttpRequest&) {
    return with_snapshot([](const DashboardSnapshot& s) {
      return HttpResponse{200, "text/plain; version=0.0.4; charset=utf-8", scheduler_metrics_text(s)};
    });
  });
  add_scaling_routes();
}

void DashboardServer::add_scaling_routes() {
  // Dask's /api/v1 names, for dtask-adapt and any autoscaler: how many
  // workers the load wants (threads_per_worker: the size of the workers a
  // pool would add; default the connected workers' mean), and retiring.
  http_->get("/api/v1/adaptive_target", [this](const HttpRequest& request) {
    const auto threads_per_worker = static_cast<std::uint32_t>(size_param(request, "threads_per_worker", 0));
    return with_snapshot([threads_per_worker](const DashboardSnapshot& s) {
      AdaptiveTarget target = adaptive_target(s.adaptive_load, s.adaptive_config, threads_per_worker);
      return json_response(adaptive_target_json(target, s.adaptive_load));
    });
  });
  http_->post("/api/v1/retire_workers", [this](const HttpRequest& request) {
    Result<RetireRequest> parsed = parse_retire_request(request.body);
    if (!parsed.ok()) return error_response(400, parsed.status().message());
    auto answer = actions_.retire(parsed->workers, parsed->n);
    const auto deadline = std::chrono::steady_clock::now() + actions_.retire_deadline;
    while (answer.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready) {
      if (stopping_) return error_response(503, "the scheduler is stopping");
      if (std::chrono::steady_clock::now() >= deadline) return error_response(503, "the workers did not retire in time");
    }
    Result<std::vector<std::string>> retired = answer.get();
    return retired.ok() ? json_response(retired_json(*retired)) : error_response(400, retired.status().message());
  });
}

}  // namespace dtask::scheduler
