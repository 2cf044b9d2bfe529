#!/usr/bin/env bash
# Prints, one per line, the Debian packages that hold the shared libraries the
# given executables load (by ldd), so that deploy/Dockerfile's runtime stage
# installs those and no -dev package, compiler or build tool:
#   bash runtime-packages.sh /usr/local/bin/dtask-scheduler /usr/local/bin/dtask-worker
# Fails on a library that no installed package holds (one built in the tree
# and not linked statically, or installed by hand), or that ldd cannot find.
set -euo pipefail

if [[ $# -lt 1 ]]; then
  echo "usage: $0 EXECUTABLE..." >&2
  exit 2
fi

if ldd "$@" | grep -q 'not found'; then
  ldd "$@" >&2
  echo "runtime-packages: a library above was not found" >&2
  exit 1
fi

# The package holding PATH: dpkg knows each file by the path its package
# ships it at, which since the /usr merge may be /lib/... for a file ldd
# reports as /usr/lib/... (or the other way), or the target of a symlink.
owner() {
  local path=$1 real candidate out
  real=$(readlink -f "$path")
  for candidate in "$path" "$real" "/usr$path" "${path#/usr}" "/usr$real" "${real#/usr}"; do
    if out=$(dpkg-query -S "$candidate" 2>/dev/null); then
      # "libssl3:amd64: /usr/lib/x86_64-linux-gnu/libssl.so.3" -> libssl3
      echo "${out%%[:,]*}"
      return 0
    fi
  done
  echo "runtime-packages: no installed package holds $path" >&2
  return 1
}

mapfile -t libs < <(ldd "$@" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// && $2 ~ /^\(0x/ { print $1 }' | sort -u)
packages=()
for lib in "${libs[@]}"; do
  packages+=("$(owner "$lib")")
done
printf '%s\n' "${packages[@]}" | sort -u
