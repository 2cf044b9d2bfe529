// Rows of X fetched to the client (the k-means++ and random initialisations).
#include "client/src/array_internal.h"
#include "client/src/ml/kmeans_passes_internal.h"
#include "dtask/client.h"

namespace dtask::ml::internal {

using namespace array_internal;

NDArray fetch_rows(Client& client, const Array& X, const std::vector<std::int64_t>& rows) {
  std::vector<Array> picked;
  for (std::int64_t row : rows) picked.push_back(X.slice_rows(row, row + 1));
  return concatenate(picked).astype(DType::kFloat64).compute(client);
}

}  // namespace dtask::ml::internal
