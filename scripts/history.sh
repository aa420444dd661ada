#!/usr/bin/env bash
# Sweep every commit of a workspace repository's branch that touches its memo or ledger through
# `loop status`, `next`, `lint` and `attempt --dry-run`, and print counts: panics, exit codes,
# whether `next` follows the memo (its focus item, and its command or a manual step), and whether
# every offered command is one a shell would run (`sh -n`, no bare assignment, no heredoc head).
#
# usage: scripts/history.sh MIRROR [BRANCH]
#   MIRROR  a git directory (a bare mirror or a clone), e.g. one `fetch` brought
#   BRANCH  default: the mirror's HEAD
# env: LOOP (default target/release/loop, built if missing), OUT (results folder, kept; default a
#      temp dir), JOBS (parallel states, default nproc), LIMIT (only the newest N states),
#      SHOW (disagreements to list, default 40)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
mirror="${1:?usage: scripts/history.sh MIRROR [BRANCH]}"
branch="${2:-HEAD}"
mirror="$(cd "$mirror" && pwd)"
if [[ -z "${LOOP:-}" ]]; then
  (cd "$here" && cargo build --release --quiet)
  LOOP="$here/target/release/loop"
fi
OUT="${OUT:-$(mktemp -d)}"
mkdir -p "$OUT"
JOBS="${JOBS:-$(nproc)}"
export LOOP OUT mirror
export LOOP_NOW=2026-01-05T15:30:00Z NO_COLOR=1

commits=$(git --git-dir="$mirror" rev-list "$branch" -- input.md docs/fix_plan.md fix_plan.md)
if [[ -n "${LIMIT:-}" ]]; then commits=$(head -n "$LIMIT" <<<"$commits"); fi
echo "$(wc -l <<<"$commits") states of $branch in $mirror; results in $OUT" >&2

# One state: the workflow's files as they stood at that commit, then the four commands.
one() {
  local sha=$1 dir="$OUT/$1"
  [[ -f "$dir/done" ]] && return 0
  rm -rf "$dir" && mkdir -p "$dir/ws"
  git --git-dir="$mirror" ls-tree -r -z --name-only "$sha" |
    grep -zE '^(input\.md|fix_plan\.md|loop\.yaml|CLAUDE\.md|AGENTS\.md|docs/(fix_plan|index)\.md|plans/active/.*)$' |
    xargs -0 -r git --git-dir="$mirror" archive "$sha" -- | tar -x -C "$dir/ws"
  local ws="$dir/ws"
  run() { # name, args...
    local name=$1; shift
    set +e
    timeout 60 "$LOOP" --root "$ws" "$@" >"$dir/$name.out" 2>"$dir/$name.err"
    echo $? >"$dir/$name.rc"
    set -e
  }
  run status status --json
  run next next --json
  run lint lint --json
  run attempt attempt --result partial --note 'history sweep' --dry-run
  touch "$dir/done"
}
export -f one
xargs -P "$JOBS" -I{} bash -c 'one {}' <<<"$commits"

echo "$commits" >"$OUT/commits.txt"
python3 - "$OUT" "${SHOW:-40}" <<'PY'
import json, os, re, subprocess, sys
from collections import Counter

out, show = sys.argv[1], int(sys.argv[2])
shas = open(os.path.join(out, "commits.txt")).read().split()
rc = {c: Counter() for c in ("status", "next", "lint", "attempt")}
panics, exit2, bad_cmd, disagree, closed_focus = [], [], [], [], []
memo_states = agree = 0
ID = r"[A-Za-z][A-Za-z0-9]*(?:[-\u2010-\u2015][A-Za-z0-9]+)+"

def slug(s):
    s = re.sub(r"[^\w\- ]", "", s.strip().lower())
    return s.replace(" ", "-")

def memo_ids(memo, ledger):
    """The items a careful reader takes the memo to be about, read independently of loop."""
    ids = []
    for line in memo.splitlines():
        l = line.strip().strip("*").strip()
        m = re.match(r"(?i)(?:\*\*)?focus(?:\*\*)?\s*:\s*(.*)", l) or re.search(r"Active Focus:\s*(.*)", l)
        if not m:
            continue
        v = m.group(1)
        for a in re.findall(r"fix_plan\.md#([\w\-]+)", v):
            for h in re.findall(r"^##+ (.*)$", ledger, re.M):
                if slug(h) == a.lower():
                    ids += re.findall(r"\[(" + ID + r")\]", h)
        ids += re.findall(r"\[(" + ID + r")\]", v) + re.findall(r"\b(" + ID + r")\b", v)
        if ids:
            break
    if not ids:
        m = re.search(r"(?m)^\s*(?:\*\*)?Do Now(?:\*\*)?[^\n]*?:?\s*\[(" + ID + r")\]", memo)
        if m:
            ids.append(m.group(1))
    return [i.upper() for i in ids]

def is_shell(cmd):
    if re.fullmatch(r"\s*[A-Za-z_]\w*=\S*\s*", cmd):
        return "bare assignment"
    if re.search(r"<<-?\s*['\"]?\w+", cmd) and "\n" not in cmd:
        return "heredoc head"
    p = subprocess.run(["sh", "-n", "-c", cmd], capture_output=True, text=True)
    return "sh -n: " + p.stderr.strip() if p.returncode else None

for sha in shas:
    d = os.path.join(out, sha)
    get = lambda n, ext: open(os.path.join(d, f"{n}.{ext}"), errors="replace").read()
    for c in rc:
        code = int(get(c, "rc").strip() or -1)
        rc[c][code] += 1
        err = get(c, "err")
        if code == 101 or "panicked at" in err:
            panics.append((sha, c, err.strip().splitlines()[-1:] ))
        if code == 2:
            msg = err.strip().splitlines()[-1] if err.strip() else ""
            if not msg and c == "status":
                try:
                    diags = json.loads(get(c, "out"))["diagnostics"]
                    msg = "diagnostic: " + next(x["message"] for x in diags if x.get("severity", "error") == "error")
                except Exception:
                    msg = "?"
            exit2.append((sha, c, msg.replace(os.path.join(d, "ws"), "WS")))
    try:
        nxt = json.loads(get("next", "out"))
    except Exception:
        nxt = {}
    cmds = [nxt.get("command")] + list(nxt.get("verify") or [])
    for cmd in filter(None, cmds):
        why = is_shell(cmd)
        if why:
            bad_cmd.append((sha, why, cmd[:160]))
    memo_path = os.path.join(d, "ws", "input.md")
    if not os.path.isfile(memo_path) or not open(memo_path, errors="replace").read().strip():
        continue
    memo_states += 1
    ledger_path = next((p for p in ("docs/fix_plan.md", "fix_plan.md") if os.path.isfile(os.path.join(d, "ws", p))), None)
    ledger = open(os.path.join(d, "ws", ledger_path), errors="replace").read() if ledger_path else ""
    want = memo_ids(open(memo_path, errors="replace").read(), ledger)
    item = (nxt.get("item") or {}).get("id", "")
    src = (nxt.get("command_from") or {}).get("file")
    stepped = nxt.get("command") or nxt.get("manual")
    warnings = " ".join(nxt.get("warnings") or [])
    if item.upper() in want and src == "input.md" and stepped:
        agree += 1
    elif "is closed" in warnings and "Focus names" in warnings:
        closed_focus.append(sha)
    else:
        disagree.append((sha, ",".join(want[:3]) or "-", item or "-", src or "-", (nxt.get("blocked") or get("next", "err").strip()[-120:] or "")[:140]))

print(f"states {len(shas)}, with a memo {memo_states}")
for c, k in rc.items():
    print(f"  {c:8} exit codes: " + ", ".join(f"{code}: {n}" for code, n in sorted(k.items())))
print(f"panics {len(panics)}")
for p in panics[:show]:
    print("  ", *p)
print(f"exit 2 {len(exit2)}")
groups = {}
for sha, c, m in exit2:
    groups.setdefault((c, re.sub(r"\d+", "N", m)[:110]), []).append(sha[:8])
for (c, m), where in sorted(groups.items(), key=lambda g: -len(g[1]))[:show]:
    print(f"  {len(where):5} {c}: {m}  (e.g. {where[0]})")
print(f"commands a shell would not run {len(bad_cmd)}")
for b in bad_cmd[:show]:
    print("  ", b[0][:8], b[1], "|", b[2])
pct = 100.0 * agree / max(memo_states, 1)
print(f"next follows the memo (its focus item, from its Do Now) in {agree}/{memo_states} memo states = {pct:.1f}%")
print(f"  memo's focus item closed in the ledger (warned, ledger focus used): {len(closed_focus)}")
print(f"  disagreements: {len(disagree)}")
for x in disagree[:show]:
    print("   ", x[0][:8], "memo:", x[1], "| next:", x[2], "from", x[3], "|", x[4])
PY
