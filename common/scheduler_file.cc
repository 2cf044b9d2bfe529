#include "common/scheduler_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

namespace dtask {

namespace {

constexpr auto kPollInterval = std::chrono::milliseconds(100);

Result<std::string> address_in(const std::string& path, const std::string& text) {
  nlohmann::json parsed = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object()) return Status::invalid(path + " is not a JSON object");
  auto address = parsed.find("address");
  if (address == parsed.end() || !address->is_string() || address->get<std::string>().empty()) {
    return Status::invalid(path + " has no \"address\" string");
  }
  return address->get<std::string>();
}

}  // namespace

Status write_scheduler_file(const std::string& path, const std::string& address, const std::string& dashboard) {
  const nlohmann::json content = {
      {"type", "Scheduler"}, {"address", address}, {"dashboard", dashboard}, {"pid", static_cast<long>(::getpid())}};
  const std::string temporary = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << content.dump(2) << "\n";
    out.close();
    if (!out) return Status::io_error("cannot write scheduler file " + temporary + ": " + std::strerror(errno));
  }
  std::error_code ec;
  std::filesystem::rename(temporary, path, ec);
  if (ec) {
    std::filesystem::remove(temporary, ec);
    return Status::io_error("cannot write scheduler file " + path + ": " + ec.message());
  }
  return Status::success();
}

Result<std::string> read_scheduler_file(const std::string& path, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    std::ifstream in(path);
    if (in) {
      std::stringstream text;
      text << in.rdbuf();
      return address_in(path, text.str());  // written by rename: complete once it exists
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status::io_error("scheduler file " + path + " did not appear within " + std::to_string(timeout.count()) +
                              " ms");
    }
    std::this_thread::sleep_for(kPollInterval);
  }
}

}  // namespace dtask
