#include "worker/cuda/kmeans_assign.h"

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <memory>

namespace dtask::cuda {

namespace {

/// Device memory freed when it goes out of scope.
struct DeviceBuffer {
  void* ptr = nullptr;
  ~DeviceBuffer() {
    if (ptr) cudaFree(ptr);
  }
};

std::string error_text(cudaError_t err, const char* what) { return std::string(what) + ": " + cudaGetErrorString(err); }

/// One thread per row: squared norm of the row, then the closest center using
/// the GEMM's cross terms (column-major [k, n]: cross[j + i * k] = c_j . x_i).
__global__ void nearest_kernel(const double* X, std::int64_t n, std::int64_t d, const double* cross,
                               const double* c_norms, std::int64_t k, std::int64_t* labels, double* min_d2) {
  std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
  if (i >= n) return;
  double x_norm = 0;
  for (std::int64_t f = 0; f < d; ++f) x_norm += X[i * d + f] * X[i * d + f];
  std::int64_t best = 0;
  double best_d2 = 1.0 / 0.0;
  for (std::int64_t j = 0; j < k; ++j) {
    double d2 = fmax(0.0, x_norm - 2.0 * cross[j + i * k] + c_norms[j]);
    if (d2 < best_d2) {
      best_d2 = d2;
      best = j;
    }
  }
  labels[i] = best;
  min_d2[i] = isfinite(x_norm) ? best_d2 : x_norm;  // NaN/inf rows stay visible to the caller
}

__global__ void norms_kernel(const double* C, std::int64_t k, std::int64_t d, double* norms) {
  std::int64_t j = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
  if (j >= k) return;
  double total = 0;
  for (std::int64_t f = 0; f < d; ++f) total += C[j * d + f] * C[j * d + f];
  norms[j] = total;
}

}  // namespace

bool device_available() {
  int count = 0;
  return cudaGetDeviceCount(&count) == cudaSuccess && count > 0;
}

std::string device_description() {
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) return error_text(err, "no CUDA device");
  if (count == 0) return "no CUDA device";
  cudaDeviceProp prop;
  if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess) return "CUDA device 0";
  return std::string(prop.name) + ", " + std::to_string(prop.totalGlobalMem >> 30) + " GiB";
}

std::string assign_nearest(const double* X, std::int64_t n, std::int64_t d, const double* C, std::int64_t k,
                           std::int64_t* labels, double* min_d2) {
  if (n == 0) return "";
  DeviceBuffer x, c, cross, norms, out_labels, out_d2;
  cudaError_t err;
  if ((err = cudaMalloc(&x.ptr, n * d * sizeof(double))) != cudaSuccess ||
      (err = cudaMalloc(&c.ptr, k * d * sizeof(double))) != cudaSuccess ||
      (err = cudaMalloc(&cross.ptr, n * k * sizeof(double))) != cudaSuccess ||
      (err = cudaMalloc(&norms.ptr, k * sizeof(double))) != cudaSuccess ||
      (err = cudaMalloc(&out_labels.ptr, n * sizeof(std::int64_t))) != cudaSuccess ||
      (err = cudaMalloc(&out_d2.ptr, n * sizeof(double))) != cudaSuccess) {
    return error_text(err, "cudaMalloc");
  }
  if ((err = cudaMemcpy(x.ptr, X, n * d * sizeof(double), cudaMemcpyHostToDevice)) != cudaSuccess ||
      (err = cudaMemcpy(c.ptr, C, k * d * sizeof(double), cudaMemcpyHostToDevice)) != cudaSuccess) {
    return error_text(err, "cudaMemcpy to device");
  }
  cublasHandle_t handle;
  if (cublasCreate(&handle) != CUBLAS_STATUS_SUCCESS) return "cublasCreate failed";
  std::unique_ptr<cublasContext, decltype(&cublasDestroy)> owned(handle, cublasDestroy);
  // Row-major X [n, d] is column-major X^T [d, n]; likewise C. cross = C X^T as
  // column-major [k, n]: cross(j, i) = c_j . x_i.
  const double one = 1.0, zero = 0.0;
  if (cublasDgemm(handle, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(k), static_cast<int>(n), static_cast<int>(d), &one,
                  static_cast<const double*>(c.ptr), static_cast<int>(d), static_cast<const double*>(x.ptr),
                  static_cast<int>(d), &zero, static_cast<double*>(cross.ptr), static_cast<int>(k)) !=
      CUBLAS_STATUS_SUCCESS) {
    return "cublasDgemm failed";
  }
  const int threads = 256;
  norms_kernel<<<static_cast<unsigned>((k + threads - 1) / threads), threads>>>(static_cast<const double*>(c.ptr), k, d,
                                                                               static_cast<double*>(norms.ptr));
  nearest_kernel<<<static_cast<unsigned>((n + threads - 1) / threads), threads>>>(
      static_cast<const double*>(x.ptr), n, d, static_cast<const double*>(cross.ptr),
      static_cast<const double*>(norms.ptr), k, static_cast<std::int64_t*>(out_labels.ptr),
      static_cast<double*>(out_d2.ptr));
  if ((err = cudaGetLastError()) != cudaSuccess) return error_text(err, "kernel launch");
  if ((err = cudaMemcpy(labels, out_labels.ptr, n * sizeof(std::int64_t), cudaMemcpyDeviceToHost)) != cudaSuccess ||
      (err = cudaMemcpy(min_d2, out_d2.ptr, n * sizeof(double), cudaMemcpyDeviceToHost)) != cudaSuccess) {
    return error_text(err, "cudaMemcpy to host");
  }
  return "";
}

}  // namespace dtask::cuda
