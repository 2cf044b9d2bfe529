#!/usr/bin/env bash
# The installed package, used as a user would: `cmake --install` the build
# into a temp prefix, check that every installed header compiles on its own
# with only the prefix on the include path, configure and build
# examples/out_of_tree against it (find_package(dtask)), then run its client
# and its plugin against the installed dtask-scheduler and dtask-worker.
#
#   bash tests/deploy/out_of_tree_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail

build_dir=$(realpath "$1")
source_dir=$(realpath "$2")

work=$(mktemp -d /tmp/dtask-out-of-tree-test.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
prefix=$work/prefix

echo "+ cmake --install $build_dir --prefix $prefix"
cmake --install "$build_dir" --prefix "$prefix" >"$work/install.log"

# Nothing internal may be installed, and every public header must stand alone.
internal=$(find "$prefix/include" -type f ! -path "$prefix/include/dtask/*" | head -5)
[[ -z $internal ]] || { echo "FAIL: installed outside include/dtask/: $internal" >&2; exit 1; }
headers=$(cd "$prefix/include" && find dtask -name '*.h' | sort)
count=$(wc -l <<<"$headers")
echo "+ compiling each of the $count installed headers alone"
cxx=${CXX:-c++}
export cxx prefix
# shellcheck disable=SC2016  # single quotes on purpose: the inner sh expands $1, $cxx, $prefix
xargs -P 2 -I{} sh -c 'printf "#include <%s>\n" "$1" | "$cxx" -std=c++20 -fsyntax-only -x c++ -I "$prefix/include" - \
  || { echo "FAIL: $1 does not compile on its own" >&2; exit 255; }' sh {} <<<"$headers"

generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
echo "+ building examples/out_of_tree against the prefix"
cmake -S "$source_dir/examples/out_of_tree" -B "$work/build" "${generator[@]}" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_BUILD_TYPE=Release >"$work/configure.log" || { cat "$work/configure.log"; exit 1; }
cmake --build "$work/build" -j2 >"$work/build.log" || { cat "$work/build.log"; exit 1; }

echo "+ running it on the installed daemons"
"$prefix/bin/dtask-scheduler" --host 127.0.0.1 --port 0 --dashboard-address 127.0.0.1:0 \
  --scheduler-file "$work/scheduler.json" >"$work/scheduler.log" 2>&1 &
pids+=($!)
"$prefix/bin/dtask-worker" --scheduler-file "$work/scheduler.json" --host 127.0.0.1 --nthreads 1 \
  --plugin "$work/build/libsquare_ops.so" >"$work/worker.log" 2>&1 &
pids+=($!)
for _ in $(seq 200); do
  grep -q "registered with scheduler" "$work/worker.log" 2>/dev/null && break
  sleep 0.05
done
grep -q "registered with scheduler" "$work/worker.log" || { cat "$work/scheduler.log" "$work/worker.log"; echo "FAIL: no worker" >&2; exit 1; }
address=$(/usr/bin/python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["address"])' "$work/scheduler.json")
output=$("$work/build/sum_of_squares" 100 "$address")
echo "$output"
[[ $output == "sum_of_squares: N=100 sum=338350 mean=[1, 1, 1] ok" ]] || { echo "FAIL: wrong answer" >&2; exit 1; }
echo "PASS: installed package, $count headers, out-of-tree client and plugin"
