#!/usr/bin/env bash
# THE test command (README and CI): install dependencies (with chromium, for
# the dashboard's browser test, and clang, for the fuzzers), build, run every
# test but the container image's, then that one (label `container`: it builds
# an image with podman; DTASK_CI_CONTAINER=0 skips it), then the fuzz smoke (fuzz/smoke.sh: a Clang
# build in build-fuzz, each libFuzzer target for a few seconds;
# DTASK_FUZZ_SMOKE=0 skips it), then the whole suite again under ASan + UBSan
# (deploy/sanitizer-test.sh address, in build-asan; DTASK_CI_ASAN=0 skips it).
# DTASK_CI_TSAN=1 adds the suite under TSan (build-tsan), which is off by
# default to keep CI within its time.
# Extra arguments go to the cmake configure step of the plain build.
# BUILD_DIR as in build.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR="${BUILD_DIR:-build}"
export BUILD_DIR

bash deploy/install-deps.sh --with-browser
bash deploy/build.sh "$@"
echo "+ ctest --test-dir $BUILD_DIR --output-on-failure -j2 --timeout 300 -LE container"
ctest --test-dir "$BUILD_DIR" --output-on-failure -j2 --timeout 300 -LE container
# The container image (deploy/Dockerfile) built with podman and a one-worker
# cluster run from it: minutes (the image compiles the daemons), so a step of
# its own; DTASK_CI_CONTAINER=0 skips it. It skips itself (exit 77) where
# podman cannot run containers.
if [[ "${DTASK_CI_CONTAINER:-1}" != 0 ]]; then
  echo "+ ctest --test-dir $BUILD_DIR --output-on-failure -L container"
  ctest --test-dir "$BUILD_DIR" --output-on-failure -L container
fi
if [[ "${DTASK_FUZZ_SMOKE:-1}" != 0 ]]; then
  echo "+ bash fuzz/smoke.sh"
  bash fuzz/smoke.sh
fi
if [[ "${DTASK_CI_ASAN:-1}" != 0 ]]; then
  echo "+ bash deploy/sanitizer-test.sh address"
  bash deploy/sanitizer-test.sh address
fi
if [[ "${DTASK_CI_TSAN:-0}" != 0 ]]; then
  echo "+ bash deploy/sanitizer-test.sh thread"
  bash deploy/sanitizer-test.sh thread
fi
