#!/usr/bin/env bash
# Sweep every commit of a workspace repository's branch that touches its memo or ledger through
# `loop status`, `next`, `lint` and `attempt --dry-run`, and print counts: panics, exit codes,
# whether `next` follows the memo (its focus item, and its command or a manual step), and whether
# every offered command is one a shell would run (`bash -n`, or `sh -n` without bash: the shell
# loop runs steps with; no bare assignment, no heredoc head).
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
  # File by file: a snapshot may lack blobs of files the sweep does not need, which would
  # stop `git archive` of the whole list.
  git --git-dir="$mirror" ls-tree -r --name-only "$sha" |
    grep -E '^(input\.md|fix_plan\.md|loop\.yaml|CLAUDE\.md|AGENTS\.md|docs/(fix_plan|index)\.md|plans/active/.*)$' |
    while IFS= read -r f; do
      mkdir -p "$dir/ws/$(dirname "$f")"
      git --git-dir="$mirror" cat-file blob "$sha:$f" >"$dir/ws/$f" 2>/dev/null || rm -f "$dir/ws/$f"
    done
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
import shutil
SHELL = "bash" if shutil.which("bash") else "sh"
shas = open(os.path.join(out, "commits.txt")).read().split()
rc = {c: Counter() for c in ("status", "next", "lint", "attempt")}
panics, exit2, bad_cmd, disagree, closed_focus, no_item, consumed = [], [], [], [], [], [], []
memo_states = agree = 0
ID = r"[A-Za-z][A-Za-z0-9]*(?:[-\u2010-\u2015][A-Za-z0-9]+)+"

def slug(s):
    s = re.sub(r"[^\w\- ]", "", s.strip().lower())
    return s.replace(" ", "-")

def memo_ids(memo, ledger):
    """The items a careful reader takes the memo to be about, read independently of loop: the
    IDs of its Focus line (a heading anchor counts), else of an `Active Focus:` line, else the
    IDs the Do Now starts with; only IDs the ledger has."""
    low = ledger.lower()
    heads = re.findall(r"(?m)^##+ (.*)$", ledger)
    def ids_of(v):
        out = []
        for a in re.findall(r"(?:fix_plan\.md)?#([A-Za-z0-9][\w\-]*)", v):
            a = a.lower()
            hit = [h for h in heads if slug(h) == a] or [h for h in heads if (m := re.match(r"\[(" + ID + r")\]", h)) and a.startswith(slug(m.group(1)))]
            for h in hit[:1]:
                out += re.findall(r"\[(" + ID + r")\]", h)
        v = re.sub(r"(?:fix_plan\.md)?#[A-Za-z0-9][\w\-]*", " ", v)
        # Lowercase IDs (`seed`) only where the ledger is one initiative's.
        out += re.findall(r"\b(" + ID + (r"|[a-z][a-z0-9_]+" if "## Current Focus" in ledger else "") + r")\b", v)
        return [i.upper() for i in out if i.lower() in low and (("[" + i.lower() + "]") in low or ("**" + i.lower()) in low or ("— " + i.lower()) in low or re.search(r"(?im)^##+ .*\b" + re.escape(i) + r"\b", ledger))]
    for key in ("focus", "active focus"):
        for line in memo.splitlines():
            l = line.strip().lstrip("-*+ ").strip("*")
            m = re.match(r"(?i)\**" + key + r"\**\s*:\**\s*(.*)", l) or (key == "active focus" and re.search(r"Active Focus:\s*(.*)", l))
            if m and (ids := ids_of(m.group(1))):
                return ids
    m = re.search(r"(?mi)^[-*+ ]*\**Do Now\b[^\n]*?:?\s*(.{0,120})", memo)
    return ids_of(m.group(1)) if m else []

def is_shell(cmd):
    if re.fullmatch(r"\s*[A-Za-z_]\w*=\S*\s*", cmd):
        return "bare assignment"
    if re.search(r"<<-?\s*['\"]?\w+", cmd) and "\n" not in cmd:
        return "heredoc head"
    # loop runs steps with bash where there is one (sh otherwise): check with the same shell.
    p = subprocess.run([SHELL, "-n", "-c", cmd], capture_output=True, text=True)
    return f"{SHELL} -n: " + p.stderr.strip() if p.returncode else None

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
    if not want:
        no_item.append(sha)
    elif item.upper() in want and src == "input.md" and stepped:
        agree += 1
    elif "is closed" in warnings and "Focus names" in warnings:
        closed_focus.append(sha)
    elif "already ran" in warnings:
        consumed.append(sha)
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
named = memo_states - len(no_item)
pct = 100.0 * agree / max(named, 1)
print(f"memo states whose memo names an item of the ledger: {named} (naming none: {len(no_item)}, e.g. {' '.join(x[:8] for x in no_item[:4])})")
print(f"next follows the memo (its focus item, from its Do Now) in {agree}/{named} = {pct:.1f}%")
print(f"  memo's focus item closed in the ledger (warned, ledger focus used): {len(closed_focus)}")
print(f"  memo's Do Now already ran and is recorded (plan followed): {len(consumed)}")
print(f"  disagreements: {len(disagree)}")
for x in disagree[:show]:
    print("   ", x[0][:8], "memo:", x[1], "| next:", x[2], "from", x[3], "|", x[4])
PY
