#!/usr/bin/env bash
# Streaming a .npy file: one full pass of X.sum() over a float64 (rows, 16)
# file (4 GiB by default), dtask vs dask.array, against the disk's rate.
#  - dtask: a real dtask-scheduler and 2 dtask-worker processes
#    (--memory-limit, --nthreads), Array::from_npy(path, ~32 MiB chunks).sum().
#  - dask: da.from_array(np.load(path, mmap_mode='r'), chunks=(same rows, 16)).sum()
#    on the threaded scheduler (2 threads) and on a dask.distributed LocalCluster
#    (2 workers x 1 thread, same memory limit): the distributed one is the peer.
#  - disk: dd iflag=direct of the same file (bypasses the page cache).
# Both sides run warm: one untimed pass, then the best of --repeats timed ones,
# each checked against numpy's sum. GB/s is file bytes (1e9 per GB) / seconds.
#
#   bash bench/array_stream.sh [--size-gib G] [--dir DIR] [--keep] [--repeats R]
#        [--nthreads N] [--memory-limit M] [--chunk-mib C] [--build-dir DIR]
#
#   --size-gib G      file size (default 4; 1 for a quick run)
#   --dir DIR         where the file lives; reused if present and kept (default:
#                     a fresh directory under $TMPDIR, removed at the end)
#   --keep            keep the fresh directory and its file
#   --repeats R       timed passes per system, best reported (default 3)
#   --nthreads N      threads per dtask worker (default 1: two workers x one
#                     thread fill the 2 cores; more would only contend)
#   --memory-limit M  per worker, dtask and dask alike (default 512MiB)
#   --chunk-mib C     chunk size for both (default 32)
#   --cold-repeats K  cold passes per chunking with --cold (default 5)
#   --cold            instead: cold-cache passes (needs root: the page cache is
#                     dropped before each) of dtask with Array::from_npy's
#                     default chunking and with 4, 16, 32, 64 and 128 MiB
#                     chunks (the median of --cold-repeats passes each; the
#                     best is taken over the explicit sizes), numpy's memmap
#                     loop (100,000-row slices, one thread) and dd
#                     iflag=direct. Last line:
#                     array_stream_cold default_GBps=<a> best_GBps=<b> best_chunk=<c>
#                     numpy_memmap_GBps=<n> disk_GBps=<d> default_vs_best=<a/b> default_vs_numpy=<a/n>
#
# Last line: array_stream dtask_GBps=<x> disk_GBps=<d> dask_GBps=<y> ratio_vs_dask=<x/y>
set -euo pipefail
cd "$(dirname "$0")/.."

SIZE_GIB=4
DATA_DIR=""
KEEP=0
REPEATS=3
NTHREADS=1
MEMORY_LIMIT=512MiB
CHUNK_MIB=32
COLD=0
COLD_REPEATS=5
BUILD_DIR="${BUILD_DIR:-build}"
COLS=16  # dask_array_stream.py create writes (rows, 16)
while [[ $# -gt 0 ]]; do
  case "$1" in
    --size-gib) SIZE_GIB="$2"; shift 2 ;;
    --size-gib=*) SIZE_GIB="${1#*=}"; shift ;;
    --dir) DATA_DIR="$2"; shift 2 ;;
    --dir=*) DATA_DIR="${1#*=}"; shift ;;
    --keep) KEEP=1; shift ;;
    --repeats) REPEATS="$2"; shift 2 ;;
    --repeats=*) REPEATS="${1#*=}"; shift ;;
    --nthreads) NTHREADS="$2"; shift 2 ;;
    --nthreads=*) NTHREADS="${1#*=}"; shift ;;
    --memory-limit) MEMORY_LIMIT="$2"; shift 2 ;;
    --memory-limit=*) MEMORY_LIMIT="${1#*=}"; shift ;;
    --chunk-mib) CHUNK_MIB="$2"; shift 2 ;;
    --chunk-mib=*) CHUNK_MIB="${1#*=}"; shift ;;
    --build-dir) BUILD_DIR="$2"; shift 2 ;;
    --build-dir=*) BUILD_DIR="${1#*=}"; shift ;;
    --cold) COLD=1; shift ;;
    --cold-repeats) COLD_REPEATS="$2"; shift 2 ;;
    --cold-repeats=*) COLD_REPEATS="${1#*=}"; shift ;;
    -h|--help) sed -n '2,36p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "array_stream: unknown option: $1" >&2; exit 2 ;;
  esac
done

bash deploy/install-deps.sh --with-peers

BENCH="$BUILD_DIR/bench/dtask-bench-array-stream"
BENCH_NAME=array_stream
source bench/lib/cluster.sh
bench_require_binaries "$BENCH" "$BUILD_DIR/scheduler/dtask-scheduler" "$BUILD_DIR/worker/dtask-worker"

logs=$(mktemp -d)  # daemon logs and captured outputs, always removed
trap bench_cleanup EXIT
bench_data_dir dtask_array_stream
FILE="$DATA_DIR/array_stream_${SIZE_GIB}gib.npy"


# GB/s of a dd read, from the "N bytes (...) copied, S s, ..." line it prints.
dd_rate() {  # dd arguments...
  local line
  line=$(LC_ALL=C dd "$@" of=/dev/null bs=16M 2>&1 | grep ' copied, ' | tail -n 1) || return 1
  awk -v l="$line" 'BEGIN { split(l, w, " "); n = w[1]; s = l; sub(/.* copied, /, "", s); sub(/ s,.*/, "", s);
                            if (s <= 0 || n <= 0) exit 1; printf "%.3f", n / s / 1e9 }'
}

# The median of its numeric arguments (the mean of the middle two for an even count).
median_of() {
  printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) exit 1;
    if (NR % 2) printf "%.3f", v[(NR + 1) / 2]; else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# How much of the file the page cache holds, as "R of S MiB" (fincore, util-linux).
cache_state() {
  if command -v fincore >/dev/null 2>&1; then
    local res
    res=$(fincore --bytes --noheadings --output RES "$FILE" 2>/dev/null | tr -d ' ') || true
    if [[ -n $res ]]; then
      awk -v r="$res" -v s="$(stat -c %s "$FILE")" 'BEGIN { printf "%.0f of %.0f MiB (%.0f%%)", r / 1048576, s / 1048576, 100 * r / s }'
      return
    fi
  fi
  printf 'unknown (no fincore)'
}

if [[ -f $FILE ]]; then
  echo "== reusing $FILE"
else
  echo "== creating $FILE (${SIZE_GIB} GiB): /usr/bin/python3 bench/dask_array_stream.py create"
  /usr/bin/python3 bench/dask_array_stream.py create "$FILE" --gib "$SIZE_GIB"
fi
FILE_BYTES=$(stat -c %s "$FILE")
CHUNK_ROWS=$(( CHUNK_MIB * 1048576 / (COLS * 8) ))

if [[ $COLD == 1 ]]; then
  drop_cache() {
    sync
    if ! echo 3 >/proc/sys/vm/drop_caches 2>/dev/null; then
      echo "array_stream: --cold needs root (cannot write /proc/sys/vm/drop_caches)" >&2
      exit 1
    fi
  }
  echo "== cold passes: the page cache is dropped before each; dtask-scheduler + 2 x dtask-worker" \
    "--nthreads $NTHREADS --memory-limit $MEMORY_LIMIT"
  bench_start_daemons 2 "$NTHREADS" "$MEMORY_LIMIT"
  settings=(4 16 32 64 128 default)
  declare -A rates=()  # setting -> its passes' GB/s, space-separated
  # Rounds interleave the settings so that a burst of noise (another process,
  # the host's own cache) lands on one pass of each, not on all of one; the
  # median of a setting's passes is what is compared. The default goes last in
  # a round: the first pass after start pays for fresh worker memory.
  for ((round = 1; round <= COLD_REPEATS; round++)); do
    for setting in "${settings[@]}"; do
      drop_cache
      if [[ $setting == default ]]; then chunking=(--default-chunks); else chunking=(--chunk-mib "$setting"); fi
      "$BENCH" --scheduler "$bench_address" --path "$FILE" "${chunking[@]}" --workers 2 --repeats 0 >"$logs/cold.out"
      rate=$(bench_value first_pass_GBps "$logs/cold.out")
      rates[$setting]+="$rate "
      echo "round $round: dtask cold, $setting$([[ $setting != default ]] && echo ' MiB') chunks" \
        "($(grep -o 'chunks of about [0-9]* rows ([0-9]* MiB)' "$logs/cold.out")): $rate GB/s"
    done
  done
  best=0
  best_chunk=""
  for setting in "${settings[@]}"; do
    median=$(median_of ${rates[$setting]})
    echo "dtask cold, $setting chunks: median $median GB/s of ${rates[$setting]}"
    if [[ $setting == default ]]; then default_rate=$median; continue; fi
    if awk -v r="$median" -v b="$best" 'BEGIN { exit !(r > b) }'; then best=$median; best_chunk=$setting; fi
  done
  bench_report_worker_rss
  bench_stop_daemons
  numpy_rates=""
  disk_rates=""
  for ((round = 1; round <= COLD_REPEATS; round++)); do
    drop_cache
    numpy_rates+="$(/usr/bin/python3 - "$FILE" <<'PY'
import sys, time
import numpy as np
X = np.load(sys.argv[1], mmap_mode="r")
start, total = time.perf_counter(), 0.0
for lo in range(0, X.shape[0], 100_000):
    total += float(X[lo:lo + 100_000].sum())
print(f"{X.nbytes / (time.perf_counter() - start) / 1e9:.3f}")
PY
) "
    drop_cache
    disk_rates+="$(dd_rate if="$FILE" iflag=direct || echo 0) "
  done
  numpy_rate=$(median_of $numpy_rates)
  disk_rate=$(median_of $disk_rates)
  echo "numpy memmap loop, cold, 100,000-row slices: median $numpy_rate GB/s of $numpy_rates"
  echo "dd iflag=direct: median $disk_rate GB/s of $disk_rates"
  awk -v a="$default_rate" -v b="$best" -v c="$best_chunk" -v n="$numpy_rate" -v d="$disk_rate" 'BEGIN {
    printf "array_stream_cold default_GBps=%.3f best_GBps=%.3f best_chunk=%s numpy_memmap_GBps=%.3f disk_GBps=%.3f default_vs_best=%.3f default_vs_numpy=%.3f\n",
      a, b, c, n, d, a / b, a / n
  }'
  exit 0
fi

echo "== page cache before the disk read: $(cache_state)"
echo "== disk: dd if=$FILE of=/dev/null bs=16M iflag=direct"
if disk_rate=$(dd_rate if="$FILE" iflag=direct); then
  disk_note="O_DIRECT, page cache bypassed"
else
  echo "array_stream: O_DIRECT reads unsupported here; dropping the page cache needs root, so the" \
    "disk rate below is a plain (cached) read" >&2
  disk_rate=$(dd_rate if="$FILE")
  disk_note="cached: plain read, O_DIRECT unsupported"
fi
fs_type=$(stat -f -c %T "$FILE" 2>/dev/null || echo unknown)
if [[ $fs_type == tmpfs || $fs_type == ramfs ]]; then
  disk_note="$disk_note; the file is on $fs_type: memory, not a disk"
fi
echo "disk_GBps=$disk_rate ($disk_note)"
cached_rate=$(dd_rate if="$FILE")
echo "page cache copy (plain dd, bs=16M, one thread): ${cached_rate} GB/s"

echo "== numpy reference sum (also warms the page cache): /usr/bin/python3 bench/dask_array_stream.py numpy"
/usr/bin/python3 bench/dask_array_stream.py numpy "$FILE" | tee "$logs/numpy.out"
expected=$(bench_value numpy_sum "$logs/numpy.out")
echo "== page cache before the timed passes: $(cache_state); all passes below run warm" \
  "(one untimed pass first)"


echo "== dtask: dtask-scheduler + 2 x dtask-worker --nthreads $NTHREADS --memory-limit $MEMORY_LIMIT"
bench_start_daemons 2 "$NTHREADS" "$MEMORY_LIMIT"
address=$bench_address
echo "$BENCH --scheduler $address --path $FILE --chunk-rows $CHUNK_ROWS --workers 2 --repeats $REPEATS"
"$BENCH" --scheduler "$address" --path "$FILE" --chunk-rows "$CHUNK_ROWS" --workers 2 \
  --repeats "$REPEATS" --expected "$expected" | tee "$logs/dtask.out"
dtask_rate=$(bench_value dtask_GBps "$logs/dtask.out")
bench_report_worker_rss
bench_stop_daemons

echo "== dask: /usr/bin/python3 bench/dask_array_stream.py dask --chunk-rows $CHUNK_ROWS --repeats $REPEATS" \
  "--threads 2 --workers 2 --threads-per-worker 1 --memory-limit $MEMORY_LIMIT"
/usr/bin/python3 bench/dask_array_stream.py dask "$FILE" --chunk-rows "$CHUNK_ROWS" --repeats "$REPEATS" \
  --threads 2 --workers 2 --threads-per-worker 1 --memory-limit "$MEMORY_LIMIT" --expected "$expected" \
  | tee "$logs/dask.out"
dask_threaded_rate=$(bench_value dask_threaded_GBps "$logs/dask.out")
dask_rate=$(bench_value dask_GBps "$logs/dask.out")

echo "== page cache after the passes: $(cache_state)"
echo "summary: file $FILE_BYTES bytes, chunks of $CHUNK_ROWS rows; numpy sum $expected;" \
  "dtask $dtask_rate GB/s, dask.distributed $dask_rate GB/s, dask threaded $dask_threaded_rate GB/s (all warm:" \
  "file in the page cache); disk $disk_rate GB/s ($disk_note); page cache copy $cached_rate GB/s"
awk -v x="$dtask_rate" -v d="$disk_rate" -v y="$dask_rate" 'BEGIN {
  if (y <= 0) { print "array_stream: dask rate is zero" > "/dev/stderr"; exit 1 }
  printf "array_stream dtask_GBps=%.3f disk_GBps=%.3f dask_GBps=%.3f ratio_vs_dask=%.3f\n", x, d, y, x / y
}'
