// ParamValue: typed values and Python's repr (the verbose lines and
// cv_results_ export print parameters as scikit-learn does).
#include "dtask/ml/core/params.h"

#include <gtest/gtest.h>

#include <vector>

#include "tests/support/python_oracle.h"

namespace dtask::ml_core {
namespace {

// A string literal is a string, not a bool; ints stay ints.
TEST(ParamValueTest, LiteralsKeepTheirTypes) {
  Params p = {{"penalty", "l1"}, {"C", 0.1}, {"max_iter", 100}, {"fit_intercept", true}};
  EXPECT_TRUE(p["penalty"].is<std::string>());
  EXPECT_TRUE(p["C"].is<double>());
  EXPECT_TRUE(p["max_iter"].is<std::int64_t>());
  EXPECT_TRUE(p["fit_intercept"].is<bool>());
  EXPECT_EQ(describe(p), "C=0.1, fit_intercept=True, max_iter=100, penalty='l1'");
}

// Floats print as Python's repr prints them.
TEST(ParamValueTest, FloatReprMatchesPython) {
  if (!python_oracle::available("json")) GTEST_SKIP() << python_oracle::skip_reason("json");
  std::vector<double> values = {0.1, 1.0, 2.5, 10.0, 1e-5, 0.001, 1e-4, 123456789.0, 1e16, 1e22, 3.0e-7,
                                0.30000000000000004, -2.0, 1.0 / 3.0, 5e-324, 1.7976931348623157e308, 12345.678};
  nlohmann::json input = values;
  nlohmann::json want = python_oracle::run(R"PY(
import json, sys
print(json.dumps([repr(float(v)) for v in json.loads(sys.argv[1])]))
)PY",
                                           {input.dump()});
  for (std::size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ(python_float_repr(values[i]), want[i].get<std::string>()) << values[i];
  }
}

}  // namespace
}  // namespace dtask::ml_core
