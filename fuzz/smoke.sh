#!/usr/bin/env bash
# Fuzz smoke test (CI runs it after the unit tests): configures a Clang
# build with -DDTASK_FUZZ=ON in $FUZZ_BUILD_DIR (default build-fuzz), builds
# the libFuzzer targets, and runs each one from its seed corpus for
# FUZZ_SECONDS seconds (default 12: about a minute for the five targets).
# Fails on any crash, sanitizer report, hang (> 10 s on one input) or
# out-of-memory; the input that did it is saved under
# $FUZZ_BUILD_DIR/fuzz-artifacts/. Prints executions per target.
#
#   bash fuzz/smoke.sh                      # all targets
#   FUZZ_SECONDS=600 bash fuzz/smoke.sh csv # one target for ten minutes
#
# Inputs the fuzzer finds go to a scratch corpus in the build directory,
# never into fuzz/corpus/ (the committed seeds). JOBS (default 2) targets
# fuzz at a time, each on its own core for its FUZZ_SECONDS. The build is a
# unity build (see CMakeLists.txt) unless DTASK_UNITY=0.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR="${FUZZ_BUILD_DIR:-build-fuzz}"
SECONDS_PER_TARGET="${FUZZ_SECONDS:-12}"
JOBS="${JOBS:-2}"
all_targets=(frame message npy_header zarr csv)
targets=("$@")
[[ ${#targets[@]} -eq 0 ]] && targets=("${all_targets[@]}")

for tool in clang clang++; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "fuzz/smoke.sh: $tool not found (bash deploy/install-deps.sh installs it)" >&2
    exit 1
  fi
done

launcher=()
if command -v ccache >/dev/null 2>&1; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
fi
unity=ON
[[ ${DTASK_UNITY:-1} == 0 ]] && unity=OFF
generator=()
if [[ ! -f $BUILD_DIR/CMakeCache.txt ]] && command -v ninja >/dev/null 2>&1; then
  generator=(-G Ninja)
fi
echo "+ cmake -S . -B $BUILD_DIR ${generator[*]} -DDTASK_FUZZ=ON -DDTASK_UNITY_BUILD=$unity (clang) ${launcher[*]}"
cmake -S . -B "$BUILD_DIR" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
  -DCMAKE_CXX_COMPILER=clang++ -DDTASK_FUZZ=ON -DDTASK_UNITY_BUILD=$unity -DDTASK_BUILD_TESTS=OFF \
  -DDTASK_BUILD_BENCH=OFF "${launcher[@]}" >/dev/null
fuzzers=()
for t in "${targets[@]}"; do fuzzers+=("${t}_fuzzer"); done
echo "+ cmake --build $BUILD_DIR -j$JOBS --target ${fuzzers[*]}"
cmake --build "$BUILD_DIR" -j"$JOBS" --target "${fuzzers[@]}"

artifacts="$BUILD_DIR/fuzz-artifacts"
mkdir -p "$artifacts"
# fuzz_one <target>: one run; its exit status goes to $BUILD_DIR/fuzz-<target>.rc.
fuzz_one() {
  local t=$1 corpus="$BUILD_DIR/fuzz-corpus/$1" log="$BUILD_DIR/fuzz-$1.log" dict=() rc=0
  mkdir -p "$corpus"
  [[ -f fuzz/$t.dict ]] && dict=(-dict="fuzz/$t.dict")
  echo "+ ${t}_fuzzer -max_total_time=$SECONDS_PER_TARGET ${dict[*]} $corpus fuzz/corpus/$t"
  "$BUILD_DIR/fuzz/${t}_fuzzer" -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 "${dict[@]}" -artifact_prefix="$artifacts/$t-" "$corpus" "fuzz/corpus/$t" \
    >"$log" 2>&1 || rc=$?
  echo "$rc" >"$BUILD_DIR/fuzz-$t.rc"
}

running=0
for t in "${targets[@]}"; do
  if [[ $running -ge $JOBS ]]; then
    wait -n || true
    running=$((running - 1))
  fi
  rm -f "$BUILD_DIR/fuzz-$t.rc"
  fuzz_one "$t" &
  running=$((running + 1))
done
wait

failed=()
summary=()
for t in "${targets[@]}"; do
  log="$BUILD_DIR/fuzz-$t.log"
  rc=$(cat "$BUILD_DIR/fuzz-$t.rc" 2>/dev/null || echo 1)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  units=$(find "$BUILD_DIR/fuzz-corpus/$t" -type f | wc -l)
  if [[ $rc -ne 0 ]]; then
    failed+=("$t")
    summary+=("$(printf '%-11s FAILED (exit %d): see %s and %s/%s-*' "$t" "$rc" "$log" "$artifacts" "$t")")
    grep -E "ERROR|SUMMARY|invariant|runtime error" "$log" | head -5 >&2 || true
  else
    summary+=("$(printf '%-11s %9s executions %7s exec/s  %5s new inputs' "$t" "${execs:-?}" "${rate:-?}" "$units")")
  fi
done

echo "fuzz smoke (${SECONDS_PER_TARGET} s per target):"
printf '  %s\n' "${summary[@]}"
if [[ ${#failed[@]} -ne 0 ]]; then
  echo "fuzz/smoke.sh: crashes in: ${failed[*]}" >&2
  exit 1
fi
