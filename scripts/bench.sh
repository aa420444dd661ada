#!/usr/bin/env bash
# Reproduces the performance numbers in README.md. Needs hyperfine (Debian: apt-get install
# hyperfine); optional: pre-commit (pip install pre-commit) for the guard comparison, and
# NB_C_BIN=/path/to/nanoBragg (built outside this repository with gcc -O3 -march=native -fopenmp) for the
# simulator comparison, NB_TORCH_SRC=<hoidn/nanoBragg checkout>/src (with torch installed) for the
# PyTorch reimplementation. Usage: scripts/bench.sh [ledger|merge|guard|compare|hotspots|sim]...
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
ROOT="$PWD"
LOOP="$ROOT/target/release/loop"
FIX="$PWD/tests/fixtures/nanobragg"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export LOOP_NOW=2026-01-05T15:30:00Z
THREADS=${THREADS:-$(nproc)}
hf() { hyperfine -N --warmup 3 "$@" 2>&1 | grep -E "Benchmark|Time|±|faster|slower"; }

ledger() {
  echo "== ledger commands on the 396 KB ledger"
  cp -r "$FIX/large" "$WORK/large"
  cp -r "$FIX/workspace" "$WORK/decide" && cp "$FIX/large/docs/fix_plan.md" "$WORK/decide/docs/fix_plan.md"
  hf -i -m 30 "$LOOP status --json --root $FIX/large" "$LOOP next --json --root $WORK/decide" \
    "$LOOP lint --json --root $FIX/large" "$LOOP attempt TEST-SUITE-TRIAGE-002 --result partial --root $WORK/large"
  echo "== status and next on the largest history state (780 KB ledger, 13 plans)"
  hf -m 50 "$LOOP status --json --root $FIX/history/dd18a2a5" "$LOOP next --json --root $FIX/history/dd18a2a5"
  cargo bench --quiet -p ledger-loop-bench --bench ledger 2>&1 | grep -E "parse/|thrpt" || true
}

merge() {
  echo "== loop merge file: the 780 KB history ledger, one attempt appended on each side"
  python3 - "$FIX/history/dd18a2a5/docs/fix_plan.md" "$WORK" <<'PY'
import re, sys
s = open(sys.argv[1]).read()
i = s.index("## [SOURCE-WEIGHT-001]"); j = s.index("\n## ", i + 5)
last = list(re.finditer(r"\n(\s*[-*] )\[\d{4}-\d\d-\d\d\] Attempt #(\d+)[^\n]*", s[i:j]))[-1]
at, n, bullet = i + last.end(), int(last.group(2)), last.group(1)
for side, date in (("ours", "2026-01-02"), ("theirs", "2026-01-03")):
    open(f"{sys.argv[2]}/{side}.md", "w").write(s[:at] + f"\n{bullet}[{date}] Attempt #{n + 1} — Result: {side}." + s[at:])
open(f"{sys.argv[2]}/base.md", "w").write(s)
PY
  hf -m 30 --prepare "cp $WORK/ours.md $WORK/merged.md" "$LOOP merge file $WORK/base.md $WORK/merged.md $WORK/theirs.md"
}

guard() {
  echo "== loop guard: 10,000 tracked files, 100 staged changes"
  local r="$WORK/repo"; mkdir -p "$r" && cd "$r"
  git init -q && git config user.email b@example.invalid && git config user.name bench
  mkdir -p docs src && echo '* [Guide](./guide.md)' > docs/index.md && echo g > docs/guide.md && echo '# L' > docs/fix_plan.md
  for d in $(seq 0 99); do mkdir -p "src/d$d"; for f in $(seq 0 99); do echo "$d $f" > "src/d$d/f$f.txt"; done; done
  git add -A && git commit -qm base
  for f in $(seq 0 99); do echo changed >> "src/d7/f$f.txt"; done
  git add -A
  hf -m 50 "$LOOP guard"
  if command -v pre-commit >/dev/null; then
    cat > .pre-commit-config.yaml <<'YAML'
repos:
  - repo: local
    hooks:
      - id: no-reports
        name: keep reports/ out of commits
        language: fail
        entry: run artifacts under reports/ stay out of git
        files: ^reports/
      - id: max-size
        name: no files over 5 MB
        language: system
        entry: sh -c 'for f in "$@"; do [ $(wc -c < "$f") -le 5000000 ] || exit 1; done' --
YAML
    git add .pre-commit-config.yaml
    pre-commit run >/dev/null 2>&1 || true   # first run builds its environment
    hf -m 10 "pre-commit run"
  else
    echo "(pre-commit not installed: pip install pre-commit to compare)"
  fi
  cd - >/dev/null
}

compare() {
  echo "== loop compare: two 4096² float32 images (64 MB each)"
  "$LOOP" sim run --nb-args "-default_F 100 -cell 100 100 100 90 90 90 -lambda 6.2 -N 5 -distance 100 -detpixels 4096" --floatfile "$WORK/a.bin" >/dev/null
  "$LOOP" sim run --nb-args "-default_F 100 -cell 100 100 100 90 90 90 -lambda 6.2 -N 6 -distance 100 -detpixels 4096" --floatfile "$WORK/b.bin" >/dev/null
  hf -m 20 "cat $WORK/a.bin $WORK/b.bin" "$LOOP compare $WORK/a.bin $WORK/b.bin"
}

hotspots() {
  echo "== loop hotspots: a 200 MB Chrome trace"
  python3 - "$WORK/trace.json" <<'PY'
import sys, random
random.seed(1)
names = [f"aten::op_{i}" for i in range(300)]
with open(sys.argv[1], "w") as f:
    f.write('{"traceEvents": [\n')
    ts, first, size = 0.0, True, 0
    while size < 200_000_000:
        parts = []
        for tid in (1, 2):
            outer = random.choice(names)
            parts.append(f'{{"ph": "X", "cat": "cpu_op", "name": "{outer}", "pid": 7, "tid": {tid}, "ts": {ts:.3f}, "dur": 50.0, "args": {{"External id": {random.randint(1, 10**6)}, "Input Dims": [[4096, 4096], []]}}}}')
            for k in range(4):
                parts.append(f'{{"ph": "X", "cat": "cpu_op", "name": "{random.choice(names)}", "pid": 7, "tid": {tid}, "ts": {ts + 1 + 10 * k:.3f}, "dur": 8.0, "args": {{"Sequence number": {k}}}}}')
        chunk = ("" if first else ",\n") + ",\n".join(parts)
        first = False
        f.write(chunk)
        size += len(chunk)
        ts += 60.0
    f.write('\n], "displayTimeUnit": "ms"}\n')
PY
  ls -l "$WORK/trace.json" | awk '{printf "trace size: %.0f MB\n", $5/1e6}'
  hf -m 5 "$LOOP hotspots $WORK/trace.json --outdir $WORK/hs"
  /usr/bin/time -f "max RSS: %M KB" "$LOOP" hotspots "$WORK/trace.json" --outdir "$WORK/hs" >/dev/null
}

sim() {
  # The two cases the simulator is held to: the 4096² benchmark, and a 1024² detector with
  # two-theta, three detector rotations, a 3-layer sensor and 10 mosaic domains.
  local big="-default_F 100 -cell 100 100 100 90 90 90 -lambda 6.2 -N 5 -distance 100 -detpixels 4096"
  local rot="-default_F 100 -cell 100 100 100 90 90 90 -lambda 6.2 -N 5 -distance 100 -detpixels 1024 -twotheta 10 -detector_rotx 2 -detector_roty 3 -detector_rotz 4 -detector_thick 100 -detector_thicksteps 3 -mosaic 0.5 -mosaic_dom 10"
  echo "== simulator: profile of the 4096² case, $THREADS threads"
  "$LOOP" sim profile --sizes 4096 --iterations 3 --threads "$THREADS" --outdir "$WORK/prof"
  /usr/bin/time -f "loop sim run max RSS: %M KB" "$LOOP" sim run --nb-args "$big" --threads "$THREADS" --floatfile "$WORK/r.bin" >/dev/null
  for case in big rot; do
    local args=${!case}
    echo "== simulator vs nanoBragg C, case $case: $args"
    echo "-- AVX2+FMA build against the baseline build (render only):"
    for simd in auto baseline; do "$LOOP" sim run --nb-args "$args" --threads "$THREADS" --simd "$simd"; done
    if [ -n "${NB_C_BIN:-}" ]; then
      (cd "$WORK" && rm -f Fdump.bin && OMP_NUM_THREADS=$THREADS hf -m 5 \
        "$NB_C_BIN $args -nonoise -nopgm -floatfile c.bin" "$LOOP sim run --nb-args '$args' --threads $THREADS --floatfile r.bin")
      "$LOOP" compare "$WORK/r.bin" "$WORK/c.bin" --gate "corr>=0.999,sum_ratio=1±5e-3"
    else
      echo "(set NB_C_BIN to a nanoBragg built with gcc -O3 -march=native -fopenmp to compare)"
    fi
  done
  if [ -n "${NB_TORCH_SRC:-}" ]; then
    # The PyTorch reimplementation: NB_TORCH_SRC is the `src` folder of a hoidn/nanoBragg checkout.
    echo "== PyTorch reimplementation, case big, $THREADS threads"
    (cd "$WORK" && export PYTHONPATH="$NB_TORCH_SRC" OMP_NUM_THREADS=$THREADS THREADS &&
      /usr/bin/time -f "compiled, whole process: %e s" python3 -m nanobrag_torch $big -floatfile t.bin >/dev/null &&
      NANOBRAGG_DISABLE_COMPILE=1 /usr/bin/time -f "eager, whole process: %e s" python3 -m nanobrag_torch $big -floatfile t.bin >/dev/null &&
      echo "-- compiled, three runs in one process:" && python3 "$ROOT/scripts/torch_warm.py" $big -floatfile t.bin 2>&1 >/dev/null | grep TIMING &&
      echo "-- eager, three runs in one process:" && NANOBRAGG_DISABLE_COMPILE=1 python3 "$ROOT/scripts/torch_warm.py" $big -floatfile t.bin 2>&1 >/dev/null | grep TIMING)
    "$LOOP" sim run --nb-args "$big" --threads "$THREADS" --floatfile "$WORK/r.bin" >/dev/null
    "$LOOP" compare "$WORK/t.bin" "$WORK/r.bin"
  fi
}

for what in ${@:-ledger merge guard compare hotspots sim}; do
  for w in $what; do "$w"; done
done
