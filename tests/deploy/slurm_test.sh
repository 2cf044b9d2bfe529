#!/usr/bin/env bash
# deploy/slurm/dtask-cluster.sbatch on a real Slurm: starts munged, slurmctld
# and slurmd (one node: this machine) from a config written into a temp dir,
# submits the script with `sbatch --wait` for two workers running
# examples/cluster_sum, and checks the client's answer, the job's exit code,
# and that no dtask daemon of the job is left running. Then many allocations
# feeding one scheduler: dtask-adapt submits deploy/slurm/dtask-worker.sbatch
# jobs while cluster_sum runs, and once it is idle retires the workers, whose
# jobs then end by themselves.
#
#   bash tests/deploy/slurm_test.sh DTASK_SCHEDULER DTASK_WORKER CLUSTER_SUM SBATCH_SCRIPT DTASK_ADAPT WORKER_SBATCH
#
# Exits 77 (ctest: skipped) where Slurm is not installed, where it is not
# root (slurmd must be), or where the daemons cannot start. DTASK_KEEP_TEST_DIR=1
# keeps the temp folder (logs, the Slurm config) for a look afterwards.
set -euo pipefail

scheduler_bin=$(realpath "$1")
worker_bin=$(realpath "$2")
client=$(realpath "$3")
script=$(realpath "$4")
adapt_bin=$(realpath "$5")
worker_script=$(realpath "$6")

skip() { echo "SKIP: $*" >&2; exit 77; }
for tool in munged slurmctld slurmd sbatch sinfo; do
  command -v "$tool" >/dev/null 2>&1 || skip "$tool is not installed (Debian: slurm-wlm, munge)"
done
[[ $(id -u) == 0 ]] || skip "slurmd must run as root"

work=$(mktemp -d /tmp/dtask-slurm-test.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  scancel --user=root 2>/dev/null || true
  for pid_file in "$work/slurmd.pid" "$work/slurmctld.pid" "$work/munge/pid"; do
    if [[ -s $pid_file ]]; then kill "$(cat "$pid_file")" 2>/dev/null || true; fi
  done
  # The daemons remove their pid files as they exit: wait (bounded) for that.
  for _ in $(seq 50); do
    [[ -e $work/slurmd.pid || -e $work/slurmctld.pid ]] || break
    sleep 0.1
  done
  [[ -n ${DTASK_KEEP_TEST_DIR:-} ]] || rm -rf "$work"
}
trap cleanup EXIT

free_port() { /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
host=$(hostname -s)
mkdir -p "$work/state" "$work/spool" "$work/munge" "$work/munge-socket" "$work/submit" "$work/bin"
# The sbatch script finds both daemons in one DTASK_BIN_DIR, as an install has them.
ln -s "$scheduler_bin" "$work/bin/dtask-scheduler"
ln -s "$worker_bin" "$work/bin/dtask-worker"
bin_dir="$work/bin"
chmod 700 "$work/munge"  # the key's; munged wants its socket's folder open to all
chmod 755 "$work/munge-socket"
head -c 1024 /dev/urandom >"$work/munge/munge.key"
chmod 400 "$work/munge/munge.key"
munged --key-file="$work/munge/munge.key" --socket="$work/munge-socket/socket" --pid-file="$work/munge/pid" \
  --log-file="$work/munge/log" --seed-file="$work/munge/seed" || skip "munged did not start"

cat >"$work/slurm.conf" <<EOF
ClusterName=dtasktest
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
AuthType=auth/munge
AuthInfo=socket=$work/munge-socket/socket
CredType=cred/munge
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
NodeName=$host CPUs=$(nproc) RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$work/slurm.conf"
slurmctld -c -i || skip "slurmctld did not start: $(tail -3 "$work/slurmctld.log" 2>/dev/null)"
slurmd || skip "slurmd did not start: $(tail -3 "$work/slurmd.log" 2>/dev/null)"
idle=0
for _ in $(seq 300); do  # up to 30 s for the node to come up idle
  if sinfo -h -o %T 2>/dev/null | grep -qx idle; then idle=1; break; fi
  sleep 0.1
done
[[ $idle == 1 ]] || skip "the Slurm node did not come up: $(tail -3 "$work/slurmd.log" 2>/dev/null)"

cd "$work/submit"
status=0
DTASK_BIN_DIR="$bin_dir" DTASK_SCHEDULER_PORT=0 DTASK_DASHBOARD_ADDRESS=127.0.0.1:0 DTASK_NTHREADS=1 \
  DTASK_MEMORY_LIMIT=512MiB DTASK_WORKER_TIMEOUT=60 \
  sbatch --wait --ntasks-per-node=2 --time=5 --output="$work/job.out" "$script" "$client" 2000 \
  >"$work/sbatch.out" || status=$?
job=$(grep -o '[0-9]*' "$work/sbatch.out" | head -1)
echo "--- job $job output" >&2
cat "$work/job.out" >&2 || true
fail() {
  echo "FAIL: $*" >&2
  for log in "$work"/submit/dtask-*/*.log; do echo "--- $log" >&2; tail -20 "$log" >&2; done
  exit 1
}
[[ $status == 0 ]] || fail "sbatch --wait exited $status"
grep -q "cluster_sum: N=2000 sum=2001000 workers=2" "$work/job.out" || fail "the client's answer is missing or wrong"
[[ -s $work/submit/dtask-$job/scheduler.log ]] || fail "no scheduler log in the job's directory"
# --time=5 leaves under 300 s: the margin is half the time left, so each
# worker was told to retire about 2.5 minutes in (the job ends long before).
[[ $(cat "$work"/submit/dtask-"$job"/worker-*.log | grep -c "lifetime: retiring in 1[0-9][0-9]\.") == 2 ]] ||
  fail "the workers were not given a --lifetime from the job's time limit"
if pgrep -f "slurm-$job-" >/dev/null || pgrep -f "dtask-$job/scheduler.json" >/dev/null; then
  pgrep -af "dtask-" >&2 || true
  fail "dtask daemons of job $job are still running"
fi
[[ ! -e $work/submit/dtask-$job/scheduler.json ]] || fail "the scheduler file is left behind (not a clean stop)"
echo "ok: job $job ran cluster_sum on 2 Slurm-started workers and left nothing running"

# ---- many allocations, one scheduler: dtask-adapt submits worker jobs ----
shared="$work/shared"
mkdir -p "$shared"
"$scheduler_bin" --host 127.0.0.1 --port 0 --dashboard-address 127.0.0.1:0 --scheduler-file "$shared/scheduler.json" \
  --adaptive-target-duration 0.01 >"$work/adapt-scheduler.out" 2>"$work/adapt-scheduler.log" &
pids+=($!)
for _ in $(seq 200); do
  [[ -s $shared/scheduler.json ]] && grep -q 'dashboard at' "$work/adapt-scheduler.out" && break
  sleep 0.05
done
dashboard=$(grep -o 'dashboard at [^ ]*' "$work/adapt-scheduler.out" | cut -d' ' -f3)
address=$(grep -o 'listening on [^ ]*' "$work/adapt-scheduler.out" | cut -d' ' -f3)
[[ -n $dashboard && -n $address ]] || fail "the shared scheduler did not start: $(cat "$work/adapt-scheduler.log")"
# What sbatch passes on to dtask-worker.sbatch.
export DTASK_SCHEDULER_FILE="$shared/scheduler.json" DTASK_BIN_DIR="$bin_dir" DTASK_NTHREADS=1 \
  DTASK_MEMORY_LIMIT=512MiB
scale_up="for i in \$(seq \"\$DTASK_ADAPT_COUNT\"); do sbatch --parsable --time=5 --output=$work/adapt-job-%j.out $worker_script >>$work/adapt-jobs.txt; done"
"$adapt_bin" --dashboard "$dashboard" --minimum 0 --maximum 2 --interval 200ms --wait-count 3 --cooldown 1s \
  --threads-per-worker 1 --scale-up "$scale_up" >"$work/adapt.log" 2>&1 &
pids+=($!)
adapt_fail() {
  echo "--- dtask-adapt" >&2
  cat "$work/adapt.log" >&2
  for log in "$shared"/worker-*.log; do echo "--- $log" >&2; tail -20 "$log" >&2; done
  fail "$@"
}
# The graph waits in no-worker until the jobs' workers join.
answer=$(timeout 120 "$client" 2000 "$address") || adapt_fail "cluster_sum against the adaptive pool failed"
[[ $answer == *"sum=2001000"* ]] || adapt_fail "wrong answer from the adaptive pool: $answer"
# Idle: the workers are retired and their jobs end without a scancel.
drained=0
for _ in $(seq 600); do  # up to 60 s
  if [[ -s $work/adapt-jobs.txt && -z $(squeue -h -o %i 2>/dev/null) ]]; then drained=1; break; fi
  sleep 0.1
done
[[ $drained == 1 ]] || adapt_fail "worker jobs still queued or running: $(squeue -h 2>&1)"
grep -q "retired slurm-" "$work/adapt.log" || adapt_fail "dtask-adapt retired no Slurm worker"
jobs_run=$(wc -l <"$work/adapt-jobs.txt")
echo "PASS: dtask-adapt ran cluster_sum on $jobs_run worker allocations and retired them; their jobs ended"
