#!/usr/bin/env bash
# deploy/Dockerfile, built and run with podman: builds the image, starts a
# scheduler and one worker from it (two containers on the host's network, on
# free ports), runs examples/cluster_sum on the host against them and checks
# its answer, then stops the worker (SIGTERM: it retires, exit 0) and the
# scheduler (exit 0). Then the same on podman's default (bridge) network with
# the scheduler's ports published, as `docker run -p` has them, where root
# runs it. Also checks the image itself: it runs as uid 10001, holds no
# compiler, and its entrypoint refuses to start without a command.
#
#   bash tests/deploy/container_test.sh SOURCE_DIR CLUSTER_SUM
#
# No image registry is needed. The base image (the Dockerfile's BASE_IMAGE) is
# DTASK_CONTAINER_BASE where that is set (an image podman already has, e.g.
# docker.io/library/debian:bookworm), else localhost/dtask-test-base:bookworm,
# which the first run makes with debootstrap from the Debian mirror apt uses
# (DTASK_DEBIAN_MIRROR overrides it) and later runs reuse. The dtask image is
# kept too (localhost/dtask-test:latest), so a second run rebuilds only what
# changed. DTASK_CONTAINER_JOBS: the in-image compile's jobs (default 2).
#
# Where podman's defaults cannot start a container (as on this project's VMs:
# crun refuses the hybrid cgroup v1/v2 layout, and podman's default rlimits
# are above the ones root may set there), it retries with runc and rlimits no
# higher than the current ones, through a containers.conf of its own
# (CONTAINERS_CONF), and says so.
#
# Exits 77 (ctest: skipped) where podman is missing or cannot run a container,
# or where the base image is missing and cannot be made (no debootstrap, not
# root, no mirror).
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 SOURCE_DIR CLUSTER_SUM" >&2
  exit 2
fi
source_dir=$(realpath "$1")
client=$(realpath "$2")

skip() { echo "SKIP: $*" >&2; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "+ [$(($(date +%s) - started))s] $*"; }
started=$(date +%s)

command -v podman >/dev/null 2>&1 || skip "podman is not installed (Debian package podman)"
[[ -x $client ]] || fail "$client is not an executable (build cluster_sum first)"
[[ -f $source_dir/deploy/Dockerfile ]] || fail "$source_dir/deploy/Dockerfile not found"

base=${DTASK_CONTAINER_BASE:-localhost/dtask-test-base:bookworm}
image=localhost/dtask-test:latest
jobs=${DTASK_CONTAINER_JOBS:-2}
work=$(mktemp -d /var/tmp/dtask-container-test.XXXXXX)
containers=()
cleanup() {
  local rc=$? name
  for name in "${containers[@]}"; do
    if [[ $rc != 0 && $rc != 77 ]]; then
      echo "--- podman logs $name" >&2
      podman logs "$name" >&2 2>&1 || true
    fi
    podman rm -f -t 0 "$name" >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

# ---- the base image ----
if ! podman image exists "$base"; then
  [[ -z ${DTASK_CONTAINER_BASE:-} ]] || skip "DTASK_CONTAINER_BASE=$base: podman has no such image"
  command -v debootstrap >/dev/null 2>&1 || skip "no base image $base, and debootstrap (to make it) is not installed"
  [[ $(id -u) == 0 ]] || skip "no base image $base, and debootstrap must run as root to make it"
  # The mirror apt uses here: the first deb.debian.org-style URI in its sources.
  mirror=${DTASK_DEBIAN_MIRROR:-}
  if [[ -z $mirror ]]; then
    mirror=$(grep -rhoE '(URIs:[[:space:]]*|^deb[[:space:]]+)https?://[^[:space:]]+/debian/?([[:space:]]|$)' \
               /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null |
             grep -oE 'https?://[^[:space:]]+' | head -n 1 || true)
  fi
  mirror=${mirror:-http://deb.debian.org/debian}
  mirror=${mirror%/}
  step "debootstrap --variant=minbase bookworm $work/rootfs $mirror  (making $base)"
  if ! nice -n 19 debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1; then
    tail -n 20 "$work/debootstrap.log" >&2
    skip "debootstrap from $mirror failed (above), so there is no base image"
  fi
  # As the official debian:bookworm image: updates and security too, no apt caches.
  rm -f "$work/rootfs/etc/apt/sources.list"
  cat >"$work/rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $mirror-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  rm -rf "$work"/rootfs/var/cache/apt/archives/*.deb "$work"/rootfs/var/lib/apt/lists/*
  if ! tar -C "$work/rootfs" -c . | podman import --change 'CMD ["bash"]' - "$base" >"$work/import.log" 2>&1; then
    cat "$work/import.log" >&2
    fail "podman import of the debootstrapped file system failed (above)"
  fi
  rm -rf "$work/rootfs"
fi

# ---- can podman run a container here? ----
probe_error=$(podman run --rm --network host "$base" true 2>&1) || {
  echo "podman run with its defaults failed: $probe_error"
  command -v runc >/dev/null 2>&1 || skip "podman cannot run a container ($probe_error), and runc (to retry with) is not installed"
  # Root may not raise a hard rlimit here (no CAP_SYS_RESOURCE), and runc
  # fails to set RLIMIT_NPROC above kernel.pid_max: stay at or below both.
  nofile=$(ulimit -Hn)
  nproc=$(ulimit -Hu)
  pid_max=$(cat /proc/sys/kernel/pid_max)
  [[ $nproc == unlimited || $nproc -gt $pid_max ]] && nproc=$pid_max
  [[ $nofile == unlimited ]] && nofile=1048576
  cat >"$work/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
[engine]
runtime = "runc"
EOF
  export CONTAINERS_CONF=$work/containers.conf
  echo "retrying with runc and rlimits nofile=$nofile nproc=$nproc (CONTAINERS_CONF=$CONTAINERS_CONF)"
  probe_error=$(podman run --rm --network host "$base" true 2>&1) ||
    skip "podman cannot run a container here, with runc either: $probe_error"
}

# ---- the image ----
old_id=$(podman image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)
step "podman build -f deploy/Dockerfile --build-arg BASE_IMAGE=$base --build-arg JOBS=$jobs -t $image $source_dir"
if ! nice -n 19 podman build --network host --build-arg BASE_IMAGE="$base" --build-arg JOBS="$jobs" \
       -f "$source_dir/deploy/Dockerfile" -t "$image" "$source_dir" >"$work/build.log" 2>&1; then
  tail -n 40 "$work/build.log" >&2
  fail "podman build failed (above)"
fi
grep -E '(^|] )STEP|^runtime packages:' "$work/build.log" | sed 's/^/  /' || true
echo "  $(grep -c '^--> Using cache' "$work/build.log" || true) step(s) from podman's cache"
new_id=$(podman image inspect --format '{{.Id}}' "$image")
# The image this build replaced is of no use to the next run.
if [[ -n $old_id && $old_id != "$new_id" ]]; then podman rmi "$old_id" >/dev/null 2>&1 || true; fi
podman image inspect --format '  image {{.Id}}: {{.Size}} bytes' "$image"

# ---- the image's contents ----
uid=$(podman run --rm "$image" id -u)
[[ $uid == 10001 ]] || fail "the image runs as uid $uid, not 10001 (dtask)"
podman run --rm "$image" sh -c '! command -v g++ && ! command -v cmake' >/dev/null ||
  fail "the runtime image holds a compiler or cmake"
podman run --rm "$image" dtask-scheduler --help >/dev/null || fail "dtask-scheduler --help failed in the image"
podman run --rm "$image" worker --help >/dev/null || fail "the entrypoint's 'worker --help' failed"
podman run --rm "$image" dtask-adapt --help >/dev/null || fail "dtask-adapt --help failed in the image"
rc=0
podman run --rm "$image" >/dev/null 2>&1 || rc=$?
[[ $rc == 2 ]] || fail "the image without a command exited $rc, not 2 (usage)"
podman image inspect --format '{{json .Config.ExposedPorts}}' "$image" | grep -q '8786/tcp' ||
  fail "the image does not expose 8786"

# ---- a one-worker cluster: cluster NETWORK ----
# host: both containers on the host's network, on free ports, all on
#   127.0.0.1; the dashboard's address through its environment variable
#   (the image's default, :8787, would be every interface of the host).
# bridge: podman's default network, as `docker run -p` is used: the
#   scheduler's ports published on free ports of 127.0.0.1, the dashboard at
#   the image's default; the worker reaches the scheduler at its container
#   address, and the client (on the host) the worker at its own.
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
running() { [[ $(podman inspect --format '{{.State.Running}}' "$1") == true ]]; }
cluster() {
  local network=$1 port dashboard_port tag scheduler worker address health out rc
  port=$(free_port)
  dashboard_port=$(free_port)
  tag=$network-$$-$RANDOM
  scheduler=dtask-test-scheduler-$tag
  worker=dtask-test-worker-$tag
  step "$network network: scheduler $scheduler (port $port, dashboard $dashboard_port), worker $worker"
  containers+=("$scheduler")
  if [[ $network == host ]]; then
    podman run -d --name "$scheduler" --network host \
      -e DTASK_SCHEDULER_DASHBOARD_ADDRESS="127.0.0.1:$dashboard_port" \
      "$image" dtask-scheduler --host 127.0.0.1 --port "$port" >/dev/null
    address=tcp://127.0.0.1:$port
  else
    podman run -d --name "$scheduler" -p "127.0.0.1:$port:8786" -p "127.0.0.1:$dashboard_port:8787" \
      "$image" dtask-scheduler >/dev/null
    address=tcp://$(podman inspect --format '{{.NetworkSettings.IPAddress}}' "$scheduler"):8786
  fi
  containers+=("$worker")
  if [[ $network == host ]]; then
    podman run -d --name "$worker" --network host \
      "$image" dtask-worker "$address" --host 127.0.0.1 --nthreads 2 --name container-worker >/dev/null
  else
    podman run -d --name "$worker" "$image" dtask-worker "$address" --nthreads 2 --name container-worker >/dev/null
  fi

  local deadline=$((SECONDS + 60))
  until podman logs "$scheduler" 2>&1 | grep -q "worker container-worker registered"; do
    running "$scheduler" || fail "the scheduler container stopped"
    running "$worker" || fail "the worker container stopped"
    ((SECONDS < deadline)) || fail "the worker did not register within 60 s"
    sleep 0.5
  done
  health=$(python3 -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=10).status)' \
             "http://127.0.0.1:$dashboard_port/health") || fail "the scheduler's /health did not answer"
  [[ $health == 200 ]] || fail "/health answered $health"

  step "$client 1000 tcp://127.0.0.1:$port"
  out=$(timeout 120 "$client" 1000 "tcp://127.0.0.1:$port") || fail "cluster_sum failed: $out"
  echo "  $out"
  # Its first line is the fan-out's answer; the next ones the array sum and the workers.
  [[ $(head -1 <<<"$out") == "cluster_sum: N=1000 sum=500500 workers=1" ]] || fail "unexpected answer: $out"
  grep -qx "cluster_sum: array of 1000 in 8 chunks sum=499500" <<<"$out" || fail "unexpected array sum: $out"

  # SIGTERM to each container's main process, the daemon: the worker
  # retires (exit 0), then the scheduler stops (exit 0).
  step "podman stop $worker, then $scheduler"
  podman stop -t 60 "$worker" >/dev/null
  rc=$(podman inspect --format '{{.State.ExitCode}}' "$worker")
  [[ $rc == 0 ]] || fail "the worker exited $rc after SIGTERM, not 0 (a graceful retire)"
  podman stop -t 30 "$scheduler" >/dev/null
  rc=$(podman inspect --format '{{.State.ExitCode}}' "$scheduler")
  [[ $rc == 0 ]] || fail "the scheduler exited $rc after SIGTERM, not 0"
  podman rm "$worker" "$scheduler" >/dev/null
  containers=()
}

cluster host
# Only root's containers get addresses the host can reach (rootless podman's
# network is a user-mode one), and only where podman can set up its network.
if [[ $(id -u) != 0 ]]; then
  echo "  bridge network: not run (rootless: the host cannot reach the containers' addresses)"
elif ! bridge_error=$(podman run --rm "$base" true 2>&1); then
  echo "  bridge network: not run (podman cannot start a container on its default network: $bridge_error)"
else
  cluster bridge
fi

step "container_test: passed"
