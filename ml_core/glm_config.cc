#include "ml_core/glm_config.h"

#include <map>
#include <memory>

namespace dtask::ml_core {

namespace {

bool smooth_only(const std::string& solver) {
  return solver == "lbfgs" || solver == "newton" || solver == "gradient_descent";
}

/// The l1 share of the penalty R(w).
double l1_share(const std::string& penalty, double l1_ratio) {
  if (penalty == "l1") return 1.0;
  if (penalty == "elastic_net") return l1_ratio;
  return 0.0;
}

}  // namespace

std::int64_t glm_outputs(const GlmConfig& config) { return config.family == "multinomial" ? config.n_classes : 1; }

std::string glm_estimator_name(const std::string& family) {
  if (family == "logistic" || family == "multinomial") return "LogisticRegression";
  if (family == "linear") return "LinearRegression";
  return "PoissonRegression";
}

Result<ResolvedGlm> resolve_glm(const GlmConfig& o) {
  if (o.family != "logistic" && o.family != "linear" && o.family != "poisson" && o.family != "multinomial") {
    return Status::invalid("unknown GLM family \"" + o.family + "\" (logistic, linear, poisson, multinomial)");
  }
  if (o.family == "multinomial" && o.n_classes < 2) {
    return Status::invalid("the multinomial family needs n_classes >= 2, got " + std::to_string(o.n_classes));
  }
  if (!(o.C > 0)) return Status::invalid("C must be > 0, got " + std::to_string(o.C));
  if (!(o.l1_ratio >= 0 && o.l1_ratio <= 1)) {
    return Status::invalid("l1_ratio must be in [0, 1], got " + std::to_string(o.l1_ratio));
  }
  if (o.max_iter < 1) return Status::invalid("max_iter must be >= 1, got " + std::to_string(o.max_iter));
  if (!(o.tol >= 0)) return Status::invalid("tol must be >= 0, got " + std::to_string(o.tol));
  ResolvedGlm r;
  r.penalty = o.penalty == "auto" ? (o.family == "linear" ? "none" : "l2") : o.penalty;
  if (r.penalty != "none" && r.penalty != "l1" && r.penalty != "l2" && r.penalty != "elastic_net") {
    return Status::invalid("penalty must be \"none\", \"l1\", \"l2\", \"elastic_net\" or \"auto\", got \"" +
                           o.penalty + "\"");
  }
  bool smooth = r.penalty == "none" || r.penalty == "l2";
  if (o.solver == "auto") {
    r.solver = !smooth ? "proximal_grad" : o.family == "linear" ? "newton" : "lbfgs";
  } else if (!find_solver(o.solver)) {
    return Status::invalid(
        "solver must be \"lbfgs\", \"newton\", \"admm\", \"proximal_grad\", \"gradient_descent\" or \"auto\", got \"" +
        o.solver + "\"");
  } else {
    r.solver = o.solver;
  }
  if (o.family == "multinomial" && (r.solver == "newton" || r.solver == "admm")) {
    return Status::invalid("solver \"" + r.solver + "\" is not available for multinomial logistic regression (" +
                           std::to_string(o.n_classes) +
                           " classes): it needs the Hessian, which dtask does not build for the multinomial loss; use "
                           "\"lbfgs\", \"proximal_grad\" or \"gradient_descent\"");
  }
  if (!smooth && smooth_only(r.solver)) {
    return Status::invalid("solver \"" + r.solver + "\" does not support penalty \"" + r.penalty +
                           "\"; for l1 and elastic_net use \"proximal_grad\" or \"admm\"");
  }
  return r;
}

Penalty glm_penalty(const GlmConfig& config, const ResolvedGlm& resolved, std::int64_t n, std::int64_t d) {
  if (resolved.penalty == "none") return {};
  const double share = l1_share(resolved.penalty, config.l1_ratio);
  const double scale = config.C * static_cast<double>(n);
  return {share / scale, (1.0 - share) / scale, glm_outputs(config) * d};
}

SolverSettings glm_solver_settings(const GlmConfig& config, const ResolvedGlm& resolved, std::int64_t n) {
  SolverSettings settings;
  settings.max_iter = config.max_iter;
  // The user's tol is on scikit-learn's Σ loss scale; F is a mean (admm's residuals are not).
  settings.tol = resolved.solver == "admm" ? config.tol : config.tol / static_cast<double>(n);
  return settings;
}

const ParamBinding<GlmConfig>& glm_binding(const std::string& family) {
  static const auto make = [](const std::string& f) {
    return std::make_unique<ParamBinding<GlmConfig>>(
        glm_estimator_name(f), std::vector<std::pair<std::string, ParamBinding<GlmConfig>::Member>>{
                                   {"C", &GlmConfig::C},
                                   {"penalty", &GlmConfig::penalty},
                                   {"l1_ratio", &GlmConfig::l1_ratio},
                                   {"fit_intercept", &GlmConfig::fit_intercept},
                                   {"solver", &GlmConfig::solver},
                                   {"max_iter", &GlmConfig::max_iter},
                                   {"tol", &GlmConfig::tol},
                                   {"random_state", &GlmConfig::random_state}});
  };
  static const auto logistic = make("logistic"), linear = make("linear"), poisson = make("poisson");
  if (family == "linear") return *linear;
  if (family == "poisson") return *poisson;
  return *logistic;  // and multinomial: the same LogisticRegression parameters
}

}  // namespace dtask::ml_core
