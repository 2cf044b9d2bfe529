#include "worker/ml_ops/ml_ops.h"

namespace dtask {

void register_ml_ops(OpRegistry& registry) {
  ml_ops::register_kmeans_ops(registry);
  ml_ops::register_glm_ops(registry);
  ml_ops::register_model_selection_ops(registry);
  ml_ops::register_svm_ops(registry);
  ml_ops::register_sgd_ops(registry);
}

}  // namespace dtask
