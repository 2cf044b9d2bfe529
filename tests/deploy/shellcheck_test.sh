#!/usr/bin/env bash
# Every shell script under each DIR (deploy/ and tests/deploy/, as
# tests/CMakeLists.txt passes them), found by its .sh or .bash name or by a
# #! line naming sh, bash, dash or ksh, passes shellcheck at every severity (style included):
#   bash shellcheck_test.sh DIR [DIR...]
# A deliberate pattern is marked where it stands with a "disable=SCxxxx"
# directive for shellcheck and the reason. Exits 77 (ctest: skipped) where
# the shellcheck program is missing.
set -euo pipefail

if [[ $# -lt 1 ]]; then
  echo "usage: $0 DIR [DIR...]" >&2
  exit 2
fi
if ! command -v shellcheck >/dev/null 2>&1; then
  echo "SKIP: shellcheck not found (Debian package shellcheck)"
  exit 77
fi

scripts=()
while IFS= read -r -d '' file; do
  case "$file" in
    *.sh|*.bash) scripts+=("$file") ;;
    *) if head -n 1 "$file" | grep -qE '^#!.*[/ ](sh|bash|dash|ksh)([[:space:]]|$)'; then scripts+=("$file"); fi ;;
  esac
done < <(find "$@" -type f -print0 | sort -z)

if [[ ${#scripts[@]} -eq 0 ]]; then
  echo "FAIL: no shell scripts found under $*" >&2
  exit 1
fi
echo "+ shellcheck --norc --severity=style ${scripts[*]}"
shellcheck --version | grep '^version'
if ! shellcheck --norc --severity=style "${scripts[@]}"; then
  echo "shellcheck_test: shellcheck found problems (above)" >&2
  exit 1
fi
echo "shellcheck_test: ${#scripts[@]} script(s) passed"
