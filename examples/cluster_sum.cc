// The smallest client of a running cluster, used by the Slurm recipe and its
// test: `cluster_sum [N] [ADDRESS]` connects to ADDRESS, or to
// $DTASK_SCHEDULER_ADDRESS (deploy/slurm/dtask-cluster.sbatch sets it), sums
// inc(i) for i < N (default 1000) as one graph, checks the answer and prints
//   cluster_sum: N=1000 sum=500500 workers=2
#include <dtask/client.h>

#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  const char* from_env = std::getenv("DTASK_SCHEDULER_ADDRESS");
  const long n = argc > 1 ? std::atol(argv[1]) : 1000;
  const std::string address = argc > 2 ? argv[2] : (from_env != nullptr ? from_env : "");
  if (address.empty() || n < 1) {
    std::fprintf(stderr, "usage: cluster_sum [N] [tcp://HOST:PORT]  (or set DTASK_SCHEDULER_ADDRESS)\n");
    return 2;
  }
  auto client = dtask::Client::connect(address);
  if (!client.ok()) {
    std::fprintf(stderr, "cluster_sum: %s\n", client.status().to_string().c_str());
    return 1;
  }
  std::vector<dtask::Delayed> parts;
  for (long i = 0; i < n; ++i) parts.push_back(dtask::delayed("inc")(static_cast<std::int64_t>(i)));
  const std::int64_t sum = (*client)->compute<std::int64_t>(dtask::delayed("sum")(parts)).result();
  auto info = (*client)->scheduler_info();
  const std::size_t workers = info.ok() ? nlohmann::json::parse(*info).value("workers", nlohmann::json::array()).size() : 0;
  std::printf("cluster_sum: N=%ld sum=%lld workers=%zu\n", n, static_cast<long long>(sum), workers);
  return sum == static_cast<std::int64_t>(n) * (n + 1) / 2 ? 0 : 1;
}
