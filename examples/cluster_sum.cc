// The smallest client of a running cluster, used by the Slurm recipe and the
// deploy tests: `cluster_sum [N] [ADDRESS]` connects to ADDRESS, or to
// $DTASK_SCHEDULER_ADDRESS (deploy/slurm/dtask-cluster.sbatch sets it), and
//  - sums inc(i) for i < N (default 1000) as one graph (a fan-out),
//  - scatters the float64 array 0, 1, ..., N-1 to the workers in 8 chunks
//    and sums it (a tree reduction: partial sums move between workers),
// checks both answers, and prints what the scheduler saw:
//   cluster_sum: N=1000 sum=500500 workers=2
//   cluster_sum: array of 1000 in 8 chunks sum=499500
//   cluster_sum: worker w1 tls://10.0.0.2:40713 tasks_done=509
//   cluster_sum: transfer_bytes=5840
//
// TLS and the token come from the environment, as the daemons' options do:
//   DTASK_CLIENT_TLS_CERT, DTASK_CLIENT_TLS_KEY  this client's certificate and key
//   DTASK_CLIENT_TLS_CA                          the CA that signed the cluster's
//   DTASK_CLIENT_AUTH_TOKEN_FILE                 the cluster's shared token
// (any of the TLS ones turns TLS on; then ADDRESS is tls://HOST:PORT).
#include <dtask/array.h>
#include <dtask/client.h>

#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace {

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

}  // namespace

int main(int argc, char** argv) {
  const long n = argc > 1 ? std::atol(argv[1]) : 1000;
  const std::string address = argc > 2 ? argv[2] : env("DTASK_SCHEDULER_ADDRESS");
  if (address.empty() || n < 1) {
    std::fprintf(stderr, "usage: cluster_sum [N] [tcp://HOST:PORT]  (or set DTASK_SCHEDULER_ADDRESS)\n");
    return 2;
  }
  dtask::ClientOptions options;
  options.tls = {env("DTASK_CLIENT_TLS_CERT"), env("DTASK_CLIENT_TLS_KEY"), env("DTASK_CLIENT_TLS_CA")};
  if (const std::string token_file = env("DTASK_CLIENT_AUTH_TOKEN_FILE"); !token_file.empty()) {
    auto token = dtask::read_auth_token_file(token_file);
    if (!token.ok()) {
      std::fprintf(stderr, "cluster_sum: DTASK_CLIENT_AUTH_TOKEN_FILE: %s\n", token.status().to_string().c_str());
      return 2;
    }
    options.auth_token = *token;
  }
  auto client = dtask::Client::connect(address, options);
  if (!client.ok()) {
    std::fprintf(stderr, "cluster_sum: %s\n", client.status().to_string().c_str());
    return 1;
  }

  std::vector<dtask::Delayed> parts;
  for (long i = 0; i < n; ++i) parts.push_back(dtask::delayed("inc")(static_cast<std::int64_t>(i)));
  const std::int64_t sum = (*client)->compute<std::int64_t>(dtask::delayed("sum")(parts)).result();
  auto info = (*client)->scheduler_info();
  const nlohmann::json workers = info.ok() ? nlohmann::json::parse(*info).value("workers", nlohmann::json::array())
                                           : nlohmann::json::array();
  std::printf("cluster_sum: N=%ld sum=%lld workers=%zu\n", n, static_cast<long long>(sum), workers.size());

  // Scattered round robin, so the chunks' partial sums are on different
  // workers and the reduction has to move some of them.
  std::vector<double> values(static_cast<std::size_t>(n));
  for (long i = 0; i < n; ++i) values[static_cast<std::size_t>(i)] = static_cast<double>(i);
  const dtask::Array array =
      dtask::Array::from_ndarray(**client, dtask::NDArray::from_vector(values), (n + 7) / 8);
  const double array_sum = array.sum().compute(**client).data<double>()[0];
  std::printf("cluster_sum: array of %ld in %lld chunks sum=%.0f\n", n, static_cast<long long>(array.n_chunks()),
              array_sum);

  info = (*client)->scheduler_info();
  if (info.ok()) {
    const nlohmann::json state = nlohmann::json::parse(*info);
    for (const auto& worker : state.value("workers", nlohmann::json::array())) {
      std::printf("cluster_sum: worker %s %s tasks_done=%lld\n", worker.value("name", "").c_str(),
                  worker.value("address", "").c_str(), worker.value("tasks_done", 0LL));
    }
    std::printf("cluster_sum: transfer_bytes=%llu\n", state.value("transfer_bytes", 0ULL));
  }
  const bool right = sum == static_cast<std::int64_t>(n) * (n + 1) / 2 &&
                     array_sum == static_cast<double>(n) * static_cast<double>(n - 1) / 2;
  return right ? 0 : 1;
}
