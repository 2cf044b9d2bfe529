#!/usr/bin/env bash
# KMeans, dtask vs scikit-learn, on the Dask-ML tutorial's workload:
# make_blobs, 12 centers, 20 features, 2M rows (--rows), float64.
#  - The data is generated once by dtask (datasets::make_blobs, random_state 0)
#    and written to X.npy in a temporary directory; scikit-learn loads that
#    file with numpy, dtask persists it (Array::from_npy(...).persist()).
#  - Both start from the same 12 centers: rows of X picked with a fixed seed,
#    written to init.npy that both read.
#  - Both run the same Lloyd iterations with tol=0: scikit-learn first with
#    max_iter=--max-iter (it may stop earlier when no label changes), then
#    dtask with max_iter = scikit-learn's n_iter_ (checked equal).
#  - dtask: a real dtask-scheduler and 2 dtask-worker processes
#    (--nthreads 1, --memory-limit 4GiB); scikit-learn: one process using both
#    cores (OpenMP). Each times fit() only, best of --repeats.
#  - pass_GBps: X's bytes / (dtask fit time / n_iter); membw_GBps: a streaming
#    sum over 1 GiB in the driver on 2 threads, measured in the same run.
#
#   bash bench/kmeans.sh [--rows N] [--max-iter N] [--repeats R]
#        [--chunk-rows C] [--memory-limit M] [--dir DIR] [--keep] [--build-dir DIR]
#
#   --rows N          n_samples (default 2000000; 10000000 works, ~5x longer)
#   --max-iter N      scikit-learn's max_iter (default 20)
#   --repeats R       timed fits per system, best reported (default 3)
#   --chunk-rows C    dtask rows per chunk (default 125000: 16 chunks of 20 MB
#                     for 2M rows, 8 per worker)
#   --memory-limit M  per dtask worker (default 4GiB)
#   --dir DIR         where X.npy and init.npy go; reused if both exist and kept
#                     (default: a fresh directory under $TMPDIR, removed at the end)
#   --keep            keep the fresh directory and its files
#
# Last line: kmeans dtask_s=<a> sklearn_s=<b> ratio=<a/b> inertia_rel_diff=<d> pass_GBps=<g> membw_GBps=<m>
set -euo pipefail
cd "$(dirname "$0")/.."

ROWS=2000000
MAX_ITER=20
REPEATS=3
CHUNK_ROWS=125000
MEMORY_LIMIT=4GiB
DATA_DIR=""
KEEP=0
BUILD_DIR="${BUILD_DIR:-build}"
FEATURES=20
CENTERS=12
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rows) ROWS="$2"; shift 2 ;;
    --rows=*) ROWS="${1#*=}"; shift ;;
    --max-iter) MAX_ITER="$2"; shift 2 ;;
    --max-iter=*) MAX_ITER="${1#*=}"; shift ;;
    --repeats) REPEATS="$2"; shift 2 ;;
    --repeats=*) REPEATS="${1#*=}"; shift ;;
    --chunk-rows) CHUNK_ROWS="$2"; shift 2 ;;
    --chunk-rows=*) CHUNK_ROWS="${1#*=}"; shift ;;
    --memory-limit) MEMORY_LIMIT="$2"; shift 2 ;;
    --memory-limit=*) MEMORY_LIMIT="${1#*=}"; shift ;;
    --dir) DATA_DIR="$2"; shift 2 ;;
    --dir=*) DATA_DIR="${1#*=}"; shift ;;
    --keep) KEEP=1; shift ;;
    --build-dir) BUILD_DIR="$2"; shift 2 ;;
    --build-dir=*) BUILD_DIR="${1#*=}"; shift ;;
    -h|--help) sed -n '2,31p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "kmeans: unknown option: $1" >&2; exit 2 ;;
  esac
done

bash deploy/install-deps.sh --with-peers

BENCH="$BUILD_DIR/bench/dtask-bench-kmeans"
BENCH_NAME=kmeans
source bench/lib/cluster.sh
bench_require_binaries "$BENCH" "$BUILD_DIR/scheduler/dtask-scheduler" "$BUILD_DIR/worker/dtask-worker"

logs=$(mktemp -d)  # daemon logs and captured outputs, always removed
trap bench_cleanup EXIT
bench_data_dir dtask_kmeans
X_NPY="$DATA_DIR/X.npy"
INIT_NPY="$DATA_DIR/init.npy"

started=$SECONDS
echo "== $(nproc) CPUs, $(bench_load), $(awk '/^MemAvailable/ { printf "%.1f GiB available", $2 / 1048576 }' /proc/meminfo)"

if [[ -f $X_NPY && -f $INIT_NPY ]]; then
  echo "== reusing $X_NPY and $INIT_NPY"
else
  echo "== prepare: dtask-scheduler + 2 x dtask-worker; make_blobs(n_samples=$ROWS, n_features=$FEATURES," \
    "centers=$CENTERS, random_state=0) -> $X_NPY"
  bench_start_daemons 2 1 "$MEMORY_LIMIT"
  "$BENCH" prepare --scheduler "$bench_address" --workers 2 --dir "$DATA_DIR" --rows "$ROWS" --features "$FEATURES" \
    --centers "$CENTERS" --random-state 0 --init-seed 1 --chunk-rows "$CHUNK_ROWS"
  bench_stop_daemons  # scikit-learn gets the machine to itself
fi
X_BYTES=$(/usr/bin/python3 -c "import numpy as np, sys; x = np.load(sys.argv[1], mmap_mode='r'); print(x.nbytes)" "$X_NPY")

echo "== scikit-learn ($(bench_load)): /usr/bin/python3 bench/sklearn_kmeans.py --max-iter $MAX_ITER --repeats $REPEATS"
/usr/bin/python3 bench/sklearn_kmeans.py --data "$X_NPY" --init "$INIT_NPY" --max-iter "$MAX_ITER" \
  --repeats "$REPEATS" | tee "$logs/sklearn.out"
sklearn_s=$(bench_value sklearn_fit_s "$logs/sklearn.out")
sklearn_iter=$(bench_value sklearn_n_iter "$logs/sklearn.out")
sklearn_inertia=$(bench_value sklearn_inertia "$logs/sklearn.out")

echo "== memory bandwidth ($(bench_load)): $BENCH membw --gib 1 --threads 2"
"$BENCH" membw --gib 1 --threads 2 --repeats 3 | tee "$logs/membw.out"
membw=$(bench_value membw_GBps "$logs/membw.out")

echo "== dtask ($(bench_load)): dtask-scheduler + 2 x dtask-worker --nthreads 1 --memory-limit $MEMORY_LIMIT;" \
  "max_iter=$sklearn_iter (scikit-learn's n_iter_), tol=0, chunks of $CHUNK_ROWS rows"
bench_start_daemons 2 1 "$MEMORY_LIMIT"
"$BENCH" fit --scheduler "$bench_address" --workers 2 --data "$X_NPY" --init "$INIT_NPY" --max-iter "$sklearn_iter" \
  --repeats "$REPEATS" --chunk-rows "$CHUNK_ROWS" | tee "$logs/dtask.out"
dtask_s=$(bench_value dtask_fit_s "$logs/dtask.out")
dtask_iter=$(bench_value dtask_n_iter "$logs/dtask.out")
dtask_inertia=$(bench_value dtask_inertia "$logs/dtask.out")
bench_report_worker_rss
bench_stop_daemons

echo "n_iter: scikit-learn $sklearn_iter (max_iter $MAX_ITER, tol 0), dtask $dtask_iter"
if [[ $dtask_iter != "$sklearn_iter" ]]; then
  echo "kmeans: dtask ran $dtask_iter iterations, scikit-learn $sklearn_iter" >&2
  exit 1
fi
echo "inertia: scikit-learn $sklearn_inertia, dtask $dtask_inertia"
echo "summary: $ROWS x $FEATURES float64 ($X_BYTES bytes), $CENTERS clusters, $dtask_iter Lloyd iterations;" \
  "dtask (2 worker processes x 1 thread) $dtask_s s, scikit-learn (1 process, 2 OpenMP threads) $sklearn_s s;" \
  "$(bench_load) at the end; $((SECONDS - started)) s in all"
awk -v a="$dtask_s" -v b="$sklearn_s" -v ia="$dtask_inertia" -v ib="$sklearn_inertia" -v n="$dtask_iter" \
  -v bytes="$X_BYTES" -v m="$membw" 'BEGIN {
  if (b <= 0 || a <= 0 || ib <= 0) { print "kmeans: a time or the inertia is zero" > "/dev/stderr"; exit 1 }
  d = ia - ib; if (d < 0) d = -d
  printf "kmeans dtask_s=%.3f sklearn_s=%.3f ratio=%.3f inertia_rel_diff=%.3g pass_GBps=%.2f membw_GBps=%.2f\n",
    a, b, a / b, d / ib, bytes / (a / n) / 1e9, m
}'
