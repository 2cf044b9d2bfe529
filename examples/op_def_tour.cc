// Ops with one typed definition, run by CI: the example plugin's OpDefs
// (plugin/example_ops.h) registered on an in-process LocalCluster's workers
// and submitted by the same definitions, and the workers' built-in ops
// (dtask/builtin_ops.h). A worker started with `--plugin
// libdtask_example_ops.so` registers the same definitions from
// plugin/example_ops.cc. Exits non-zero if anything is off.
//
// Each call below is checked against its OpDef when this file compiles:
//   client.submit(example::kHypot, 3.0)        // does not compile: 1 argument for 2 parameters
//   client.submit(example::kSquare, "twelve")  // does not compile: a string for an int64
//   registry.add(example::kSquare, [](double x) { return x * x; })  // does not compile: double, not int64
#include <dtask/array.h>
#include <dtask/builtin_ops.h>
#include <dtask/client.h>
#include <dtask/collective.h>
#include <dtask/ops.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "plugin/example_ops.h"

#define EXPECT(cond)                                                                \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "op_def_tour: %s failed at line %d\n", #cond, __LINE__); \
      std::exit(1);                                                                 \
    }                                                                               \
  } while (false)

namespace {

/// An op of this program's own, for tree_allreduce: the weighted mean of
/// float64 arrays of one shape, (list, weights), the signature it requires.
inline constexpr dtask::OpDef<dtask::NDArray(dtask::ValueList, dtask::NDArray)> kWeightedMean{"tour.weighted_mean"};

dtask::NDArray weighted_mean(const dtask::ValueList& parts, const dtask::NDArray& weights) {
  dtask::NDArray out = dtask::NDArray::zeros(dtask::DType::kFloat64, parts.at(0).get<dtask::NDArray>().shape);
  double total = 0;
  for (std::size_t p = 0; p < parts.size(); ++p) {
    const double w = weights.data<double>()[p];
    const dtask::NDArray& part = parts[p].get<dtask::NDArray>();
    for (std::int64_t i = 0; i < out.size(); ++i) out.mutable_data<double>()[i] += w * part.data<double>()[i];
    total += w;
  }
  for (std::int64_t i = 0; i < out.size(); ++i) out.mutable_data<double>()[i] /= total;
  return out;
}

}  // namespace

int main() {
  // The worker side: each function is registered under its definition,
  // and must take the definition's parameters (by value or const reference).
  auto register_ops = [](dtask::OpRegistry& registry) {
    (void)registry.add(example::kSquare, [](std::int64_t x) { return x * x; });
    (void)registry.add(example::kHypot, [](double a, double b) { return std::hypot(a, b); });
    (void)registry.add(example::kScale, [](const dtask::NDArray& a, double factor) {
      dtask::NDArray out = dtask::NDArray::zeros(dtask::DType::kFloat64, a.shape);
      for (std::int64_t i = 0; i < out.size(); ++i) out.mutable_data<double>()[i] = a.data<double>()[i] * factor;
      return out;
    });
    (void)registry.add(kWeightedMean, weighted_mean);
  };
  dtask::Client client(dtask::LocalClusterOptions{.n_workers = 2, .threads_per_worker = 2, .register_ops = register_ops});

  // submit: the future has the definition's result type.
  dtask::Future<std::int64_t> square = client.submit(example::kSquare, 12);
  EXPECT(square.result() == 144);
  dtask::Future<double> hypot = client.submit(example::kHypot, 3.0, 4);  // an integer widens to double
  EXPECT(hypot.result() == 5.0);
  // With options, and a future as an argument (its result type is checked too).
  dtask::Future<double> longer = client.submit(dtask::SubmitOptions{.priority = 1}, example::kHypot, hypot, 12.0);
  EXPECT(longer.result() == 13.0);

  // delayed: a graph of typed ops, computed in one message. Built-in ops are
  // OpDefs too; kSum takes any number of arguments (OpDef<Value(VarArgs)>).
  std::vector<dtask::Delayed> squares;
  for (std::int64_t i = 1; i <= 10; ++i) squares.push_back(dtask::delayed(example::kSquare)(i));
  EXPECT(client.compute<std::int64_t>(dtask::delayed(dtask::ops::kSum)(squares)).result() == 385);

  // map: the lists' element types are checked against the parameters.
  std::vector<double> as{5, 8}, bs{12, 15};
  std::vector<dtask::Future<double>> hypots = client.map(example::kHypot, as, bs);
  EXPECT(client.gather(hypots) == (std::vector<double>{13, 17}));

  // Array::map_blocks by definition: a wrong number of arguments is an
  // ArrayError when the graph is built.
  dtask::NDArray ones = dtask::NDArray::zeros(dtask::DType::kFloat64, {6, 2});
  for (std::int64_t i = 0; i < ones.size(); ++i) ones.mutable_data<double>()[i] = 1.0;
  dtask::Array X = dtask::Array::from_ndarray(client, ones, 2);
  dtask::NDArray tripled = X.map_blocks(example::kScale, {dtask::Value(3.0)}).compute(client);
  EXPECT(tripled.size() == 12 && tripled.data<double>()[11] == 3.0);
  bool refused = false;
  try {
    (void)X.map_blocks(example::kScale, {});
  } catch (const dtask::ArrayError&) {
    refused = true;
  }
  EXPECT(refused);
  // The free map_blocks over several arrays' matching chunks, by definition too.
  dtask::NDArray halved = dtask::map_blocks(example::kScale, {X}, {dtask::Value(0.5)}, dtask::DType::kFloat64)
                              .compute(client);
  EXPECT(halved.size() == 12 && halved.data<double>()[0] == 0.5);

  // tree_allreduce by the OpDef of its combine op, which must take (list,
  // weights): the mean of arange(4) + 0, + 1, + 2 and + 3 is arange(4) + 1.5.
  std::vector<dtask::FutureBase> parts;
  for (int k = 0; k < 4; ++k) {
    parts.push_back(client.submit(dtask::ops::kElemwise, std::string("add"), client.submit(dtask::ops::kArange, 4), k));
  }
  dtask::Future<dtask::NDArray> mean = dtask::tree_allreduce(client, parts, kWeightedMean);
  dtask::NDArray m = mean.result();
  EXPECT(m.size() == 4 && m.data<double>()[0] == 1.5 && m.data<double>()[3] == 4.5);

  // Op names as strings still work, checked by the worker when the task runs.
  EXPECT(client.submit<std::int64_t>("example.square", 9).result() == 81);
  std::printf("op_def_tour: ok\n");
  return 0;
}
