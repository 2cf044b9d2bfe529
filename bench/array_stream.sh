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
    -h|--help) sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "array_stream: unknown option: $1" >&2; exit 2 ;;
  esac
done

bash deploy/install-deps.sh --with-peers

BENCH="$BUILD_DIR/bench/dtask-bench-array-stream"
SCHEDULER="$BUILD_DIR/scheduler/dtask-scheduler"
WORKER="$BUILD_DIR/worker/dtask-worker"
for bin in "$BENCH" "$SCHEDULER" "$WORKER"; do
  if [[ ! -x $bin ]]; then
    echo "array_stream: $bin not found; build first: cmake --build $BUILD_DIR --target" \
      "dtask-bench-array-stream dtask-scheduler dtask-worker" >&2
    exit 1
  fi
done

logs=$(mktemp -d)  # daemon logs and captured outputs, always removed
pids=()
fresh_dir=""
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$logs"
  if [[ -n $fresh_dir ]]; then
    if [[ $KEEP == 1 ]]; then echo "array_stream: kept $fresh_dir"; else rm -rf "$fresh_dir"; fi
  fi
}
trap cleanup EXIT
if [[ -z $DATA_DIR ]]; then
  fresh_dir=$(mktemp -d "${TMPDIR:-/tmp}/dtask_array_stream.XXXXXX")
  DATA_DIR=$fresh_dir
fi
mkdir -p "$DATA_DIR"
FILE="$DATA_DIR/array_stream_${SIZE_GIB}gib.npy"

# Value of the last "KEY=<number>" line of a captured output file, or fail loudly.
parse_value() {  # $1 = key, $2 = file
  local value
  value=$(sed -n "s/^$1=\([0-9.eE+-]*\)\$/\1/p" "$2" | tail -n 1)
  if [[ -z $value ]]; then
    echo "array_stream: no '$1=' line in the output" >&2
    exit 1
  fi
  printf '%s' "$value"
}

# GB/s of a dd read, from the "N bytes (...) copied, S s, ..." line it prints.
dd_rate() {  # dd arguments...
  local line
  line=$(LC_ALL=C dd "$@" of=/dev/null bs=16M 2>&1 | grep ' copied, ' | tail -n 1) || return 1
  awk -v l="$line" 'BEGIN { split(l, w, " "); n = w[1]; s = l; sub(/.* copied, /, "", s); sub(/ s,.*/, "", s);
                            if (s <= 0 || n <= 0) exit 1; printf "%.3f", n / s / 1e9 }'
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
expected=$(parse_value numpy_sum "$logs/numpy.out")
echo "== page cache before the timed passes: $(cache_state); all passes below run warm" \
  "(one untimed pass first)"

# The daemons print "... listening on tcp://HOST:PORT" once they serve.
wait_address() {  # $1 = log file, $2 = pid
  local deadline=$((SECONDS + 30)) address
  while (( SECONDS < deadline )); do
    address=$(grep -o -m 1 'listening on tcp://[^ ]*' "$1" 2>/dev/null | sed 's/^listening on //') || true
    if [[ -n $address ]]; then printf '%s' "$address"; return 0; fi
    if ! kill -0 "$2" 2>/dev/null; then break; fi
    sleep 0.05
  done
  echo "array_stream: no address from $1:" >&2
  cat "$1" >&2
  return 1
}

echo "== dtask: dtask-scheduler + 2 x dtask-worker --nthreads $NTHREADS --memory-limit $MEMORY_LIMIT"
"$SCHEDULER" --host 127.0.0.1 --port 0 --dashboard-address 127.0.0.1:0 --log-level warn >"$logs/scheduler.log" 2>&1 &
pids+=($!)
address=$(wait_address "$logs/scheduler.log" "${pids[0]}")
worker_pids=()
for i in 0 1; do
  "$WORKER" "$address" --host 127.0.0.1 --nthreads "$NTHREADS" --memory-limit "$MEMORY_LIMIT" \
    --name "w$i" --local-directory "$logs/spill-$i" --log-level warn >"$logs/worker-$i.log" 2>&1 &
  pids+=($!)
  worker_pids+=($!)
done
echo "$BENCH --scheduler $address --path $FILE --chunk-rows $CHUNK_ROWS --workers 2 --repeats $REPEATS"
"$BENCH" --scheduler "$address" --path "$FILE" --chunk-rows "$CHUNK_ROWS" --workers 2 \
  --repeats "$REPEATS" --expected "$expected" | tee "$logs/dtask.out"
dtask_rate=$(parse_value dtask_GBps "$logs/dtask.out")
for pid in "${worker_pids[@]}"; do
  echo "dtask worker pid $pid: peak RSS $(awk '/^VmHWM/ { printf "%.0f MiB", $2 / 1024 }' "/proc/$pid/status")" \
    "(--memory-limit $MEMORY_LIMIT)"
done
for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
pids=()

echo "== dask: /usr/bin/python3 bench/dask_array_stream.py dask --chunk-rows $CHUNK_ROWS --repeats $REPEATS" \
  "--threads 2 --workers 2 --threads-per-worker 1 --memory-limit $MEMORY_LIMIT"
/usr/bin/python3 bench/dask_array_stream.py dask "$FILE" --chunk-rows "$CHUNK_ROWS" --repeats "$REPEATS" \
  --threads 2 --workers 2 --threads-per-worker 1 --memory-limit "$MEMORY_LIMIT" --expected "$expected" \
  | tee "$logs/dask.out"
dask_threaded_rate=$(parse_value dask_threaded_GBps "$logs/dask.out")
dask_rate=$(parse_value dask_GBps "$logs/dask.out")

echo "== page cache after the passes: $(cache_state)"
echo "summary: file $FILE_BYTES bytes, chunks of $CHUNK_ROWS rows; numpy sum $expected;" \
  "dtask $dtask_rate GB/s, dask.distributed $dask_rate GB/s, dask threaded $dask_threaded_rate GB/s (all warm:" \
  "file in the page cache); disk $disk_rate GB/s ($disk_note); page cache copy $cached_rate GB/s"
awk -v x="$dtask_rate" -v d="$disk_rate" -v y="$dask_rate" 'BEGIN {
  if (y <= 0) { print "array_stream: dask rate is zero" > "/dev/stderr"; exit 1 }
  printf "array_stream dtask_GBps=%.3f disk_GBps=%.3f dask_GBps=%.3f ratio_vs_dask=%.3f\n", x, d, y, x / y
}'
