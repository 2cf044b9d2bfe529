# Shared by the bench scripts (source it): start and stop a real
# dtask-scheduler with worker processes, parse "KEY=<number>" outputs, and
# describe the machine's load. Callers set $BENCH_NAME (error prefix),
# $BUILD_DIR and $logs (a directory for daemon logs), and call
# bench_stop_daemons from their EXIT trap.

bench_pids=()

bench_load() { printf 'load average %s' "$(cut -d ' ' -f 1-3 /proc/loadavg)"; }

# Value of the last "KEY=<number>" line of a captured output file, or fail loudly.
bench_value() {  # $1 = key, $2 = file
  local value
  value=$(sed -n "s/^$1=\([0-9.eE+-]*\)\$/\1/p" "$2" | tail -n 1)
  if [[ -z $value ]]; then
    echo "$BENCH_NAME: no '$1=' line in the output" >&2
    exit 1
  fi
  printf '%s' "$value"
}

# Exits unless every named binary exists under $BUILD_DIR.
bench_require_binaries() {  # $@ = paths
  local bin
  for bin in "$@"; do
    if [[ ! -x $bin ]]; then
      echo "$BENCH_NAME: $bin not found; build first: cmake --build $BUILD_DIR" >&2
      exit 1
    fi
  done
}

# The daemons print "... listening on tcp://HOST:PORT" once they serve.
bench_wait_address() {  # $1 = log file, $2 = pid
  local deadline=$((SECONDS + 30)) address
  while (( SECONDS < deadline )); do
    address=$(grep -o -m 1 'listening on tcp://[^ ]*' "$1" 2>/dev/null | sed 's/^listening on //') || true
    if [[ -n $address ]]; then printf '%s' "$address"; return 0; fi
    if ! kill -0 "$2" 2>/dev/null; then break; fi
    sleep 0.05
  done
  echo "$BENCH_NAME: no address from $1:" >&2
  cat "$1" >&2
  return 1
}

# Starts dtask-scheduler and $1 dtask-workers (--nthreads $2, --memory-limit $3);
# sets $bench_address and $bench_worker_pids. Extra worker flags: BENCH_WORKER_ARGS.
bench_start_daemons() {  # $1 = workers, $2 = threads per worker, $3 = memory limit; scheduler flags in BENCH_SCHEDULER_ARGS
  # Emptied here, not only by the background job's redirection: that runs
  # in the forked child, possibly after bench_wait_address has read the
  # previous scheduler's address from the old log.
  : >"$logs/scheduler.log"
  # shellcheck disable=SC2086  # BENCH_SCHEDULER_ARGS is a word list
  "$BUILD_DIR/scheduler/dtask-scheduler" --host 127.0.0.1 --port 0 --dashboard-address 127.0.0.1:0 --log-level warn \
    ${BENCH_SCHEDULER_ARGS:-} >"$logs/scheduler.log" 2>&1 &
  bench_pids+=($!)
  bench_address=$(bench_wait_address "$logs/scheduler.log" "${bench_pids[0]}")
  bench_worker_pids=()
  local i
  for ((i = 0; i < $1; i++)); do
    "$BUILD_DIR/worker/dtask-worker" "$bench_address" --host 127.0.0.1 --nthreads "$2" --memory-limit "$3" \
      --name "w$i" --local-directory "$logs/spill-$i" --log-level warn ${BENCH_WORKER_ARGS:-} >"$logs/worker-$i.log" 2>&1 &
    bench_pids+=($!)
    bench_worker_pids+=($!)
  done
}

# "dtask worker pid P: peak RSS N MiB" for each worker still running.
bench_report_worker_rss() {
  local pid
  for pid in "${bench_worker_pids[@]}"; do
    echo "dtask worker pid $pid: peak RSS $(awk '/^VmHWM/ { printf "%.0f MiB", $2 / 1024 }' "/proc/$pid/status")"
  done
}

bench_stop_daemons() {
  local pid
  for pid in "${bench_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${bench_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  bench_pids=()
}

# Makes $DATA_DIR absolute (the workers resolve paths on their own),
# creating a fresh directory under $TMPDIR named after $1 when it is unset.
bench_data_dir() {  # $1 = name prefix
  if [[ -z $DATA_DIR ]]; then
    bench_fresh_dir=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
    DATA_DIR=$bench_fresh_dir
  fi
  mkdir -p "$DATA_DIR"
  DATA_DIR=$(cd "$DATA_DIR" && pwd)
}

# The EXIT trap: stops the daemons, removes $logs and a fresh data directory
# (kept when $KEEP is 1).
bench_cleanup() {
  bench_stop_daemons
  rm -rf "$logs"
  if [[ -n ${bench_fresh_dir:-} ]]; then
    if [[ ${KEEP:-0} == 1 ]]; then echo "$BENCH_NAME: kept $bench_fresh_dir"; else rm -rf "$bench_fresh_dir"; fi
  fi
}
