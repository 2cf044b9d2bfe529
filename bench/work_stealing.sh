#!/usr/bin/env bash
# Work stealing on real daemons (dtask-scheduler + 2 dtask-workers x 1
# thread, fresh for each run): --tasks sleep tasks of --seconds each read one
# chunk made on the first worker, so placement piles them all there. Runs
# the graph with stealing on (the default) and with --no-work-stealing,
# --repeat times each, and prints the best time of each and their ratio.
#
#   bash bench/work_stealing.sh [--tasks 40] [--seconds 0.25] [--repeat 3] [--build-dir DIR]
#
# Last line: work_stealing on_s=<a> off_s=<b> speedup=<b/a> stolen=<steals in the best run on>
set -euo pipefail
cd "$(dirname "$0")/.."

TASKS=40
SECONDS_EACH=0.25
REPEAT=3
BUILD_DIR="${BUILD_DIR:-build}"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --tasks) TASKS="$2"; shift 2 ;;
    --seconds) SECONDS_EACH="$2"; shift 2 ;;
    --repeat) REPEAT="$2"; shift 2 ;;
    --build-dir) BUILD_DIR="$2"; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "work_stealing: unknown option: $1" >&2; exit 2 ;;
  esac
done

BENCH_NAME=work_stealing
source bench/lib/cluster.sh
BENCH="$BUILD_DIR/bench/dtask-bench-work-stealing"
bench_require_binaries "$BENCH" "$BUILD_DIR/scheduler/dtask-scheduler" "$BUILD_DIR/worker/dtask-worker"
logs=$(mktemp -d)
trap bench_cleanup EXIT

run_once() {  # $1 = label; scheduler flags in BENCH_SCHEDULER_ARGS
  bench_start_daemons 2 1 0
  if ! "$BENCH" --scheduler "$bench_address" --tasks "$TASKS" --seconds "$SECONDS_EACH" >"$logs/$1.out" 2>&1; then
    cat "$logs/$1.out" "$logs/scheduler.log" >&2
    exit 1
  fi
  bench_stop_daemons
  bench_pids=()
}

best() {  # $1 = label prefix: the lowest seconds= over its runs
  local i value best=""
  for ((i = 0; i < REPEAT; i++)); do
    value=$(bench_value seconds "$logs/$1-$i.out")
    if [[ -z $best ]] || awk -v a="$value" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$value; fi
  done
  printf '%s' "$best"
}

echo "work_stealing: $TASKS tasks x ${SECONDS_EACH} s on 2 workers x 1 thread, best of $REPEAT; $(bench_load)"
for ((i = 0; i < REPEAT; i++)); do
  BENCH_SCHEDULER_ARGS="" run_once "on-$i"
  BENCH_SCHEDULER_ARGS="--no-work-stealing" run_once "off-$i"
  echo "  run $i: on $(bench_value seconds "$logs/on-$i.out") s ($(bench_value stolen "$logs/on-$i.out") stolen," \
       "$(bench_value on_second "$logs/on-$i.out") run by the second worker), off $(bench_value seconds "$logs/off-$i.out") s" \
       "($(bench_value on_second "$logs/off-$i.out") by the second worker)"
done
on=$(best on)
off=$(best off)
stolen=""
for ((i = 0; i < REPEAT; i++)); do
  if [[ $(bench_value seconds "$logs/on-$i.out") == "$on" ]]; then stolen=$(bench_value stolen "$logs/on-$i.out"); fi
done
echo "work_stealing on_s=$on off_s=$off speedup=$(awk -v a="$on" -v b="$off" 'BEGIN { printf "%.2f", b / a }') stolen=$stolen"
