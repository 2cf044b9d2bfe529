#!/usr/bin/env bash
# Compile-time checks as a test: compiles SOURCE with no case (it must
# compile), then once per "// case NAME: MESSAGE" line with -DCASE_NAME,
# which must fail with MESSAGE in the compiler's output. Syntax only: no
# object files, about a second a case.
#   run.sh COMPILER SOURCE [FLAG...]      (FLAG: -std=c++20, -I dirs, ...)
set -uo pipefail
compiler=$1
source=$2
shift 2
flags=("$@")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if ! "$compiler" -fsyntax-only "${flags[@]}" "$source" >"$work/control.log" 2>&1; then
  echo "FAIL: $source does not compile without a case (the control):"
  cat "$work/control.log"
  exit 1
fi
echo "ok: control compiles"

failed=0
cases=0
while IFS= read -r line; do
  name=${line#// case }
  name=${name%%:*}
  expected=${line#*: }
  cases=$((cases + 1))
  if "$compiler" -fsyntax-only "${flags[@]}" "-DCASE_$name" "$source" >"$work/$name.log" 2>&1; then
    echo "FAIL: case $name compiled; it must not"
    failed=1
  elif ! grep -qF -- "$expected" "$work/$name.log"; then
    echo "FAIL: case $name did not compile, but without \"$expected\":"
    head -c 4000 "$work/$name.log"
    failed=1
  else
    echo "ok: $name: $expected"
  fi
done < <(grep -E '^// case [A-Z_]+: ' "$source")

if [[ $cases == 0 ]]; then
  echo "FAIL: no cases in $source"
  exit 1
fi
exit $failed
