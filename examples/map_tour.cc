// Many tasks at once, run by CI: Client::map submits a list of calls in one
// message (as Dask's client.map), compute<T> of several graphs returns typed
// futures, as_completed takes results as they finish, and every wait has a
// deadline (as Dask's timeout=). Exits non-zero if anything is off.
#include <dtask/client.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#define EXPECT(cond)                                                                \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "map_tour: %s failed at line %d\n", #cond, __LINE__);    \
      std::exit(1);                                                                 \
    }                                                                               \
  } while (false)

int main() {
  using std::chrono::seconds;
  dtask::ClientOptions options;
  options.result_timeout = std::chrono::minutes(10);  // what result() and gather() wait at most by default
  options.request_timeout = seconds(60);              // each fetch from a worker, each scatter
  dtask::Client client(dtask::LocalClusterOptions{.n_workers = 2, .threads_per_worker = 2}, options);

  // map: inc(x) for each x, 10,000 tasks in one message.
  std::vector<std::int64_t> xs;
  for (std::int64_t i = 0; i < 10000; ++i) xs.push_back(i);
  std::vector<dtask::Future<std::int64_t>> plus_one = client.map<std::int64_t>("inc", xs);

  // Several lists zip: add(plus_one[i], 100) for each i; futures are arguments like values.
  std::vector<std::int64_t> hundreds(xs.size(), 100);
  std::vector<dtask::Future<std::int64_t>> sums = client.map<std::int64_t>("add", plus_one, hundreds);

  // gather with a deadline: TaskError (TimedOut, naming a key) if not done in time.
  std::vector<std::int64_t> values = client.gather(sums, seconds(120));
  EXPECT(values.size() == xs.size() && values.front() == 101 && values.back() == 10100);

  // as_completed: each future once, in the order they finish.
  std::int64_t total = 0;
  std::size_t taken = 0;
  for (const auto& f : dtask::as_completed(client, sums)) {
    total += f.result(seconds(60));
    ++taken;
  }
  EXPECT(taken == sums.size() && total == 10000 * 101 + 9999 * 10000 / 2);

  // compute<T> of several graphs: one typed future each, shared tasks run once.
  dtask::Delayed base = dtask::delayed("inc")(41);
  std::vector<dtask::Future<std::int64_t>> outputs =
      client.compute<std::int64_t>(std::vector<dtask::Delayed>{base, dtask::delayed("add")(base, 8)});
  EXPECT(outputs[0].result(seconds(60)) == 42 && outputs[1].result(seconds(60)) == 50);

  // scatter with a deadline, then map over the scattered data.
  auto scattered = client.scatter({dtask::Value(1), dtask::Value(2), dtask::Value(3)}, seconds(30));
  EXPECT(scattered.ok());
  std::vector<dtask::Future<std::int64_t>> doubled = client.map<std::int64_t>("add", *scattered, *scattered);
  EXPECT(client.gather(doubled, seconds(60)) == (std::vector<std::int64_t>{2, 4, 6}));

  // A task that cannot finish in time: result(timeout) gives up the wait with TimedOut.
  auto slow = client.submit("sleep", 2.0);
  auto late = slow.try_result(std::chrono::milliseconds(200));
  EXPECT(!late.ok() && late.status().code() == dtask::StatusCode::kTimedOut);
  EXPECT(late.status().message().find(slow.key()) != std::string::npos);
  client.cancel(slow);

  std::printf("map_tour: %zu tasks mapped, gathered and taken as completed\n", xs.size() * 2);
  return 0;
}
