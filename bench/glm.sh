#!/usr/bin/env bash
# Logistic regression, dtask vs scikit-learn: L2, C=1, lbfgs, on
# make_classification data (1M x 100 float64 by default, 10 informative
# features), in the same run.
#  - The data is generated once by dtask (datasets::make_classification,
#    random_state 0) and written to X.npy and y.npy; scikit-learn loads them
#    with numpy, dtask persists them (Array::from_npy(...).persist()).
#  - Both fit LogisticRegression(penalty="l2", C, solver="lbfgs", tol,
#    max_iter) with the same tol: dtask stops by scikit-learn's rules
#    (max |gradient| of Σ loss + ||w||²/2C <= tol, or L-BFGS-B's relative
#    decrease of 2.2e-9).
#  - dtask: a real dtask-scheduler and 2 dtask-worker processes (--nthreads 1);
#    scikit-learn: one process (its lbfgs objective runs on numpy and the
#    system BLAS). Each times fit() only, best of --repeats (scikit-learn: 1).
#  - coef_rel_diff: max |dtask - sklearn| / max |sklearn| over the
#    coefficients and the intercept.
#
#   bash bench/glm.sh [--rows N] [--features D] [--C C] [--tol T] [--max-iter N]
#        [--repeats R] [--chunk-rows C] [--memory-limit M] [--dir DIR] [--keep] [--build-dir DIR]
#
#   --rows N          n_samples (default 1000000)
#   --features D      n_features (default 100)
#   --C C             inverse regularisation strength (default 1)
#   --tol T           both sides' tol (default 1e-4, scikit-learn's default)
#   --max-iter N      both sides' max_iter (default 100)
#   --repeats R       timed dtask fits, best reported (default 3)
#   --chunk-rows C    dtask rows per chunk (default 62500: 16 chunks of 50 MB)
#   --memory-limit M  per dtask worker (default 4GiB)
#   --dir DIR         where X.npy and y.npy go; reused if both exist and kept
#   --keep            keep the fresh directory and its files
#
# Last line: glm dtask_s=<a> sklearn_s=<b> ratio=<a/b> coef_rel_diff=<d>
set -euo pipefail
cd "$(dirname "$0")/.."

ROWS=1000000
FEATURES=100
C=1
TOL=1e-4
MAX_ITER=100
REPEATS=3
CHUNK_ROWS=62500
MEMORY_LIMIT=4GiB
DATA_DIR=""
KEEP=0
BUILD_DIR="${BUILD_DIR:-build}"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rows) ROWS="$2"; shift 2 ;;
    --features) FEATURES="$2"; shift 2 ;;
    --C) C="$2"; shift 2 ;;
    --tol) TOL="$2"; shift 2 ;;
    --max-iter) MAX_ITER="$2"; shift 2 ;;
    --repeats) REPEATS="$2"; shift 2 ;;
    --chunk-rows) CHUNK_ROWS="$2"; shift 2 ;;
    --memory-limit) MEMORY_LIMIT="$2"; shift 2 ;;
    --dir) DATA_DIR="$2"; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --build-dir) BUILD_DIR="$2"; shift 2 ;;
    -h|--help) sed -n '2,32p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "glm: unknown option: $1" >&2; exit 2 ;;
  esac
done

bash deploy/install-deps.sh --with-peers

BENCH="$BUILD_DIR/bench/dtask-bench-glm"
BENCH_NAME=glm
source bench/lib/cluster.sh
bench_require_binaries "$BENCH" "$BUILD_DIR/scheduler/dtask-scheduler" "$BUILD_DIR/worker/dtask-worker"

logs=$(mktemp -d)  # daemon logs, captured outputs and the two models, always removed
trap bench_cleanup EXIT
bench_data_dir dtask_glm

started=$SECONDS
echo "== $(nproc) CPUs, $(bench_load), $(awk '/^MemAvailable/ { printf "%.1f GiB available", $2 / 1048576 }' /proc/meminfo)"
if [[ -f $DATA_DIR/X.npy && -f $DATA_DIR/y.npy ]]; then
  echo "== reusing $DATA_DIR/X.npy and y.npy"
else
  echo "== prepare: make_classification(n_samples=$ROWS, n_features=$FEATURES, n_informative=10) -> $DATA_DIR"
  bench_start_daemons 2 1 "$MEMORY_LIMIT"
  "$BENCH" prepare --scheduler "$bench_address" --dir "$DATA_DIR" --rows "$ROWS" --features "$FEATURES" \
    --chunk-rows "$CHUNK_ROWS"
  bench_stop_daemons  # scikit-learn gets the machine to itself
fi

echo "== scikit-learn ($(bench_load)): LogisticRegression(penalty=l2, C=$C, solver=lbfgs, tol=$TOL, max_iter=$MAX_ITER)"
/usr/bin/python3 bench/sklearn_glm.py --dir "$DATA_DIR" --C "$C" --tol "$TOL" --max-iter "$MAX_ITER" \
  --model "$logs/sklearn.json" | tee "$logs/sklearn.out"
sklearn_s=$(bench_value sklearn_fit_s "$logs/sklearn.out")
sklearn_iter=$(bench_value sklearn_n_iter "$logs/sklearn.out")

echo "== dtask ($(bench_load)): dtask-scheduler + 2 x dtask-worker --nthreads 1 --memory-limit $MEMORY_LIMIT;" \
  "chunks of $CHUNK_ROWS rows"
bench_start_daemons 2 1 "$MEMORY_LIMIT"
"$BENCH" fit --scheduler "$bench_address" --dir "$DATA_DIR" --C "$C" --tol "$TOL" --max-iter "$MAX_ITER" \
  --repeats "$REPEATS" --chunk-rows "$CHUNK_ROWS" --model "$logs/dtask.json" | tee "$logs/dtask.out"
dtask_s=$(bench_value dtask_fit_s "$logs/dtask.out")
dtask_iter=$(bench_value dtask_n_iter "$logs/dtask.out")
bench_report_worker_rss
bench_stop_daemons

coef_diff=$(/usr/bin/python3 - "$logs/dtask.json" "$logs/sklearn.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
x = a["coef"] + [a["intercept"]]
y = b["coef"] + [b["intercept"]]
print(max(abs(p - q) for p, q in zip(x, y)) / max(abs(q) for q in y))
PY
)
echo "summary: $ROWS x $FEATURES float64; iterations: dtask $dtask_iter, scikit-learn $sklearn_iter;" \
  "dtask (2 worker processes x 1 thread) $dtask_s s, scikit-learn (1 process) $sklearn_s s;" \
  "$(bench_load) at the end; $((SECONDS - started)) s in all"
awk -v a="$dtask_s" -v b="$sklearn_s" -v d="$coef_diff" 'BEGIN {
  if (a <= 0 || b <= 0) { print "glm: a time is zero" > "/dev/stderr"; exit 1 }
  printf "glm dtask_s=%.3f sklearn_s=%.3f ratio=%.3f coef_rel_diff=%.3g\n", a, b, a / b, d
}'
