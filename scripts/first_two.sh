#!/usr/bin/env bash
# Times the README's first two commands on a fresh clone of this repository (the crate registry
# as it is on this machine: warm when crates were fetched before). Wall time is what a newcomer
# waits; CPU time (user + system) varies less with what else the machine is doing.
# usage: scripts/first_two.sh [CLONE_DIR]   (default: a temp dir, removed afterwards)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
dir="${1:-$(mktemp -d)}"
[[ -n "${1:-}" ]] || trap 'rm -rf "$dir"' EXIT
git clone -q "$here" "$dir/clone"
cd "$dir/clone"
timed() { /usr/bin/time -f "%e %U %S" -o "$dir/time.$1" "${@:2}"; }
timed run cargo run --release -- next --run >/dev/null
timed test cargo test --release >/dev/null 2>&1
read -r rw ru rs <"$dir/time.run"
read -r tw tu ts <"$dir/time.test"
awk -v rw="$rw" -v ru="$ru" -v rs="$rs" -v tw="$tw" -v tu="$tu" -v ts="$ts" 'BEGIN {
  printf "cargo run --release -- next --run: %4.0f s wall, %4.0f s CPU\n", rw, ru + rs
  printf "cargo test --release:              %4.0f s wall, %4.0f s CPU\n", tw, tu + ts
  printf "together:                          %4.0f s wall, %4.0f s CPU\n", rw + tw, ru + rs + tu + ts
}'
