#!/usr/bin/env bash
# A cluster across "hosts" that share no loopback, over mutual TLS with a
# token: the scheduler, two workers and the client each run in a network
# namespace of their own, wired by veth pairs to a bridge in a fifth one
# (10.77.0.0/24), with the loopback interface left down in every namespace,
# so nothing can reach anything over 127.0.0.1. The workers are given no
# --host: they must advertise the address that reaches the scheduler. The
# client is examples/cluster_sum (a fan-out sum and a chunked-array sum,
# TLS from its DTASK_CLIENT_* environment). The test checks the answers,
# that the scheduler lists both workers at tls://10.77.0.x addresses and
# reports bytes moved between them, that each worker's /metrics
# (10.77.0.x:8789) counts its peer fetches, that a client without a
# certificate is refused, and that every daemon stops cleanly on SIGTERM.
#
#   bash tests/deploy/netns_tls_test.sh DTASK_SCHEDULER DTASK_WORKER CLUSTER_SUM
#
# Exits 77 (ctest: skipped) where it is not root, where ip, openssl or curl
# is missing, or where namespaces, veth pairs or a bridge cannot be made.
set -euo pipefail

if [[ $# -ne 3 ]]; then
  echo "usage: $0 DTASK_SCHEDULER DTASK_WORKER CLUSTER_SUM" >&2
  exit 2
fi
scheduler_bin=$(realpath "$1")
worker_bin=$(realpath "$2")
client_bin=$(realpath "$3")

skip() { echo "SKIP: $*" >&2; exit 77; }
[[ $(id -u) == 0 ]] || skip "creating network namespaces needs root"
for tool in ip openssl curl; do
  command -v "$tool" >/dev/null 2>&1 || skip "$tool is not installed (Debian: iproute2, openssl, curl)"
done

work=$(mktemp -d /tmp/dtask-netns-tls-test.XXXXXX)
tag="dtask-${work##*.}"  # namespace names: unique to this run
hub="$tag-hub"
nodes=(scheduler w1 w2 client)
declare -A address=([scheduler]=10.77.0.1 [w1]=10.77.0.2 [w2]=10.77.0.3 [client]=10.77.0.4)
namespaces=()
declare -A pid=()

# stop NAME: SIGTERM to one daemon, then up to 30 s to exit before SIGKILL;
# sets stopped_status to its exit status.
stop() {
  local name=$1
  stopped_status=0
  [[ -n ${pid[$name]:-} ]] || return 0
  kill -TERM "${pid[$name]}" 2>/dev/null || true
  for _ in $(seq 300); do
    kill -0 "${pid[$name]}" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "${pid[$name]}" 2>/dev/null || true
  wait "${pid[$name]}" || stopped_status=$?
  unset "pid[$name]"
}
any_alive() {
  local p
  for p in "$@"; do kill -0 "$p" 2>/dev/null && return 0; done
  return 1
}
# On every exit: SIGTERM to the daemons still running, 5 s, then SIGKILL to
# whatever still runs in the namespaces, and the namespaces go.
cleanup() {
  local running=("${pid[@]}")
  if [[ ${#running[@]} -gt 0 ]]; then
    kill -TERM "${running[@]}" 2>/dev/null || true
    for _ in $(seq 50); do
      any_alive "${running[@]}" || break
      sleep 0.1
    done
  fi
  for ns in "${namespaces[@]}"; do
    # shellcheck disable=SC2046  # one pid a line, to split
    kill -KILL $(ip netns pids "$ns" 2>/dev/null) 2>/dev/null || true
  done
  local p
  for p in "${running[@]}"; do wait "$p" 2>/dev/null || true; done
  for ns in "${namespaces[@]}"; do ip netns delete "$ns" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap "exit 130" INT TERM

fail() {
  echo "FAIL: $*" >&2
  for log in "$work"/*.log "$work"/*.out; do
    [[ -e $log ]] || continue
    echo "--- $log" >&2
    tail -20 "$log" >&2
  done
  exit 1
}

# ---- the network: a bridge in $hub, one namespace per node -------------------
ip netns add "$hub" 2>"$work/ip.err" || skip "cannot create a network namespace: $(cat "$work/ip.err")"
namespaces+=("$hub")
ip netns exec "$hub" true 2>"$work/ip.err" || skip "cannot enter a network namespace: $(cat "$work/ip.err")"
ip -n "$hub" link add br0 type bridge 2>"$work/ip.err" || skip "cannot create a bridge: $(cat "$work/ip.err")"
ip -n "$hub" link set br0 up
for node in "${nodes[@]}"; do
  ns="$tag-$node"
  ip netns add "$ns"
  namespaces+=("$ns")
  ip -n "$hub" link add "p-$node" type veth peer name eth0 netns "$ns" 2>"$work/ip.err" ||
    skip "cannot create a veth pair: $(cat "$work/ip.err")"
  ip -n "$hub" link set "p-$node" master br0 up
  ip -n "$ns" addr add "${address[$node]}/24" dev eth0
  ip -n "$ns" link set eth0 up
  # lo stays down (as a new namespace has it): 127.0.0.1 does not exist there.
  if ip -n "$ns" -4 addr show dev lo | grep -q 127.0.0.1; then fail "$ns has a loopback address"; fi
done
in_ns() { local node=$1; shift; ip netns exec "$tag-$node" "$@"; }

# ---- a throwaway CA, one certificate for the nodes, one for the client -------
pki="$work/pki"
mkdir "$pki"
openssl_quiet() { openssl "$@" >>"$pki/openssl.log" 2>&1 || fail "openssl $1 failed: $(tail -3 "$pki/openssl.log")"; }
openssl_quiet req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout "$pki/ca.key" -out "$pki/ca.pem" -days 2 -subj "/CN=dtask netns test CA"
printf 'subjectAltName=IP:10.77.0.1,IP:10.77.0.2,IP:10.77.0.3,IP:10.77.0.4\nextendedKeyUsage=serverAuth,clientAuth\n' \
  >"$pki/ext"
for who in node client; do
  openssl_quiet req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$pki/$who.key" -out "$pki/$who.csr" -subj "/CN=dtask netns test $who"
  openssl_quiet x509 -req -in "$pki/$who.csr" -CA "$pki/ca.pem" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 2 -extfile "$pki/ext" -out "$pki/$who.pem"
done
head -c 32 /dev/urandom | base64 >"$pki/token"
chmod 600 "$pki"/*.key "$pki/token"
tls=(--tls-cert "$pki/node.pem" --tls-key "$pki/node.key" --tls-ca "$pki/ca.pem" --auth-token-file "$pki/token")

# wait_for NAME PATTERN WHAT: up to 20 s for PATTERN (grep -E) in daemon
# NAME's log; fails with WHAT at once if the daemon exits first.
wait_for() {
  local name=$1 pattern=$2 what=$3
  for _ in $(seq 200); do
    grep -qE "$pattern" "$work/$name.log" 2>/dev/null && return 0
    kill -0 "${pid[$name]}" 2>/dev/null || fail "$what: $name exited"
    sleep 0.1
  done
  fail "$what within 20 s"
}

# ---- the cluster -------------------------------------------------------------
scheduler_address="tls://${address[scheduler]}:8786"
ip netns exec "$tag-scheduler" "$scheduler_bin" --host "${address[scheduler]}" --port 8786 \
  --dashboard-address "${address[scheduler]}:8787" --dashboard-require-token "${tls[@]}" \
  >"$work/scheduler.log" 2>&1 &
pid[scheduler]=$!
wait_for scheduler "listening on $scheduler_address" "the scheduler did not listen on $scheduler_address"
for worker in w1 w2; do
  ip netns exec "$tag-$worker" "$worker_bin" "$scheduler_address" --name "$worker" --nthreads 2 --memory-limit 1GiB \
    --dashboard-address "${address[$worker]}:8789" "${tls[@]}" >"$work/$worker.log" 2>&1 &
  pid[$worker]=$!
done
for worker in w1 w2; do
  wait_for "$worker" "registered with scheduler $scheduler_address" "$worker did not register with the scheduler"
done

# ---- the client --------------------------------------------------------------
export DTASK_CLIENT_TLS_CA="$pki/ca.pem" DTASK_CLIENT_AUTH_TOKEN_FILE="$pki/token"
# Mutual TLS: without a certificate of the CA's, the scheduler refuses.
if timeout 20 ip netns exec "$tag-client" "$client_bin" 10 "$scheduler_address" >"$work/refused.out" 2>&1; then
  fail "a client without a certificate was served"
fi
grep -qi "certificate" "$work/refused.out" || fail "the refusal does not name the missing certificate"
status=0
DTASK_CLIENT_TLS_CERT="$pki/client.pem" DTASK_CLIENT_TLS_KEY="$pki/client.key" \
  timeout 60 ip netns exec "$tag-client" "$client_bin" 2000 "$scheduler_address" >"$work/client.out" 2>&1 || status=$?
cat "$work/client.out"
[[ $status == 0 ]] || fail "cluster_sum exited $status"
grep -qx "cluster_sum: N=2000 sum=2001000 workers=2" "$work/client.out" || fail "the fan-out sum is missing or wrong"
grep -qx "cluster_sum: array of 2000 in 8 chunks sum=1999000" "$work/client.out" ||
  fail "the array sum is missing or wrong"
for worker in w1 w2; do
  grep -qE "^cluster_sum: worker $worker tls://${address[$worker]//./\\.}:[0-9]+ tasks_done=[1-9]" "$work/client.out" ||
    fail "the scheduler does not list $worker at tls://${address[$worker]}:PORT with tasks done"
done
transfer_bytes=$(sed -n 's/^cluster_sum: transfer_bytes=//p' "$work/client.out")
[[ ${transfer_bytes:-0} -gt 0 ]] || fail "the scheduler saw no bytes move between the workers"

# The dashboard, reached from the client's namespace with the token.
in_ns client curl -sf --max-time 5 -H "Authorization: Bearer $(cat "$pki/token")" \
  "http://${address[scheduler]}:8787/api/workers" >"$work/workers.json" || fail "the dashboard's /api/workers did not answer"
for worker in w1 w2; do
  grep -q "\"tls://${address[$worker]}:" "$work/workers.json" || fail "/api/workers lacks $worker's address: $(cat "$work/workers.json")"
done
# Peer fetches, as each worker counts them (its /metrics is refreshed with
# its heartbeat, so the last fetches may take a moment to show).
metric() { awk -v name="$1" '$1 ~ "^" name "([{]|$)" { n = int($2) } END { print n + 0 }' "$2"; }
fetches=0
for _ in $(seq 50); do
  fetches=0
  fetched_bytes=0
  for worker in w1 w2; do
    in_ns client curl -sf --max-time 5 -H "Authorization: Bearer $(cat "$pki/token")" \
      "http://${address[$worker]}:8789/metrics" >"$work/$worker.metrics" || fail "$worker's /metrics did not answer"
    fetches=$((fetches + $(metric dtask_worker_transfers_total "$work/$worker.metrics")))
    fetched_bytes=$((fetched_bytes + $(metric dtask_worker_transfer_bytes_total "$work/$worker.metrics")))
  done
  [[ $fetched_bytes -ge $transfer_bytes ]] && break
  sleep 0.2
done
echo "the workers fetched $fetched_bytes bytes from each other in $fetches fetches"
[[ $fetches -gt 0 && $fetched_bytes -ge $transfer_bytes ]] ||
  fail "the workers' /metrics count $fetched_bytes bytes fetched from peers, the scheduler $transfer_bytes"

# ---- a clean stop ------------------------------------------------------------
for name in w1 w2 scheduler; do
  stop "$name"
  [[ $stopped_status == 0 ]] || fail "$name exited $stopped_status on SIGTERM"
done
echo "PASS: fan-out and array sums over mutual TLS across 4 namespaces (10.77.0.0/24, no loopback), $fetches peer fetches"
