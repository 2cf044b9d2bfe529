// A client built outside dtask's tree against the installed dtask::client.
//   sum_of_squares [N] [ADDRESS]     (ADDRESS defaults to $DTASK_SCHEDULER_ADDRESS)
// Sums oot::kSquare(i) for 1 <= i <= N with the plugin's op on the workers
// (its OpDef from square_ops.h, shared with the plugin), and
// the column means of an N x 3 chunked array of ones, and checks both:
//   sum_of_squares: N=100 sum=338350 mean=[1, 1, 1] ok
#include "square_ops.h"

#include <dtask/array.h>
#include <dtask/builtin_ops.h>
#include <dtask/client.h>
#include <dtask/delayed.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  const char* from_env = std::getenv("DTASK_SCHEDULER_ADDRESS");
  const std::int64_t n = argc > 1 ? std::atoll(argv[1]) : 100;
  const std::string address = argc > 2 ? argv[2] : (from_env != nullptr ? from_env : "");
  if (address.empty() || n < 1) {
    std::fprintf(stderr, "usage: sum_of_squares [N] [tcp://HOST:PORT]  (or set DTASK_SCHEDULER_ADDRESS)\n");
    return 2;
  }
  auto client = dtask::Client::connect(address);
  if (!client.ok()) {
    std::fprintf(stderr, "sum_of_squares: %s\n", client.status().to_string().c_str());
    return 1;
  }
  dtask::Client& c = **client;

  std::vector<dtask::Delayed> squares;
  for (std::int64_t i = 1; i <= n; ++i) squares.push_back(dtask::delayed(oot::kSquare)(i));
  const auto sum = c.compute<std::int64_t>(dtask::delayed(dtask::ops::kSum)(squares)).result();

  dtask::NDArray ones = dtask::NDArray::zeros(dtask::DType::kFloat64, {n, 3});
  for (std::int64_t i = 0; i < ones.size(); ++i) ones.mutable_data<double>()[i] = 1.0;
  const dtask::NDArray mean =
      dtask::Array::from_ndarray(c, ones, /*chunk_rows=*/(n + 3) / 4).mean(0).compute(c);

  const bool ok = sum == n * (n + 1) * (2 * n + 1) / 6 && mean.size() == 3 && mean.data<double>()[0] == 1.0 &&
                  mean.data<double>()[1] == 1.0 && mean.data<double>()[2] == 1.0;
  std::printf("sum_of_squares: N=%lld sum=%lld mean=[%g, %g, %g] %s\n", static_cast<long long>(n),
              static_cast<long long>(sum), mean.data<double>()[0], mean.data<double>()[1], mean.data<double>()[2],
              ok ? "ok" : "WRONG");
  return ok ? 0 : 1;
}
