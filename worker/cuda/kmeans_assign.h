// Nearest-center assignment on a GPU (built with -DDTASK_CUDA=ON): the
// distance step shared by the Lloyd pass and k-means|| (cost, sampling,
// candidate weights). The cross term X C^T is one cuBLAS DGEMM; a kernel
// then finds each row's closest center and squared distance. Everything
// else (sums, counts, sampling) stays on the host: it is one more pass over
// rows the host already holds.
#pragma once

#include <cstdint>
#include <string>

namespace dtask::cuda {

/// True when this build has CUDA and a device is present.
bool device_available();
/// "NVIDIA H100 80GB HBM3, 80 GiB" or why there is none.
std::string device_description();

/// For the row-major float64 rows X [n, d] and centers C [k, d], writes
/// labels[i] = argmin_j ||x_i - c_j||^2 and min_d2[i] = that distance.
/// Returns an empty string on success, else the CUDA/cuBLAS error. Thread-safe
/// (one stream and handle per call).
std::string assign_nearest(const double* X, std::int64_t n, std::int64_t d, const double* C, std::int64_t k,
                           std::int64_t* labels, double* min_d2);

}  // namespace dtask::cuda
