// The ops every worker registers (register_builtin_ops in worker/), each
// defined once, with its signature: the worker registers these definitions
// and the client library (Array, the estimators) submits them, so a name or
// an argument order cannot drift between the two. A program may submit them
// too: `client.submit(dtask::ops::kInc, 41)` is a Future<Value> of 42.
// See dtask/op_def.h for what a definition checks.
//
// Arguments are listed as the op takes them; "[...]" is a list argument
// (ValueList), Value a number or array the op checks at run time.
#pragma once

#include <cstdint>
#include <string>

#include "dtask/op_def.h"
#include "dtask/value.h"

namespace dtask::ops {

// ---- scalars, lists and test helpers (worker/builtin_ops.cc) ---------------
/// add(a, b, ...): numbers, or arrays of one shape, added.
inline constexpr OpDef<Value(VarArgs)> kAdd{"add"};
/// sum([values]) or sum(a, b, ...).
inline constexpr OpDef<Value(VarArgs)> kSum{"sum"};
/// inc(x): x + 1.
inline constexpr OpDef<Value(Value)> kInc{"inc"};
inline constexpr OpDef<double(double, double)> kMul{"mul"};
/// identity(x): x; with worker restrictions, a copy of x on that worker.
inline constexpr OpDef<Value(Value)> kIdentity{"identity"};
/// list(a, b, ...): its arguments as one list.
inline constexpr OpDef<Value(VarArgs)> kList{"list"};
inline constexpr OpDef<Value(VarArgs)> kNoop{"noop"};
/// fail([message]): throws, so the task errs with the message.
inline constexpr OpDef<Value(VarArgs)> kFail{"fail"};
/// sleep(seconds[, result]): stands in for a long computation.
inline constexpr OpDef<Value(VarArgs)> kSleep{"sleep"};
/// arange(n): float64 [0, 1, ..., n-1].
inline constexpr OpDef<NDArray(std::int64_t)> kArange{"arange"};
/// array_sum(a): the sum of a's elements.
inline constexpr OpDef<double(NDArray)> kArraySum{"array_sum"};

// ---- chunk reads and writes (worker/array_ops/io_ops.cc) -------------------
/// read_npy(path, row_begin, row_end).
inline constexpr OpDef<NDArray(std::string, std::int64_t, std::int64_t)> kReadNpy{"read_npy"};
/// read_zarr(path, row_begin, row_end).
inline constexpr OpDef<NDArray(std::string, std::int64_t, std::int64_t)> kReadZarr{"read_zarr"};
/// read_csv(path, byte_begin, byte_end, first_line, rows, file_columns, delimiter, [columns]).
inline constexpr OpDef<NDArray(std::string, std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::int64_t,
                               std::string, ValueList)>
    kReadCsv{"read_csv"};
/// create_npy(path, dtype, [shape]) -> path.
inline constexpr OpDef<std::string(std::string, std::string, ValueList)> kCreateNpy{"create_npy"};
/// write_npy_rows(path, row_begin, chunk) -> rows written.
inline constexpr OpDef<std::int64_t(std::string, std::int64_t, NDArray)> kWriteNpyRows{"write_npy_rows"};
/// create_zarr(path, zarray_json) -> path.
inline constexpr OpDef<std::string(std::string, std::string)> kCreateZarr{"create_zarr"};
/// write_zarr_rows(path, row_begin, chunk) -> rows written.
inline constexpr OpDef<std::int64_t(std::string, std::int64_t, NDArray)> kWriteZarrRows{"write_zarr_rows"};

// ---- generators (worker/array_ops/generator_ops.cc) ------------------------
/// random_uniform(seed, row_begin, rows, cols, low, high, dtype); cols 0: 1-d.
inline constexpr OpDef<NDArray(std::int64_t, std::int64_t, std::int64_t, std::int64_t, double, double, std::string)>
    kRandomUniform{"random_uniform"};
/// random_normal(seed, row_begin, rows, cols, loc, scale, dtype).
inline constexpr OpDef<NDArray(std::int64_t, std::int64_t, std::int64_t, std::int64_t, double, double, std::string)>
    kRandomNormal{"random_normal"};
/// blobs_x(seed, row_begin, rows, centers [k, d], cluster_std).
inline constexpr OpDef<NDArray(std::int64_t, std::int64_t, std::int64_t, NDArray, double)> kBlobsX{"blobs_x"};
/// blobs_y(seed, row_begin, rows, k): int64 labels.
inline constexpr OpDef<NDArray(std::int64_t, std::int64_t, std::int64_t, std::int64_t)> kBlobsY{"blobs_y"};
/// classification_x(seed, row_begin, rows, n_features, n_informative, n_classes, class_sep).
inline constexpr OpDef<NDArray(std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::int64_t,
                               double)>
    kClassificationX{"classification_x"};
/// classification_y(seed, row_begin, rows, n_classes, flip_y).
inline constexpr OpDef<NDArray(std::int64_t, std::int64_t, std::int64_t, std::int64_t, double)> kClassificationY{
    "classification_y"};
/// regression_y(x_chunk, coef [d], bias, noise, seed, row_begin).
inline constexpr OpDef<NDArray(NDArray, NDArray, double, double, std::int64_t, std::int64_t)> kRegressionY{
    "regression_y"};

// ---- elementwise, reductions, products, structure (worker/array_ops/) ------
/// elemwise(name, a, b): a, b arrays of one shape, an array and a number, or
/// a 2-d array and a row vector.
inline constexpr OpDef<Value(std::string, Value, Value)> kElemwise{"elemwise"};
/// unary(name, a): neg, abs, exp, log, sqrt, square, sigmoid.
inline constexpr OpDef<Value(std::string, NDArray)> kUnary{"unary"};
/// astype(a, dtype name).
inline constexpr OpDef<NDArray(NDArray, std::string)> kAsType{"astype"};
/// reduce_part(kind, all, chunk, row_offset) -> partial.
inline constexpr OpDef<Value(std::string, bool, NDArray, std::int64_t)> kReducePart{"reduce_part"};
/// reduce_combine(kind, [partials]) -> partial; kind "sum" adds arrays.
inline constexpr OpDef<Value(std::string, ValueList)> kReduceCombine{"reduce_combine"};
/// reduce_final(kind, ddof, partial) -> array.
inline constexpr OpDef<NDArray(std::string, std::int64_t, Value)> kReduceFinal{"reduce_final"};
/// reduce_rows(kind, ddof, chunk): one value per row.
inline constexpr OpDef<NDArray(std::string, std::int64_t, NDArray)> kReduceRows{"reduce_rows"};
/// crossprod(a, b): a^T b for one row block.
inline constexpr OpDef<NDArray(NDArray, NDArray)> kCrossprod{"crossprod"};
/// matmul_block(a, w): a @ w for one row block and a small w.
inline constexpr OpDef<NDArray(NDArray, NDArray)> kMatmulBlock{"matmul_block"};
/// slice_block(chunk, r0, r1, c0, c1, drop_cols).
inline constexpr OpDef<NDArray(NDArray, std::int64_t, std::int64_t, std::int64_t, std::int64_t, bool)> kSliceBlock{
    "slice_block"};
/// assemble_rows([chunks], [b0, e0, b1, e1, ...]): one output chunk of a rechunk.
inline constexpr OpDef<NDArray(ValueList, ValueList)> kAssembleRows{"assemble_rows"};
/// concat_cols([chunks]): row blocks side by side.
inline constexpr OpDef<NDArray(ValueList)> kConcatCols{"concat_cols"};
/// take_block_rows(chunk, rows int64 [m]).
inline constexpr OpDef<NDArray(NDArray, NDArray)> kTakeBlockRows{"take_block_rows"};
/// split_block(chunk, seed, index, n_test, test, shuffle): a train/test split's part of one chunk.
inline constexpr OpDef<NDArray(NDArray, std::int64_t, std::int64_t, std::int64_t, bool, bool)> kSplitBlock{
    "split_block"};

// ---- KMeans (worker/ml_ops/kmeans_ops.cc) ----------------------------------
// The distance steps also come as "<op>_gpu", run by CUDA on a worker with
// the GPU resource (KMeansOptions::device); same signature.
/// kmeans_partial(X, C) -> [sums, counts, inertia, far points, far distances, far labels].
inline constexpr OpDef<Value(NDArray, NDArray)> kKMeansPartial{"kmeans_partial"};
inline constexpr OpDef<Value(NDArray, NDArray)> kKMeansPartialGpu{"kmeans_partial_gpu"};
/// kmeans_cost(X, C): 0-d float64, the sum of squared distances to the closest center.
inline constexpr OpDef<NDArray(NDArray, NDArray)> kKMeansCost{"kmeans_cost"};
inline constexpr OpDef<NDArray(NDArray, NDArray)> kKMeansCostGpu{"kmeans_cost_gpu"};
/// kmeans_sample(X, C, l, phi, seed, round, row_offset): k-means|| candidates.
inline constexpr OpDef<NDArray(NDArray, NDArray, double, double, std::int64_t, std::int64_t, std::int64_t)>
    kKMeansSample{"kmeans_sample"};
inline constexpr OpDef<NDArray(NDArray, NDArray, double, double, std::int64_t, std::int64_t, std::int64_t)>
    kKMeansSampleGpu{"kmeans_sample_gpu"};
/// kmeans_closest_counts(X, C): float64 [|C|], how many rows each center is closest to.
inline constexpr OpDef<NDArray(NDArray, NDArray)> kKMeansClosestCounts{"kmeans_closest_counts"};
inline constexpr OpDef<NDArray(NDArray, NDArray)> kKMeansClosestCountsGpu{"kmeans_closest_counts_gpu"};
/// kmeans_combine([partials]): kmeans_partial results summed.
inline constexpr OpDef<Value(ValueList)> kKMeansCombine{"kmeans_combine"};
/// kmeans_predict(X, C): int64 labels.
inline constexpr OpDef<NDArray(NDArray, NDArray)> kKMeansPredict{"kmeans_predict"};
/// kmeans_transform(X, C): float64 distances [n, k].
inline constexpr OpDef<NDArray(NDArray, NDArray)> kKMeansTransform{"kmeans_transform"};
/// kmeans_pick(X, C, u): the row k-means++ picks in this chunk for uniform u.
inline constexpr OpDef<NDArray(NDArray, NDArray, double)> kKMeansPick{"kmeans_pick"};

// ---- GLMs (worker/ml_ops/glm_ops.cc; numerics in ml_core/glm_chunk.h) ------
/// glm_loss_grad(X, y, beta, family, fit_intercept, with_hessian, chunk, x_name, y_name).
inline constexpr OpDef<NDArray(NDArray, NDArray, NDArray, std::string, bool, bool, std::int64_t, std::string,
                               std::string)>
    kGlmLossGrad{"glm_loss_grad"};
/// glm_admm_local(X, y, v, beta0, rho, n_total, family, fit_intercept, chunk, x_name, y_name).
inline constexpr OpDef<NDArray(NDArray, NDArray, NDArray, NDArray, double, double, std::string, bool, std::int64_t,
                               std::string, std::string)>
    kGlmAdmmLocal{"glm_admm_local"};
/// glm_score_parts(X, y, beta, family, fit_intercept, chunk, x_name, y_name).
inline constexpr OpDef<NDArray(NDArray, NDArray, NDArray, std::string, bool, std::int64_t, std::string, std::string)>
    kGlmScoreParts{"glm_score_parts"};
/// glm_classes(y, chunk, y_name): the chunk's distinct labels.
inline constexpr OpDef<NDArray(NDArray, std::int64_t, std::string)> kGlmClasses{"glm_classes"};
/// glm_class_index(y, classes): each label's index in classes.
inline constexpr OpDef<NDArray(NDArray, NDArray)> kGlmClassIndex{"glm_class_index"};
/// glm_apply(X, beta, classes, fit_intercept, method).
inline constexpr OpDef<NDArray(NDArray, NDArray, NDArray, bool, std::string)> kGlmApply{"glm_apply"};

// ---- model selection (worker/ml_ops/model_selection_ops.cc) ---------------
/// cv_fit_score(X, y, train, test, spec, [scorers], return_train_score).
inline constexpr OpDef<NDArray(NDArray, NDArray, NDArray, NDArray, std::string, ValueList, bool)> kCvFitScore{
    "cv_fit_score"};
/// cv_fit_transform(X, y, train, test, prefix_spec) -> [X_train, y_train, X_test, y_test, seconds].
inline constexpr OpDef<ValueList(NDArray, NDArray, NDArray, NDArray, std::string)> kCvFitTransform{
    "cv_fit_transform"};
/// cv_fit_score_prepared(cv_fit_transform's result, spec, [scorers], return_train_score).
inline constexpr OpDef<NDArray(ValueList, std::string, ValueList, bool)> kCvFitScorePrepared{
    "cv_fit_score_prepared"};

// ---- SGD and SVMs (worker/ml_ops/sgd_ops.cc, svm_ops.cc) -------------------
/// sgd_partial_fit(model, X, y, classes) -> model.
inline constexpr OpDef<Bytes(Bytes, NDArray, NDArray, NDArray)> kSgdPartialFit{"sgd_partial_fit"};
/// sgd_apply(X, model, method).
inline constexpr OpDef<NDArray(NDArray, Bytes, std::string)> kSgdApply{"sgd_apply"};
/// sgd_average([models], weights): their weighted average.
inline constexpr OpDef<Bytes(ValueList, NDArray)> kSgdAverage{"sgd_average"};
/// dense_fit(X, y, spec) -> model: an estimator fitted in one task.
inline constexpr OpDef<Bytes(NDArray, NDArray, std::string)> kDenseFit{"dense_fit"};
/// svm_apply(X, estimator, model, method).
inline constexpr OpDef<NDArray(NDArray, std::string, Bytes, std::string)> kSvmApply{"svm_apply"};

}  // namespace dtask::ops
