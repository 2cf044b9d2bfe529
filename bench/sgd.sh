#!/usr/bin/env bash
# Out-of-core SGD, dtask vs scikit-learn, in the same run (issue 14): one
# epoch of SGDClassifier(loss="hinge", learning_rate="optimal",
# random_state=0) over a 4 GiB .npy (make_classification, 100 features,
# float64; 5,368,709 rows) streamed from disk in 50,000-row (40 MB) chunks,
# in file order, classes [0, 1]:
#  - dtask: dtask-scheduler + 2 x dtask-worker --nthreads 1 --memory-limit
#    (default 1GiB, a quarter of the file): Incremental (one chain of
#    partial_fit tasks, the model travelling to the chunks) and
#    ParameterAveraging (one replica per worker, averaged every 4 chunks by
#    a tree allreduce among the workers);
#  - scikit-learn: its partial_fit loop over np.load(mmap_mode="r") chunks
#    of the same file, one process.
# Each side times the fit alone; accuracy is on 200,000 held-out rows of
# the same make_classification call. --cold drops the page cache before
# each fit (needs root); without it each side first reads the file once,
# so both find it in the page cache.
#
#   bash bench/sgd.sh [--rows N] [--chunk-rows N] [--memory-limit M] [--dir DIR] [--keep] [--cold]
#        [--build-dir DIR] [--quick]
#
#   --rows N          training rows (default 5368709: 4 GiB of float64 x 100)
#   --chunk-rows N    rows per chunk, both sides (default 50000)
#   --memory-limit M  per dtask worker (default 1GiB)
#   --dir DIR         where the .npy files go; reused if they hold the same --rows, and kept
#   --keep            keep the fresh directory and its files
#   --cold            echo 3 > /proc/sys/vm/drop_caches before each side (default: read
#                     X.npy once before each side, so both find it in the page cache)
#   --quick           a smoke run: --rows 400000 unless --rows is given
#
# Progress goes to stderr. Last line:
# sgd dtask_inc_s=<a> dtask_avg_s=<b> sklearn_s=<c> ratio=<b/c> acc_dtask=<x> acc_sklearn=<y> worker_peak_rss_MiB=<m>
# (acc_dtask is ParameterAveraging's; Incremental's is on the summary line.)
set -euo pipefail
cd "$(dirname "$0")/.."

# KEEP and BENCH_NAME are read by bench/lib/cluster.sh.
# shellcheck disable=SC2034
ROWS=""
CHUNK_ROWS=50000
MEMORY_LIMIT=1GiB
DATA_DIR=""
KEEP=0
COLD=0
QUICK=0
BUILD_DIR="${BUILD_DIR:-build}"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rows) ROWS="$2"; shift 2 ;;
    --chunk-rows) CHUNK_ROWS="$2"; shift 2 ;;
    --memory-limit) MEMORY_LIMIT="$2"; shift 2 ;;
    --dir) DATA_DIR="$2"; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --cold) COLD=1; shift ;;
    --quick) QUICK=1; shift ;;
    --build-dir) BUILD_DIR="$2"; shift 2 ;;
    -h|--help) sed -n '2,33p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "sgd: unknown option: $1" >&2; exit 2 ;;
  esac
done
if [[ -z $ROWS ]]; then
  if [[ $QUICK == 1 ]]; then ROWS=400000; else ROWS=5368709; fi
fi

bash deploy/install-deps.sh --with-peers >&2

BENCH="$BUILD_DIR/bench/dtask-bench-sgd"
# shellcheck disable=SC2034
BENCH_NAME=sgd
# shellcheck source=bench/lib/cluster.sh
source bench/lib/cluster.sh
bench_require_binaries "$BENCH" "$BUILD_DIR/scheduler/dtask-scheduler" "$BUILD_DIR/worker/dtask-worker"

logs=$(mktemp -d)  # daemon logs and captured outputs, always removed
trap bench_cleanup EXIT
bench_data_dir dtask_sgd

say() { echo "== $*" >&2; }
# Warm runs read the file once first, so that each side finds it in the page
# cache whatever ran before (a build can evict it).
drop_caches() {
  if [[ $COLD == 0 ]]; then
    cat "$DATA_DIR/X.npy" >/dev/null
    return
  fi
  if [[ $COLD == 1 ]]; then
    sync
    if ! echo 3 >/proc/sys/vm/drop_caches 2>/dev/null; then
      echo "sgd: --cold needs root (cannot write /proc/sys/vm/drop_caches)" >&2
      exit 1
    fi
    say "page cache dropped"
  fi
}
started=$SECONDS
say "$(nproc) CPUs, $(bench_load), $(awk '/^MemAvailable/ { printf "%.1f GiB available", $2 / 1048576 }' /proc/meminfo)"
if [[ -f $DATA_DIR/X.npy && -f $DATA_DIR/test_y.npy && $(cat "$DATA_DIR/shape" 2>/dev/null) == "$ROWS" ]]; then
  say "reusing $DATA_DIR ($ROWS rows)"
else
  say "prepare: scikit-learn's make_classification -> $DATA_DIR"
  /usr/bin/python3 bench/sklearn_sgd.py prepare --dir "$DATA_DIR" --rows "$ROWS" >&2
  echo "$ROWS" >"$DATA_DIR/shape"
fi
say "X.npy: $(du -h "$DATA_DIR/X.npy" | cut -f 1)"

drop_caches
say "scikit-learn ($(bench_load)): partial_fit loop over mmap chunks of $CHUNK_ROWS rows"
/usr/bin/python3 bench/sklearn_sgd.py fit --dir "$DATA_DIR" --chunk-rows "$CHUNK_ROWS" | tee "$logs/sklearn.out" >&2
sklearn_s=$(bench_value sklearn_s "$logs/sklearn.out")
acc_sklearn=$(bench_value acc_sklearn "$logs/sklearn.out")

drop_caches
say "dtask ($(bench_load)): dtask-scheduler + 2 x dtask-worker --nthreads 1 --memory-limit $MEMORY_LIMIT"
bench_start_daemons 2 1 "$MEMORY_LIMIT"
"$BENCH" --scheduler "$bench_address" --workers 2 --dir "$DATA_DIR" --chunk-rows "$CHUNK_ROWS" --fit inc 2>&1 |
  tee "$logs/dtask.out" >&2
drop_caches
"$BENCH" --scheduler "$bench_address" --workers 2 --dir "$DATA_DIR" --chunk-rows "$CHUNK_ROWS" --fit avg 2>&1 |
  tee -a "$logs/dtask.out" >&2
peak_rss=0
for pid in "${bench_worker_pids[@]}"; do
  rss=$(awk '/^VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/$pid/status")
  echo "dtask worker pid $pid: peak RSS $rss MiB (limit $MEMORY_LIMIT)" >&2
  (( rss > peak_rss )) && peak_rss=$rss
done
bench_stop_daemons
inc_s=$(bench_value inc_s "$logs/dtask.out")
avg_s=$(bench_value avg_s "$logs/dtask.out")
acc_inc=$(bench_value acc_inc "$logs/dtask.out")
acc_avg=$(bench_value acc_avg "$logs/dtask.out")

echo "summary: 1 epoch over $ROWS x 100 float64 in $CHUNK_ROWS-row chunks$([[ $COLD == 1 ]] && echo ', cold cache'):" \
  "dtask Incremental $inc_s s (accuracy $acc_inc), ParameterAveraging on 2 workers $avg_s s (accuracy $acc_avg)," \
  "scikit-learn partial_fit loop $sklearn_s s (accuracy $acc_sklearn); worker peak RSS $peak_rss MiB;" \
  "$(nproc) CPUs, $(bench_load) at the end; $((SECONDS - started)) s in all"
awk -v a="$inc_s" -v b="$avg_s" -v c="$sklearn_s" -v x="$acc_avg" -v y="$acc_sklearn" -v m="$peak_rss" 'BEGIN {
  if (a <= 0 || b <= 0 || c <= 0) { print "sgd: a time is zero" > "/dev/stderr"; exit 1 }
  printf "sgd dtask_inc_s=%.3f dtask_avg_s=%.3f sklearn_s=%.3f ratio=%.3f acc_dtask=%.4f acc_sklearn=%.4f worker_peak_rss_MiB=%d\n",
    a, b, c, b / c, x, y, m
}'
