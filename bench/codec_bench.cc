// dtask-bench-codec: the wire codec alone, no sockets: one ComputeTaskBatch
// holding a `sum` over N inputs (each a dependency held by one of two
// workers, each named again in the arguments), encoded into a frame and
// decoded back, the way the scheduler sends it and the worker receives it.
// Prints microseconds and bytes per input: the cost a 1M-input task adds to
// the two ends of one hop, without the noise of processes and the network.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "common/message_codec.h"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

std::string input_key(std::int64_t i) { return "inc-0123456789abcdef0123456789abcdef-" + std::to_string(i); }

dtask::msg::ComputeTaskBatch wide_sum(std::int64_t inputs) {
  dtask::msg::ComputeTask sum;
  sum.key = "sum-0123456789abcdef0123456789abcdef";
  sum.op = "sum";
  sum.dependencies.reserve(static_cast<std::size_t>(inputs));
  std::vector<dtask::Value> refs;
  refs.reserve(static_cast<std::size_t>(inputs));
  for (std::int64_t i = 0; i < inputs; ++i) {
    sum.dependencies.push_back({input_key(i), {static_cast<std::uint32_t>(i % 2)}, 8});
    refs.emplace_back(dtask::TaskRef{input_key(i)});
  }
  sum.args.emplace_back(std::move(refs));
  dtask::msg::ComputeTaskBatch batch;
  batch.tasks.push_back(std::move(sum));
  batch.holders = {"tcp://127.0.0.1:40000", "tcp://127.0.0.1:40001"};
  return batch;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"The wire codec alone: a ComputeTask over N inputs encoded and decoded, microseconds per input"};
  std::int64_t inputs = 1000000;
  int rounds = 3;
  app.add_option("--inputs", inputs, "Inputs of the wide task")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--rounds", rounds, "Encode/decode rounds (the first and the fastest are printed)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);

  const dtask::Message message(wide_sum(inputs));
  // The first round gets memory new to the process, as a daemon does for a
  // task bigger than any before it; later rounds reuse what it freed.
  std::vector<double> encode(rounds);
  std::vector<double> decode(rounds);
  std::size_t frame_bytes = 0;
  for (int r = 0; r < rounds; ++r) {
    auto start = Clock::now();
    std::vector<std::byte> frame = dtask::flatten_frame(dtask::encode_frame(message));
    encode[r] = seconds_since(start);
    frame_bytes = frame.size();
    start = Clock::now();
    auto decoded = dtask::decode_frame(frame, dtask::FrameLimits{});
    decode[r] = seconds_since(start);
    if (!decoded.ok()) {
      std::fprintf(stderr, "decode failed: %s\n", decoded.status().to_string().c_str());
      return 1;
    }
    const auto& tasks = std::get<dtask::msg::ComputeTaskBatch>(*decoded).tasks;
    if (tasks.size() != 1 || tasks[0].dependencies.size() != static_cast<std::size_t>(inputs)) return 1;
  }
  const double n = static_cast<double>(inputs);
  std::printf(
      "inputs=%lld\nfirst_encode_us_per_input=%.3f\nfirst_decode_us_per_input=%.3f\nencode_us_per_input=%.3f\n"
      "decode_us_per_input=%.3f\nbytes_per_input=%.1f\n",
      static_cast<long long>(inputs), 1e6 * encode[0] / n, 1e6 * decode[0] / n,
      1e6 * *std::min_element(encode.begin(), encode.end()) / n,
      1e6 * *std::min_element(decode.begin(), decode.end()) / n, static_cast<double>(frame_bytes) / n);
  return 0;
}
