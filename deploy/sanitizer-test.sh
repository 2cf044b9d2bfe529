#!/usr/bin/env bash
# Builds dtask with a sanitizer and runs the whole ctest suite under it:
#   bash deploy/sanitizer-test.sh address   # ASan + UBSan in build-asan (CI runs this)
#   bash deploy/sanitizer-test.sh thread    # TSan in build-tsan
# Extra arguments go to the cmake configure step. SANITIZER_BUILD_DIR picks
# the build folder (BUILD_DIR is left to the plain build that test.sh exports).
# A unity build (see CMakeLists.txt), unless DTASK_UNITY=0: a sanitizer build
# is mostly built from scratch, where the unity build needs far less CPU.
#
# Every process the tests start (daemons included) writes any sanitizer
# report to a file under $SANITIZER_BUILD_DIR/sanitizer-reports/ instead of
# stderr, and the run fails if one exists: a daemon's report would otherwise
# sit in a passing test's output unread (a worker the test kills anyway, a
# leak reported at exit). The reports are printed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { echo "usage: $0 address|thread [cmake args...]" >&2; }
[[ $# -ge 1 ]] || { usage; exit 2; }
kind="$1"
shift
case "$kind" in
  address) short=asan ;;
  thread) short=tsan ;;
  *) usage; exit 2 ;;
esac

build_dir="${SANITIZER_BUILD_DIR:-build-$short}"
reports="$PWD/$build_dir/sanitizer-reports"

# -O1 with line tables (-g1): half the compile time of -O2 -g, and reports
# still name function, file:line and inlined frames. No benchmarks: ctest
# does not run them.
BUILD_DIR="$build_dir" DTASK_UNITY="${DTASK_UNITY:-1}" bash deploy/build.sh -DDTASK_SANITIZE="$kind" -DDTASK_BUILD_BENCH=OFF \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG" "$@"

rm -rf "$reports"
mkdir -p "$reports"
# UBSan reads its own options, log_path included.
export ASAN_OPTIONS="log_path=$reports/asan:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="log_path=$reports/ubsan:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export TSAN_OPTIONS="log_path=$reports/tsan:second_deadlock_stack=1${TSAN_OPTIONS:+:$TSAN_OPTIONS}"

echo "+ ctest --test-dir $build_dir --output-on-failure -j2 --timeout 600 -LE container  (sanitizer reports: $reports)"
rc=0
ctest --test-dir "$build_dir" --output-on-failure -j2 --timeout 600 -LE container || rc=$?

found=$(find "$reports" -type f | sort)
if [[ -n $found ]]; then
  echo "sanitizer-test: $(echo "$found" | wc -l) sanitizer report(s) ($kind):" >&2
  for f in $found; do
    echo "---- $f" >&2
    head -60 "$f" >&2
  done
  exit 1
fi
[[ $rc -eq 0 ]] || exit "$rc"
echo "sanitizer-test: $kind suite passed with no sanitizer report"
