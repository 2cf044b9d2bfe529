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
SCHEDULER="$BUILD_DIR/scheduler/dtask-scheduler"
WORKER="$BUILD_DIR/worker/dtask-worker"
for bin in "$BENCH" "$SCHEDULER" "$WORKER"; do
  if [[ ! -x $bin ]]; then
    echo "kmeans: $bin not found; build first: cmake --build $BUILD_DIR --target" \
      "dtask-bench-kmeans dtask-scheduler dtask-worker" >&2
    exit 1
  fi
done

logs=$(mktemp -d)  # daemon logs and captured outputs, always removed
pids=()
fresh_dir=""
stop_daemons() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
}
cleanup() {
  stop_daemons
  rm -rf "$logs"
  if [[ -n $fresh_dir ]]; then
    if [[ $KEEP == 1 ]]; then echo "kmeans: kept $fresh_dir"; else rm -rf "$fresh_dir"; fi
  fi
}
trap cleanup EXIT
if [[ -z $DATA_DIR ]]; then
  fresh_dir=$(mktemp -d "${TMPDIR:-/tmp}/dtask_kmeans.XXXXXX")
  DATA_DIR=$fresh_dir
fi
mkdir -p "$DATA_DIR"
DATA_DIR=$(cd "$DATA_DIR" && pwd)  # the workers resolve paths on their own
X_NPY="$DATA_DIR/X.npy"
INIT_NPY="$DATA_DIR/init.npy"

# Value of the last "KEY=<number>" line of a captured output file, or fail loudly.
parse_value() {  # $1 = key, $2 = file
  local value
  value=$(sed -n "s/^$1=\([0-9.eE+-]*\)\$/\1/p" "$2" | tail -n 1)
  if [[ -z $value ]]; then
    echo "kmeans: no '$1=' line in the output" >&2
    exit 1
  fi
  printf '%s' "$value"
}

load() { printf 'load average %s' "$(cut -d ' ' -f 1-3 /proc/loadavg)"; }

# The daemons print "... listening on tcp://HOST:PORT" once they serve.
wait_address() {  # $1 = log file, $2 = pid
  local deadline=$((SECONDS + 30)) address
  while (( SECONDS < deadline )); do
    address=$(grep -o -m 1 'listening on tcp://[^ ]*' "$1" 2>/dev/null | sed 's/^listening on //') || true
    if [[ -n $address ]]; then printf '%s' "$address"; return 0; fi
    if ! kill -0 "$2" 2>/dev/null; then break; fi
    sleep 0.05
  done
  echo "kmeans: no address from $1:" >&2
  cat "$1" >&2
  return 1
}

# Starts dtask-scheduler and 2 dtask-workers; sets $address and $worker_pids.
start_daemons() {
  "$SCHEDULER" --host 127.0.0.1 --port 0 --dashboard-address 127.0.0.1:0 --log-level warn >"$logs/scheduler.log" 2>&1 &
  pids+=($!)
  address=$(wait_address "$logs/scheduler.log" "${pids[0]}")
  worker_pids=()
  local i
  for i in 0 1; do
    "$WORKER" "$address" --host 127.0.0.1 --nthreads 1 --memory-limit "$MEMORY_LIMIT" \
      --name "w$i" --local-directory "$logs/spill-$i" --log-level warn >"$logs/worker-$i.log" 2>&1 &
    pids+=($!)
    worker_pids+=($!)
  done
}

started=$SECONDS
echo "== $(nproc) CPUs, $(load), $(awk '/^MemAvailable/ { printf "%.1f GiB available", $2 / 1048576 }' /proc/meminfo)"

if [[ -f $X_NPY && -f $INIT_NPY ]]; then
  echo "== reusing $X_NPY and $INIT_NPY"
else
  echo "== prepare: dtask-scheduler + 2 x dtask-worker; make_blobs(n_samples=$ROWS, n_features=$FEATURES," \
    "centers=$CENTERS, random_state=0) -> $X_NPY"
  start_daemons
  "$BENCH" prepare --scheduler "$address" --workers 2 --dir "$DATA_DIR" --rows "$ROWS" --features "$FEATURES" \
    --centers "$CENTERS" --random-state 0 --init-seed 1 --chunk-rows "$CHUNK_ROWS"
  stop_daemons  # scikit-learn gets the machine to itself
fi
X_BYTES=$(/usr/bin/python3 -c "import numpy as np, sys; x = np.load(sys.argv[1], mmap_mode='r'); print(x.nbytes)" "$X_NPY")

echo "== scikit-learn ($(load)): /usr/bin/python3 bench/sklearn_kmeans.py --max-iter $MAX_ITER --repeats $REPEATS"
/usr/bin/python3 bench/sklearn_kmeans.py --data "$X_NPY" --init "$INIT_NPY" --max-iter "$MAX_ITER" \
  --repeats "$REPEATS" | tee "$logs/sklearn.out"
sklearn_s=$(parse_value sklearn_fit_s "$logs/sklearn.out")
sklearn_iter=$(parse_value sklearn_n_iter "$logs/sklearn.out")
sklearn_inertia=$(parse_value sklearn_inertia "$logs/sklearn.out")

echo "== memory bandwidth ($(load)): $BENCH membw --gib 1 --threads 2"
"$BENCH" membw --gib 1 --threads 2 --repeats 3 | tee "$logs/membw.out"
membw=$(parse_value membw_GBps "$logs/membw.out")

echo "== dtask ($(load)): dtask-scheduler + 2 x dtask-worker --nthreads 1 --memory-limit $MEMORY_LIMIT;" \
  "max_iter=$sklearn_iter (scikit-learn's n_iter_), tol=0, chunks of $CHUNK_ROWS rows"
start_daemons
"$BENCH" fit --scheduler "$address" --workers 2 --data "$X_NPY" --init "$INIT_NPY" --max-iter "$sklearn_iter" \
  --repeats "$REPEATS" --chunk-rows "$CHUNK_ROWS" | tee "$logs/dtask.out"
dtask_s=$(parse_value dtask_fit_s "$logs/dtask.out")
dtask_iter=$(parse_value dtask_n_iter "$logs/dtask.out")
dtask_inertia=$(parse_value dtask_inertia "$logs/dtask.out")
for pid in "${worker_pids[@]}"; do
  echo "dtask worker pid $pid: peak RSS $(awk '/^VmHWM/ { printf "%.0f MiB", $2 / 1024 }' "/proc/$pid/status")" \
    "(--memory-limit $MEMORY_LIMIT)"
done
stop_daemons

echo "n_iter: scikit-learn $sklearn_iter (max_iter $MAX_ITER, tol 0), dtask $dtask_iter"
if [[ $dtask_iter != "$sklearn_iter" ]]; then
  echo "kmeans: dtask ran $dtask_iter iterations, scikit-learn $sklearn_iter" >&2
  exit 1
fi
echo "inertia: scikit-learn $sklearn_inertia, dtask $dtask_inertia"
echo "summary: $ROWS x $FEATURES float64 ($X_BYTES bytes), $CENTERS clusters, $dtask_iter Lloyd iterations;" \
  "dtask (2 worker processes x 1 thread) $dtask_s s, scikit-learn (1 process, 2 OpenMP threads) $sklearn_s s;" \
  "$(load) at the end; $((SECONDS - started)) s in all"
awk -v a="$dtask_s" -v b="$sklearn_s" -v ia="$dtask_inertia" -v ib="$sklearn_inertia" -v n="$dtask_iter" \
  -v bytes="$X_BYTES" -v m="$membw" 'BEGIN {
  if (b <= 0 || a <= 0 || ib <= 0) { print "kmeans: a time or the inertia is zero" > "/dev/stderr"; exit 1 }
  d = ia - ib; if (d < 0) d = -d
  printf "kmeans dtask_s=%.3f sklearn_s=%.3f ratio=%.3f inertia_rel_diff=%.3g pass_GBps=%.2f membw_GBps=%.2f\n",
    a, b, a / b, d / ib, bytes / (a / n) / 1e9, m
}'
