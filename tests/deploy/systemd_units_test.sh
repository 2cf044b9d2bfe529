#!/usr/bin/env bash
# The systemd units in deploy/systemd/ (tests/CMakeLists.txt runs this):
#   systemd_units_test.sh UNIT_DIR SCHEDULER_BIN WORKER_BIN
# 1. Every option that a unit's ExecStart= or an env file's settings pass to a
#    daemon is one its --help lists, and every variable ExecStart= uses is set
#    by the unit's env file (systemd would silently make a misspelt one empty;
#    a ${VAR} in braces, one argument, must be set to something).
# 2. `systemd-analyze verify` passes on copies of the units whose ExecStart=
#    names the built binaries (verify fails on a binary that does not exist),
#    and says nothing about them: it exits 0 after "Unknown key ..., ignoring"
#    and the like, which this test counts as failures.
# Exits 77 (ctest: skipped) without systemd-analyze.
set -euo pipefail

if [[ $# -ne 3 ]]; then
  echo "usage: $0 UNIT_DIR SCHEDULER_BIN WORKER_BIN" >&2
  exit 2
fi
unit_dir=$1
scheduler_bin=$2
worker_bin=$3

if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "SKIP: systemd-analyze not found (Debian package systemd)"
  exit 77
fi
for bin in "$scheduler_bin" "$worker_bin"; do
  [[ -x $bin ]] || { echo "FAIL: $bin is not an executable (build dtask-scheduler and dtask-worker first)" >&2; exit 1; }
done

failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

# ExecStart= of a unit with its continuation lines joined.
exec_start() {
  awk '/\\$/ { sub(/\\$/, ""); line = line $0; next } { print line $0; line = "" }' "$1" | grep '^ExecStart='
}

# The long options a daemon's --help lists, one per line.
known_options() {
  "$1" --help | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u
}

# check_unit UNIT ENV_FILE BIN: options and variables of one unit.
check_unit() {
  local unit=$1 env_file=$2 bin=$3 name option var value before=$failures
  local -a options
  name=$(basename "$unit")
  mapfile -t options < <(known_options "$bin")
  [[ ${#options[@]} -gt 3 ]] || { fail "$bin --help lists no options"; return; }
  local cmdline
  cmdline=$(exec_start "$unit") || { fail "$name has no ExecStart="; return; }
  # Options in ExecStart=, and in the settings (commented-out examples too) of its env files.
  local -a used
  mapfile -t used < <(
    { echo "$cmdline"
      for f in "$env_file" "${@:4}"; do grep -E '^#?[A-Z_][A-Z0-9_]*=' "$f" | sed 's/^#//'; done
    } | grep -oE -- '(^|[ =])--[a-z][a-z0-9-]*' | sed 's/^[ =]//' | sort -u)
  [[ ${#used[@]} -gt 0 ]] || fail "$name: no options found in ExecStart= or its env files"
  for option in "${used[@]}"; do
    if ! printf '%s\n' "${options[@]}" | grep -qxF -- "$option"; then
      fail "$name or its env files pass $option, which $(basename "$bin") --help does not list"
    fi
  done
  # ${VAR}: set and not empty. $VAR: set (empty is zero arguments).
  for var in $(echo "$cmdline" | grep -oE '\$\{[A-Za-z_][A-Za-z0-9_]*\}|\$[A-Za-z_][A-Za-z0-9_]*' | sort -u); do
    if [[ $var == "\${"* ]]; then
      var=${var#\$\{}
      var=${var%\}}
      value=$(grep -E "^${var}=" "$env_file" | tail -n 1 | cut -d= -f2-) || true
      [[ -n $value ]] || fail "$name uses \${$var}, which $(basename "$env_file") does not set to a value"
    else
      var=${var#\$}
      grep -qE "^${var}=" "$env_file" || fail "$name uses \$$var, which $(basename "$env_file") does not set"
    fi
  done
  [[ $failures -eq $before ]] || return 0
  echo "ok: $name: ${#used[@]} options known to $(basename "$bin"), variables set in $(basename "$env_file")"
}

check_unit "$unit_dir/dtask-scheduler.service" "$unit_dir/dtask-scheduler.env" "$scheduler_bin"
check_unit "$unit_dir/dtask-worker@.service" "$unit_dir/dtask-worker.env" "$worker_bin" "$unit_dir"/dtask-worker-*.env

# Copies whose ExecStart= runs the built binaries.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$unit_dir"/*.service "$work"/
for pair in "dtask-scheduler.service:/usr/local/bin/dtask-scheduler:$scheduler_bin" \
            "dtask-worker@.service:/usr/local/bin/dtask-worker:$worker_bin"; do
  IFS=: read -r unit installed built <<<"$pair"
  grep -q "^ExecStart=$installed " "$work/$unit" || fail "$unit: ExecStart= does not start with $installed"
  sed -i "s|^ExecStart=$installed |ExecStart=$built |" "$work/$unit"
done

echo "+ systemd-analyze verify --man=no dtask-scheduler.service dtask-worker@0.service (in $work)"
rc=0
output=$(cd "$work" && systemd-analyze verify --man=no ./dtask-scheduler.service ./dtask-worker@0.service 2>&1) || rc=$?
[[ -z $output ]] || echo "$output"
[[ $rc -eq 0 ]] || fail "systemd-analyze verify exited $rc"
if grep -q 'dtask-' <<<"$output"; then
  fail "systemd-analyze verify reported problems with the units (above)"
fi

if [[ $failures -ne 0 ]]; then
  echo "systemd_units_test: $failures failure(s)" >&2
  exit 1
fi
echo "systemd_units_test: passed"
