// A tour of the client API, run by CI: every public call in dtask/client.h
// once, on a LocalCluster of two workers. Exits non-zero if anything is off.
#include <dtask/client.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#define EXPECT(cond)                                                       \
  do {                                                                     \
    if (!(cond)) {                                                         \
      std::fprintf(stderr, "client_tour: %s failed at line %d\n", #cond, __LINE__); \
      std::exit(1);                                                        \
    }                                                                      \
  } while (false)

int main() {
  dtask::Client client(dtask::LocalClusterOptions{.n_workers = 2, .threads_per_worker = 2});
  std::printf("scheduler at %s\n", client.scheduler_address().c_str());

  // submit + result: a typed future.
  auto three = client.submit<std::int64_t>("add", 1, 2);
  EXPECT(three.result() == 3);

  // Futures as arguments: the dependency runs first, wherever its data is.
  auto four = client.submit<std::int64_t>("inc", three);
  EXPECT(four.result() == 4);

  // gather: many futures, one request per worker.
  std::vector<dtask::Future<std::int64_t>> squares;
  for (int i = 0; i < 10; ++i) squares.push_back(client.submit<std::int64_t>("add", i, i));
  auto values = client.gather(squares);
  EXPECT(values.size() == 10 && values[9] == 18);

  // delayed: a lazy graph, submitted in one message by compute().
  std::vector<dtask::Delayed> parts;
  for (int i = 0; i < 100; ++i) parts.push_back(dtask::delayed("inc")(i));
  auto total = client.compute<std::int64_t>(dtask::delayed("sum")(parts));
  EXPECT(total.result() == 5050);

  // map: one call per position of the lists, in one message; typed futures.
  auto incremented = client.map<std::int64_t>("inc", std::vector<int>{1, 2, 3});
  EXPECT(client.gather(incremented, std::chrono::seconds(60)) == (std::vector<std::int64_t>{2, 3, 4}));
  // compute<T> of several graphs: one typed future per graph.
  auto graphs = client.compute<std::int64_t>(std::vector<dtask::Delayed>{dtask::delayed("inc")(1), dtask::delayed("inc")(2)});
  EXPECT(graphs[1].result(std::chrono::seconds(60)) == 3);
  // wait_any: the index of one that is done (each call scans them all).
  EXPECT(client.wait_any({graphs.begin(), graphs.end()}, std::chrono::seconds(60)).ok());

  // persist: results stay on the workers, held by the future.
  auto kept = client.persist<double>(dtask::delayed("array_sum")(dtask::delayed("arange")(1000)));
  EXPECT(kept.result() == 499500.0);

  // scatter: local data onto a worker, then used by tasks.
  auto data = client.scatter(dtask::Value(dtask::NDArray::from_vector<double>({1, 2, 3})));
  EXPECT(client.submit<double>("array_sum", data).result() == 6.0);

  // wait and as_completed.
  std::vector<dtask::Future<std::int64_t>> batch;
  for (int i = 0; i < 5; ++i) batch.push_back(client.submit<std::int64_t>("inc", i));
  EXPECT(client.wait({batch.begin(), batch.end()}).ok());
  int seen = 0;
  for (const auto& f : dtask::as_completed(client, batch)) {
    EXPECT(f.done());
    ++seen;
  }
  EXPECT(seen == 5);

  // Errors carry op, key and message.
  auto bad = client.submit("fail", "boom");
  auto outcome = bad.try_result();
  EXPECT(!outcome.ok() && outcome.status().message().find("boom") != std::string::npos);

  // cancel: a long task's future finishes as cancelled.
  auto slow = client.submit("sleep", 1.0);
  client.cancel(slow);
  EXPECT(slow.wait().code() == dtask::StatusCode::kCancelled);

  // Priorities and restrictions through SubmitOptions.
  auto pinned = client.submit<std::int64_t>(dtask::SubmitOptions{.priority = 10, .workers = {"local-1"}}, "add", 2, 2);
  EXPECT(pinned.result() == 4);
  // A loose restriction: "absent" is not connected, so any worker may run it
  // (a strict one would wait, no-worker, until a worker of that name joins).
  auto preferred = client.submit<std::int64_t>(
      dtask::SubmitOptions{.workers = {"absent"}, .allow_other_workers = true}, "add", 3, 3);
  EXPECT(preferred.result() == 6);

  auto info = client.scheduler_info();
  EXPECT(info.ok() && info->find("\"workers\"") != std::string::npos);

  // retire_workers: local-1 leaves gracefully; what only it held is copied
  // to local-0 first, so the result stays available without recomputation.
  auto held = client.submit<std::int64_t>(dtask::SubmitOptions{.workers = {"local-1"}}, "add", 40, 2);
  EXPECT(held.result() == 42);
  auto retired = client.retire_workers({"local-1"});
  EXPECT(retired.ok() && *retired == std::vector<std::string>{"local-1"});
  EXPECT(held.result() == 42);

  // A second client on the same scheduler, with ClientOptions. Against a
  // scheduler started with --journal, reconnect_timeout is how long it keeps
  // reconnecting (and its futures pending) after the scheduler dies; this
  // in-process scheduler keeps no journal, so losing it would fail them at once.
  dtask::ClientOptions options;
  options.name = "second";
  options.reconnect_timeout = std::chrono::seconds(60);
  dtask::Client second(client.scheduler_address(), options);
  EXPECT(second.submit<std::int64_t>("add", held, 1).result() == 43);
  std::printf("client_tour: all calls behaved\n");
  return 0;
}
