#!/usr/bin/env bash
# Scheduler throughput, dtask vs dask.distributed, on the same graph:
# N trivial tasks fanned out, then one sum over all of them (N+1 tasks),
# 2 local workers x 1 thread, best of --repeats runs after a warm-up,
# timed from submit to result (cluster start-up excluded).
#
#   bash bench/scheduler_throughput.sh [--tasks N] [--build-dir DIR] [--repeats R]
#                                      [--dashboard [--poll-ms MS]]
#
# Last line: scheduler_throughput dtask_tasks_per_s=<x> dask_tasks_per_s=<y> ratio=<x/y>
# --dashboard: dtask only, runs alternating without and with a client polling
# the dashboard (as the status page does, plus /metrics) every MS ms
# (default 100); last line: scheduler_throughput_dashboard ... ratio=<polled/plain>
set -euo pipefail
cd "$(dirname "$0")/.."

TASKS=100000
BUILD_DIR="${BUILD_DIR:-build}"
REPEATS=3
DASHBOARD=0
POLL_MS=100
while [[ $# -gt 0 ]]; do
  case "$1" in
    --tasks) TASKS="$2"; shift 2 ;;
    --tasks=*) TASKS="${1#*=}"; shift ;;
    --build-dir) BUILD_DIR="$2"; shift 2 ;;
    --build-dir=*) BUILD_DIR="${1#*=}"; shift ;;
    --repeats) REPEATS="$2"; shift 2 ;;
    --repeats=*) REPEATS="${1#*=}"; shift ;;
    --dashboard) DASHBOARD=1; shift ;;
    --poll-ms) POLL_MS="$2"; shift 2 ;;
    --poll-ms=*) POLL_MS="${1#*=}"; shift ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "scheduler_throughput: unknown option: $1" >&2; exit 2 ;;
  esac
done

if [[ $DASHBOARD == 0 ]]; then
  bash deploy/install-deps.sh --with-peers
fi

BENCH="$BUILD_DIR/bench/dtask-bench-throughput"
if [[ ! -x $BENCH ]]; then
  echo "scheduler_throughput: $BENCH not found; build first: BUILD_DIR=$BUILD_DIR bash deploy/build.sh" >&2
  exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Value of the last "KEY=<number>" line of a captured output file, or fail loudly.
parse_rate() {  # $1 = key, $2 = file
  local value
  value=$(sed -n "s/^$1=\([0-9.eE+-]*\)\$/\1/p" "$2" | tail -n 1)
  if [[ -z $value ]]; then
    echo "scheduler_throughput: no '$1=' line in the output" >&2
    exit 1
  fi
  printf '%s' "$value"
}

if [[ $DASHBOARD == 1 ]]; then
  echo "== dtask with the dashboard polled every $POLL_MS ms: $BENCH --tasks $TASKS --workers 2 --threads 1 --repeats $REPEATS --dashboard-poll-ms $POLL_MS"
  "$BENCH" --tasks "$TASKS" --workers 2 --threads 1 --repeats "$REPEATS" --dashboard-poll-ms "$POLL_MS" | tee "$tmp/dtask.out"
  plain=$(parse_rate dtask_tasks_per_s "$tmp/dtask.out")
  polled=$(parse_rate dtask_polled_tasks_per_s "$tmp/dtask.out")
  awk -v x="$polled" -v y="$plain" -v ms="$POLL_MS" 'BEGIN {
    printf "scheduler_throughput_dashboard plain_tasks_per_s=%.0f polled_tasks_per_s=%.0f poll_ms=%d ratio=%.3f drop=%.1f%%\n", y, x, ms, x / y, 100 * (1 - x / y)
  }'
  exit 0
fi

echo "== dtask: $BENCH --tasks $TASKS --workers 2 --threads 1 --repeats $REPEATS"
"$BENCH" --tasks "$TASKS" --workers 2 --threads 1 --repeats "$REPEATS" | tee "$tmp/dtask.out"
dtask_rate=$(parse_rate dtask_tasks_per_s "$tmp/dtask.out")

echo "== dask.distributed: /usr/bin/python3 bench/dask_throughput.py --tasks $TASKS --workers 2 --repeats $REPEATS"
/usr/bin/python3 bench/dask_throughput.py --tasks "$TASKS" --workers 2 --threads 1 \
  --repeats "$REPEATS" | tee "$tmp/dask.out"
dask_rate=$(parse_rate dask_tasks_per_s "$tmp/dask.out")

awk -v x="$dtask_rate" -v y="$dask_rate" 'BEGIN {
  if (y <= 0) { print "scheduler_throughput: dask rate is zero" > "/dev/stderr"; exit 1 }
  printf "scheduler_throughput dtask_tasks_per_s=%.0f dask_tasks_per_s=%.0f ratio=%.2f\n", x, y, x / y
}'
