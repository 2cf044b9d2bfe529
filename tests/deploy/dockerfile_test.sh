#!/usr/bin/env bash
# deploy/Dockerfile without a container engine (tests/CMakeLists.txt runs
# this; container_test.sh builds and runs the image where podman can):
#   dockerfile_test.sh SOURCE_DIR SCHEDULER_BIN WORKER_BIN
# 1. Every COPY source (but --from=build's) exists in SOURCE_DIR, the build
#    context, and no .dockerignore pattern leaves it out.
# 2. Every -DDTASK_... the build passes is an option() of CMakeLists.txt.
# 3. Every ENV DTASK_SCHEDULER_.../DTASK_WORKER_... is a variable the daemon's
#    --help names (a misspelt one would be ignored).
# 4. EXPOSE has the scheduler's default port and dashboard port, as --help
#    gives them.
# 5. The entrypoint script is executable, and runs the paths the daemons are
#    installed at.
# 6. Every folder the top-level CMakeLists.txt reads (add_subdirectory, and
#    include() of a file in the tree) is copied, but tests/, bench/ and fuzz/,
#    which the image's build turns off.
set -euo pipefail

if [[ $# -ne 3 ]]; then
  echo "usage: $0 SOURCE_DIR SCHEDULER_BIN WORKER_BIN" >&2
  exit 2
fi
source_dir=$1
scheduler_bin=$2
worker_bin=$3
dockerfile=$source_dir/deploy/Dockerfile
ignore_file=$source_dir/.dockerignore

failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
[[ -f $dockerfile ]] || { echo "FAIL: $dockerfile not found" >&2; exit 1; }
[[ -f $ignore_file ]] || fail ".dockerignore not found (the build context would hold build*/ and .git)"

# The Dockerfile's instructions, one per line, continuation lines joined.
instructions() {
  awk '/^[[:space:]]*#/ { next } /\\$/ { sub(/\\$/, ""); line = line $0; next } { print line $0; line = "" }' \
    "$dockerfile" | grep -v '^[[:space:]]*$'
}

# 1. COPY sources.
patterns=()
if [[ -f $ignore_file ]]; then
  mapfile -t patterns < <(grep -vE '^[[:space:]]*(#|$)' "$ignore_file" | sed 's|/$||')
fi
ignored() {  # ignored PATH: a .dockerignore pattern matches PATH or a folder above it
  local path=$1 prefix="" part pattern
  local -a parts
  IFS=/ read -r -a parts <<<"$path"
  for part in "${parts[@]}"; do
    prefix=${prefix:+$prefix/}$part
    for pattern in "${patterns[@]}"; do
      # shellcheck disable=SC2053  # the pattern is a glob on purpose
      if [[ $prefix == $pattern || ($pattern == '**/'* && $part == ${pattern#'**/'}) ]]; then return 0; fi
    done
  done
  return 1
}
copies=0
copied=()
while read -r -a words; do
  [[ ${words[0]^^} == COPY ]] || continue
  sources=("${words[@]:1:${#words[@]}-2}")
  [[ ${sources[0]} == --from=* ]] && continue
  for src in "${sources[@]}"; do
    [[ $src == --* ]] && continue
    copies=$((copies + 1))
    src=${src%/}
    copied+=("$src")
    [[ -e $source_dir/$src ]] || fail "COPY $src: no such file or folder in $source_dir"
    if ignored "$src"; then fail "COPY $src: .dockerignore leaves it out of the build context"; fi
  done
done < <(instructions)
[[ $copies -gt 5 ]] || fail "found only $copies COPY sources in $dockerfile"

# 2. CMake options.
for option in $(instructions | grep -oE -- '-DDTASK_[A-Z0-9_]+' | sed 's/^-D//' | sort -u); do
  grep -qE "^option\(${option}[[:space:]]" "$source_dir/CMakeLists.txt" ||
    fail "the Dockerfile passes -D$option, which is no option() in CMakeLists.txt"
done

# 3. Environment variables.
for var in $(instructions | awk 'toupper($1) == "ENV" { for (i = 2; i <= NF; i++) print $i }' |
             grep -oE '^DTASK_[A-Z0-9_]+' | sort -u); do
  case "$var" in
    DTASK_SCHEDULER_*) bin=$scheduler_bin ;;
    DTASK_WORKER_*) bin=$worker_bin ;;
    *) fail "ENV $var is neither DTASK_SCHEDULER_... nor DTASK_WORKER_..."; continue ;;
  esac
  help=$("$bin" --help)
  grep -qF "(Env:$var)" <<<"$help" || fail "ENV $var: $(basename "$bin") --help names no such variable"
done

# 4. Ports.
exposed=$(instructions | awk 'toupper($1) == "EXPOSE" { for (i = 2; i <= NF; i++) print $i }' | sed 's|/tcp$||')
help=$("$scheduler_bin" --help)
port=$(grep -E -- '^ *--port ' <<<"$help" | grep -oE '=[0-9]+' | tr -d = || true)
dashboard_port=$(grep -E -- '^ *--dashboard-address ' <<<"$help" | grep -oE ':[0-9]+ ' | tr -d ': ' || true)
for p in "$port" "$dashboard_port"; do
  [[ -n $p ]] || { fail "could not read the scheduler's default ports from its --help"; continue; }
  grep -qxF "$p" <<<"$exposed" || fail "the scheduler's default port $p is not in EXPOSE ($(echo "$exposed" | tr '\n' ' '))"
done

# 5. The entrypoint.
entrypoint_src=$(instructions | awk 'toupper($1) == "COPY" && $NF == "/usr/local/bin/dtask-entrypoint" { print $2 }')
instructions | grep -qF 'ENTRYPOINT ["/usr/local/bin/dtask-entrypoint"]' || fail "ENTRYPOINT is not /usr/local/bin/dtask-entrypoint"
if [[ -z $entrypoint_src ]]; then
  fail "no COPY installs /usr/local/bin/dtask-entrypoint"
else
  [[ -x $source_dir/$entrypoint_src ]] || fail "$entrypoint_src is not executable (COPY keeps the mode)"
  for daemon in dtask-scheduler dtask-worker; do
    grep -q "exec /usr/local/bin/$daemon " "$source_dir/$entrypoint_src" || fail "$entrypoint_src does not exec /usr/local/bin/$daemon"
    instructions | grep -qE "install .*/out/usr/local/bin/$daemon\$|install .*/out/usr/local/bin/$daemon " ||
      fail "the build stage does not install /usr/local/bin/$daemon"
  done
fi

# 6. What the configure step reads.
read_by_cmake=$(grep -oE '^[[:space:]]*(add_subdirectory|include)\([^)$]+\)' "$source_dir/CMakeLists.txt" |
  sed -E 's/.*\(([^ )]+).*/\1/' | cut -d/ -f1 | sort -u)
for folder in $read_by_cmake; do
  case "$folder" in tests | bench | fuzz | GNUInstallDirs | CMakePackageConfigHelpers) continue ;; esac
  [[ -e $source_dir/$folder ]] || continue  # a CMake module, not a folder of ours
  found=0
  for src in "${copied[@]}"; do [[ $src == "$folder" ]] && found=1; done
  [[ $found == 1 ]] || fail "CMakeLists.txt reads $folder/, which no COPY puts in the build stage"
done

if [[ $failures -gt 0 ]]; then
  echo "dockerfile_test: $failures failure(s)" >&2
  exit 1
fi
echo "dockerfile_test: $copies COPY sources, options, ENV, EXPOSE and the entrypoint are consistent"
