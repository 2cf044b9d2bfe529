// Prometheus text exposition format (version 0.0.4), written by hand because
// it is a few lines of rules: "# HELP" and "# TYPE" once per metric family,
// then one "name{label="value",...} number" line per sample. Label values
// escape backslash, double quote and newline; HELP text escapes backslash
// and newline. The scheduler's and the worker's /metrics both use it.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dtask {

using PrometheusLabels = std::vector<std::pair<std::string, std::string>>;

/// Builds one /metrics body. Not thread-safe; one per response.
class PrometheusText {
 public:
  /// Starts a metric family; `type` is "counter", "gauge" or "untyped".
  /// Names must match [a-zA-Z_:][a-zA-Z0-9_:]* (checked: a bad name is a bug).
  void family(std::string_view name, std::string_view type, std::string_view help);
  /// One sample of the current family (`name` may add a suffix such as _total).
  void sample(std::string_view name, double value, const PrometheusLabels& labels = {});
  /// family() then one unlabelled sample: the common case.
  void single(std::string_view name, std::string_view type, std::string_view help, double value);
  const std::string& text() const { return out_; }

 private:
  std::string out_;
};

/// True for a valid metric name; label names follow the same rule without ':'.
bool is_valid_metric_name(std::string_view name);
bool is_valid_label_name(std::string_view name);
/// `value` with \\, \" and \n escaped, as label values need.
std::string escape_label_value(std::string_view value);

}  // namespace dtask
