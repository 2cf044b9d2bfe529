#!/usr/bin/env bash
# Installs (with apt-get, Debian 12) everything needed to build and test dtask.
#   --with-peers    also the benchmark peers (dask.distributed, dask, scikit-learn)
#   --with-browser  also chromium (dashboard browser tests)
#   --build-only    only the toolchain and libraries that building dtask with
#                   -DDTASK_BUILD_TESTS=OFF -DDTASK_BUILD_BENCH=OFF needs
#                   (deploy/Dockerfile's build stage)
# Already-installed packages are detected with dpkg-query, so a repeat run that
# has nothing to do returns at once without touching apt.
set -euo pipefail

usage() {
  echo "usage: $0 [--with-peers] [--with-browser] [--build-only]" >&2
}

with_peers=0
with_browser=0
build_only=0
for arg in "$@"; do
  case "$arg" in
    --with-peers) with_peers=1 ;;
    --with-browser) with_browser=1 ;;
    --build-only) build_only=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install-deps: unknown option: $arg" >&2; usage; exit 2 ;;
  esac
done

build_packages=(
  # toolchain
  build-essential g++ cmake ninja-build ccache pkg-config
  # libraries
  libasio-dev capnproto libcapnp-dev libspdlog-dev libfmt-dev libeigen3-dev
  nlohmann-json3-dev libcpp-httplib-dev libcli11-dev libyaml-cpp-dev libssl-dev
  libblosc-dev libzstd-dev zlib1g-dev
  # open-addressing hash tables for the task tables (absl::flat_hash_map)
  libabsl-dev
  # kernel and linear SVMs (the two solvers scikit-learn's SVC and LinearSVC wrap)
  libsvm-dev liblinear-dev
)
packages=(
  "${build_packages[@]}"
  # tests and benchmarks (openssl: the TLS tests make a throwaway CA with its CLI)
  libgtest-dev libgmock-dev libbenchmark-dev openssl
  # deploy checks (tests/deploy): shellcheck on deploy/, systemd-analyze verify
  # on deploy/systemd, PyYAML to read `kubectl kustomize deploy/kubernetes`.
  # kubectl is preinstalled on this project's machines and not listed: Debian
  # 12's kubernetes-client (1.20) would clash with it; the test skips without it.
  shellcheck systemd python3-yaml
  # the Slurm test (tests/deploy/slurm_test.sh): a one-node munged + slurmctld + slurmd
  slurm-wlm munge
  # the container test (tests/deploy/container_test.sh): podman with runc (crun
  # cannot start containers on these machines' mixed cgroups), and debootstrap
  # for a local base image (no image registry is reachable)
  podman runc debootstrap
  # the network-namespace test (tests/deploy/netns_tls_test.sh): ip netns, veth, bridge; curl for /metrics
  iproute2 curl
  # fuzz smoke (fuzz/smoke.sh): clang, and libFuzzer + sanitizer runtimes
  # (only recommended by clang, so not pulled in with --no-install-recommends)
  clang libclang-rt-14-dev
  # test helpers: fixtures and the .npy/Zarr interop tests (numpy and zarr
  # write files that dtask reads, and read the files dtask writes); scikit-learn
  # is the oracle the model-selection tests compare with (splits, scores, best
  # parameters), computed in the same run; pandas reads the cv_results_ files dtask writes
  python3 python3-numpy python3-zarr python3-sklearn python3-pandas
)
if [[ $build_only == 1 ]]; then
  if [[ $with_peers == 1 || $with_browser == 1 ]]; then
    echo "install-deps: --build-only cannot be combined with --with-peers or --with-browser" >&2
    exit 2
  fi
  packages=("${build_packages[@]}")
fi
if [[ $with_peers == 1 ]]; then
  packages+=(python3-distributed python3-dask)
fi
if [[ $with_browser == 1 ]]; then
  packages+=(chromium)
fi

missing=()
for pkg in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null || true)
  if [[ $status != ii* ]]; then
    missing+=("$pkg")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi

SUDO=()
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
  else
    echo "install-deps: not root and sudo not found; install these as root:" >&2
    echo "  ${missing[*]}" >&2
    exit 1
  fi
fi

echo "install-deps: installing ${#missing[@]} missing package(s): ${missing[*]}"
echo "+ apt-get update"
"${SUDO[@]}" apt-get update
echo "+ apt-get install -y --no-install-recommends ${missing[*]}"
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y --no-install-recommends "${missing[@]}"
echo "install-deps: done"
