#!/usr/bin/env bash
# One command to see dtask work: install what building needs, build only the
# demo (and the libraries it links, without the tests and benchmarks, in its
# own folder: BUILD_DIR, default build-demo), and run it. Arguments go to the
# demo program (try --help).
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR="${BUILD_DIR:-build-demo}"
export BUILD_DIR BUILD_TARGET=dtask-demo

bash deploy/install-deps.sh --build-only
bash deploy/build.sh -DDTASK_BUILD_TESTS=OFF -DDTASK_BUILD_BENCH=OFF
echo "+ $BUILD_DIR/examples/dtask-demo $*"
exec "$BUILD_DIR/examples/dtask-demo" "$@"
