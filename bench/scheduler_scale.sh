#!/usr/bin/env bash
# The scheduler at scale, on real daemons (dtask-scheduler + 2 dtask-workers
# x 1 thread, fresh for every run so each one's memory is its own):
#   - the fan-out + sum graph at 10k, 100k, 1M and 4M tasks: rate, the
#     scheduler's peak RSS per task, and each daemon's RSS after the graph is
#     released against before it;
#   - a 1M-task graph with a realistic shape (a chunked-array reduction tree
#     next to a shuffle-like all-to-all between two 1,000-task layers);
#   - a chain of 10,000 dependent tasks (microseconds per hop) and 2,000
#     sequential submit().result() round trips;
#   - where each task's CPU goes: client, scheduler (and, from the
#     scheduler's own counters, its transitions, decode and encode), workers.
# dtask-bench-scale runs each graph; dask.distributed's chain is the peer
# for latency (--no-peer skips it; Dask at a million tasks takes too long).
#
#   bash bench/scheduler_scale.sh [--sizes "10000 100000 1000000 4000000"] [--build-dir DIR] [--no-peer]
#
# Last line: scheduler_scale rate_100k=<a> rate_1m=<b> rate_4m=<c> ratio_1m=<b/a> ratio_4m=<c/a>
#   sched_bytes_per_task_1m=<x> sched_bytes_per_task_4m=<y> rss_growth_MiB=<max over all runs and daemons>
#   chain_us_per_hop=<h> roundtrip_us=<r>
set -euo pipefail
cd "$(dirname "$0")/.."

SIZES="10000 100000 1000000 4000000"
BUILD_DIR="${BUILD_DIR:-build}"
PEER=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --sizes) SIZES="$2"; shift 2 ;;
    --build-dir) BUILD_DIR="$2"; shift 2 ;;
    --no-peer) PEER=0; shift ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "scheduler_scale: unknown option: $1" >&2; exit 2 ;;
  esac
done

BENCH_NAME=scheduler_scale
source bench/lib/cluster.sh
BENCH="$BUILD_DIR/bench/dtask-bench-scale"
bench_require_binaries "$BENCH" "$BUILD_DIR/scheduler/dtask-scheduler" "$BUILD_DIR/worker/dtask-worker"
logs=$(mktemp -d)
trap bench_cleanup EXIT

# A KEY= value from the output of run $1.
value() { bench_value "$2" "$logs/$1.out"; }

# One graph on fresh daemons; its KEY=VALUE output lands in $logs/$1.out.
run_graph() {  # $1 = label, $2 = graph, $3 = size
  bench_start_daemons 2 1 0
  if ! "$BENCH" --scheduler "$bench_address" --graph "$2" --tasks "$3" --pids "${bench_pids[@]}" >"$logs/$1.out" 2>&1; then
    cat "$logs/$1.out" "$logs/scheduler.log" >&2
    exit 1
  fi
  bench_stop_daemons
  local v=(value "$1")
  printf '%-14s %9s tasks %7.2f s %8.0f tasks/s | peak %7.1f MiB, %5.0f B/task | RSS after release +%.1f MiB | CPU us/task: client %.1f, scheduler %.1f (transitions %.1f, decode %.1f, encode %.1f), workers %.1f + %.1f\n' \
    "$1" "$("${v[@]}" tasks)" "$("${v[@]}" seconds)" "$("${v[@]}" tasks_per_s)" "$("${v[@]}" sched_peak_MiB)" \
    "$("${v[@]}" sched_bytes_per_task)" "$("${v[@]}" rss_growth_MiB)" "$("${v[@]}" client_cpu_us_per_task)" \
    "$("${v[@]}" sched_0_cpu_us_per_task)" "$("${v[@]}" sched_transition_seconds_us_per_task)" \
    "$("${v[@]}" sched_decode_seconds_us_per_task)" "$("${v[@]}" sched_encode_seconds_us_per_task)" \
    "$("${v[@]}" worker_1_cpu_us_per_task)" "$("${v[@]}" worker_2_cpu_us_per_task)"
}

max_growth=0
note_growth() {
  max_growth=$(awk -v a="$max_growth" -v b="$(value "$1" rss_growth_MiB)" 'BEGIN { print (b > a ? b : a) }')
}

echo "scheduler_scale: 2 workers x 1 thread, fresh daemons per run; $(bench_load)"
for size in $SIZES; do
  run_graph "fanout-$size" fanout "$size"
  note_growth "fanout-$size"
done
run_graph realistic-1m realistic 1000000
note_growth realistic-1m
run_graph chain-10k chain 10000
run_graph roundtrip-2k roundtrip 2000
chain_us=$(value chain-10k us_per_task)
roundtrip_us=$(value roundtrip-2k us_per_task)
echo "chain: $chain_us us per hop; round trip: $roundtrip_us us per submit().result()"

if [[ $PEER == 1 ]]; then
  bash deploy/install-deps.sh --with-peers >/dev/null
  echo "== dask.distributed: /usr/bin/python3 bench/dask_chain.py --tasks 10000 --roundtrips 2000"
  /usr/bin/python3 bench/dask_chain.py --tasks 10000 --roundtrips 2000 | tee "$logs/dask-chain.out"
  dask_hop=$(bench_value dask_us_per_hop "$logs/dask-chain.out")
  dask_rt=$(bench_value dask_roundtrip_us "$logs/dask-chain.out")
  awk -v d="$chain_us" -v k="$dask_hop" -v r="$roundtrip_us" -v q="$dask_rt" 'BEGIN {
    printf "chain: dtask %.1f us per hop, Dask %.1f (%.1fx); round trip: dtask %.1f us, Dask %.1f (%.1fx)\n", d, k, k / d, r, q, q / r
  }'
fi

# 0 for a size not in --sizes.
# fanout_value SIZE KEY: KEY of the fan-out of SIZE tasks, 0 when that size was not run.
fanout_value() { if [[ -f $logs/fanout-$1.out ]]; then value "fanout-$1" "$2"; else echo 0; fi; }
awk -v a="$(fanout_value 100000 tasks_per_s)" -v b="$(fanout_value 1000000 tasks_per_s)" \
  -v c="$(fanout_value 4000000 tasks_per_s)" -v x="$(fanout_value 1000000 sched_bytes_per_task)" \
  -v y="$(fanout_value 4000000 sched_bytes_per_task)" \
  -v g="$max_growth" -v h="$chain_us" -v r="$roundtrip_us" 'BEGIN {
  printf "scheduler_scale rate_100k=%.0f rate_1m=%.0f rate_4m=%.0f ratio_1m=%.3f ratio_4m=%.3f sched_bytes_per_task_1m=%.0f sched_bytes_per_task_4m=%.0f rss_growth_MiB=%.1f chain_us_per_hop=%.1f roundtrip_us=%.1f\n",
    a, b, c, (a > 0 ? b / a : 0), (a > 0 ? c / a : 0), x, y, g, h, r
}'
