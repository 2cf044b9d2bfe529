#!/usr/bin/env bash
# What the scheduler journal (--journal) costs: scheduler throughput on the
# throughput graph (N trivial tasks fanned out, then one sum) with and
# without a journal, real daemons (scheduler + 2 workers x 1 thread), in
# alternating rounds so drift in the machine's load hits both alike. The
# peer is the same scheduler without a journal (Dask keeps none).
#
#   bash bench/journal_overhead.sh [--tasks N] [--rounds R] [--build-dir DIR]
#
# Last line: journal_overhead plain_tasks_per_s=<x> journal_tasks_per_s=<y> ratio=<y/x> journal_bytes=<b>
set -euo pipefail
cd "$(dirname "$0")/.."

TASKS=100000
ROUNDS=3
BUILD_DIR="${BUILD_DIR:-build}"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --tasks) TASKS="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --build-dir) BUILD_DIR="$2"; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "journal_overhead: unknown option: $1" >&2; exit 2 ;;
  esac
done

BENCH_NAME=journal_overhead
source bench/lib/cluster.sh
BENCH="$BUILD_DIR/bench/dtask-bench-throughput"
bench_require_binaries "$BENCH" "$BUILD_DIR/scheduler/dtask-scheduler" "$BUILD_DIR/worker/dtask-worker"
logs=$(mktemp -d)
trap bench_cleanup EXIT

# One round: fresh daemons (with the given scheduler flags), 3 timed runs; prints the best rate.
run_round() {  # $1 = label
  bench_start_daemons 2 1 0
  if ! "$BENCH" --scheduler "$bench_address" --tasks "$TASKS" --repeats 3 >"$logs/$1.out" 2>&1; then
    cat "$logs/$1.out" "$logs/scheduler.log" >&2
    exit 1
  fi
  bench_stop_daemons
  bench_value dtask_tasks_per_s "$logs/$1.out"
}

echo "journal_overhead: $TASKS tasks + 1 sum, 2 workers x 1 thread, $ROUNDS rounds; $(bench_load)"
best_plain=0 best_journal=0 journal_bytes=0
for ((r = 1; r <= ROUNDS; r++)); do
  BENCH_SCHEDULER_ARGS=""
  plain=$(run_round "plain-$r")
  rm -rf "$logs/journal"
  BENCH_SCHEDULER_ARGS="--journal $logs/journal"
  journal=$(run_round "journal-$r")
  journal_bytes=$(stat -c %s "$logs/journal/journal.dtj")
  echo "round $r: plain $plain tasks/s, journal $journal tasks/s (journal file $journal_bytes bytes)"
  best_plain=$(awk -v a="$best_plain" -v b="$plain" 'BEGIN { print (b > a ? b : a) }')
  best_journal=$(awk -v a="$best_journal" -v b="$journal" 'BEGIN { print (b > a ? b : a) }')
done
ratio=$(awk -v a="$best_journal" -v b="$best_plain" 'BEGIN { printf "%.3f", a / b }')
echo "journal_overhead plain_tasks_per_s=$best_plain journal_tasks_per_s=$best_journal ratio=$ratio journal_bytes=$journal_bytes"
