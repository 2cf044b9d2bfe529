// The three GLM families as per-row functions of the linear predictor η:
// logistic (log-loss, μ = σ(η)), linear (squared error / 2, μ = η) and
// Poisson (log link, μ = exp(η); the loss drops the constant log y!). The
// multinomial family (softmax over k >= 3 classes) has a vector η per row and
// is not a per-row function of one η: its numerics are in glm_chunk.cc.
#pragma once

#include <cmath>
#include <stdexcept>
#include <string>

namespace dtask::ml_core {

enum class GlmFamily { kLogistic, kLinear, kPoisson, kMultinomial };

inline GlmFamily glm_family(const std::string& name) {
  if (name == "logistic") return GlmFamily::kLogistic;
  if (name == "linear") return GlmFamily::kLinear;
  if (name == "poisson") return GlmFamily::kPoisson;
  if (name == "multinomial") return GlmFamily::kMultinomial;
  throw std::invalid_argument("unknown GLM family \"" + name + "\" (logistic, linear, poisson, multinomial)");
}

/// log(1 + e^η) without overflow.
inline double softplus(double eta) { return eta > 0 ? eta + std::log1p(std::exp(-eta)) : std::log1p(std::exp(eta)); }

inline double sigmoid(double eta) {
  if (eta >= 0) return 1.0 / (1.0 + std::exp(-eta));
  double e = std::exp(eta);
  return e / (1.0 + e);
}

/// A row's loss, its derivative in η (μ - y) and second derivative (the IRLS weight).
struct Pointwise {
  double loss, residual, weight;
};

inline Pointwise pointwise(GlmFamily family, double eta, double y) {
  switch (family) {
    case GlmFamily::kLogistic: {
      double mu = sigmoid(eta);
      return {softplus(eta) - y * eta, mu - y, mu * (1.0 - mu)};
    }
    case GlmFamily::kLinear:
      return {0.5 * (eta - y) * (eta - y), eta - y, 1.0};
    case GlmFamily::kPoisson: {
      double mu = std::exp(eta);  // may overflow to inf on a wild line-search step: the loss is then inf
      return {mu - y * eta, mu - y, mu};
    }
    case GlmFamily::kMultinomial:
      break;  // not a function of one η; callers take the multinomial path first
  }
  return {0, 0, 0};
}

}  // namespace dtask::ml_core
