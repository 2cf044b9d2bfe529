#!/usr/bin/env bash
# One command to see dtask work: install dependencies, build, run the demo.
# Arguments go to the demo program (try --help). BUILD_DIR as in build.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR="${BUILD_DIR:-build}"
export BUILD_DIR

bash deploy/install-deps.sh
bash deploy/build.sh
echo "+ $BUILD_DIR/examples/dtask-demo $*"
exec "$BUILD_DIR/examples/dtask-demo" "$@"
