#!/usr/bin/env bash
# Configures and builds dtask (RelWithDebInfo, ccache). Extra arguments go to
# the cmake configure step, e.g. `bash deploy/build.sh -DDTASK_SANITIZE=address`.
# BUILD_DIR picks the build folder (default: build).
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR="${BUILD_DIR:-build}"
JOBS="${JOBS:-2}"

launcher=()
if command -v ccache >/dev/null 2>&1; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi

echo "+ cmake -S . -B $BUILD_DIR -DCMAKE_BUILD_TYPE=RelWithDebInfo ${launcher[*]} $*"
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" "$@"
echo "+ cmake --build $BUILD_DIR -j$JOBS"
cmake --build "$BUILD_DIR" -j"$JOBS"
