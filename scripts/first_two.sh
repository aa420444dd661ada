#!/usr/bin/env bash
# Times the README's first two commands on a fresh clone of this repository (the crate registry
# as it is on this machine: warm when crates were fetched before).
# usage: scripts/first_two.sh [CLONE_DIR]   (default: a temp dir, removed afterwards)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
dir="${1:-$(mktemp -d)}"
[[ -n "${1:-}" ]] || trap 'rm -rf "$dir"' EXIT
git clone -q "$here" "$dir/clone"
cd "$dir/clone"
t0=$(date +%s)
cargo run --release -- next --run >/dev/null
t1=$(date +%s)
cargo test --release >/dev/null 2>&1
t2=$(date +%s)
echo "cargo run --release -- next --run: $((t1 - t0)) s"
echo "cargo test --release:              $((t2 - t1)) s"
echo "together:                          $((t2 - t0)) s"
