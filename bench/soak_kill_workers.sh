#!/usr/bin/env bash
# Soak: kill -9 a random worker in the middle of a 5,000-task graph with
# reductions, 100 times in a row (tests/e2e/fault_tolerance_test.cc's
# KillRandomWorkerMidGraph with DTASK_KILL_RUNS=100; CI runs it 20 times).
# Every run must finish with the right sum.
#
#   bash bench/soak_kill_workers.sh [--runs N] [--build-dir DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=100
BUILD_DIR="${BUILD_DIR:-build}"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --runs) RUNS="$2"; shift 2 ;;
    --build-dir) BUILD_DIR="$2"; shift 2 ;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "soak_kill_workers: unknown option: $1" >&2; exit 2 ;;
  esac
done
TEST="$BUILD_DIR/tests/e2e/fault_tolerance_test"
if [[ ! -x $TEST ]]; then
  echo "soak_kill_workers: $TEST not found; build first: cmake --build $BUILD_DIR --target fault_tolerance_test" >&2
  exit 1
fi
started=$SECONDS
DTASK_KILL_RUNS="$RUNS" "$TEST" --gtest_filter='FaultToleranceTest.KillRandomWorkerMidGraph' --gtest_brief=1
echo "soak_kill_workers runs=$RUNS seconds=$((SECONDS - started)) result=ok"
