#!/usr/bin/env bash
# Configures and builds dtask (RelWithDebInfo, ccache). Extra arguments go to
# the cmake configure step, e.g. `bash deploy/build.sh -DDTASK_SANITIZE=address`.
# BUILD_DIR picks the build folder (default: build); BUILD_TARGET builds only
# that target (and what it links) instead of everything. DTASK_UNITY=1 makes it a
# unity build (-DDTASK_UNITY_BUILD=ON, see CMakeLists.txt), as CI's are; the
# default, 0, compiles every .cc on its own, which suits editing.
# A new build folder uses Ninja where it is installed: it compiles a target's
# files while the libraries it links are still being built, where Make waits.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR="${BUILD_DIR:-build}"
JOBS="${JOBS:-2}"

unity=OFF
[[ ${DTASK_UNITY:-0} == 1 ]] && unity=ON
generator=()
if [[ ! -f $BUILD_DIR/CMakeCache.txt ]] && command -v ninja >/dev/null 2>&1; then
  generator=(-G Ninja)
fi

launcher=()
if command -v ccache >/dev/null 2>&1; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi

echo "+ cmake -S . -B $BUILD_DIR ${generator[*]} -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDTASK_UNITY_BUILD=$unity ${launcher[*]} $*"
cmake -S . -B "$BUILD_DIR" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDTASK_UNITY_BUILD=$unity \
  "${launcher[@]}" "$@"
target=()
[[ -n ${BUILD_TARGET:-} ]] && target=(--target "$BUILD_TARGET")
echo "+ cmake --build $BUILD_DIR -j$JOBS ${target[*]}"
cmake --build "$BUILD_DIR" -j"$JOBS" "${target[@]}"
