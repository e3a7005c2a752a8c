#!/usr/bin/env bash
# Run the fault matrix (crates/mpimg/tests/fault_matrix.rs) and print it as a
# table: operation x cut point -> does the board start / does the same
# command, run again, complete (and keep every user file).
#
#   scripts/fault-matrix.sh [--details] [CELL_FILTER]
#
# CELL_FILTER narrows the cells (e.g. fs_put). Cells that fail their
# assertions are still in the table (each records its facts before it
# asserts them); the script exits 1 if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."
details=0
if [[ "${1:-}" == "--details" ]]; then details=1; shift; fi
filter="fault_matrix::${1:-}"
out=$(mktemp)
trap 'rm -f "$out" "$out.log"' EXIT
MPIMG_MATRIX_OUT="$out" cargo test -p mpimg --test tests "$filter" >"$out.log" 2>&1
status=$?
grep -E "^test result|^failures:|^    fault_matrix" "$out.log" >&2
DETAILS=$details python3 - "$out" <<'EOF'
import json, os, sys

cells = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
order = []
for c in cells:
    if c["op"] not in order:
        order.append(c["op"])
ops = ["table edit -f 8M --resize vfs=0", "table edit that moves a filesystem", "--fs put (41 files)", "--fs mkfs",
       "--ota-update", "--flash onto a blank board", "--flash onto a used board", "--erase-fs vfs"]
order.sort(key=lambda o: ops.index(o) if o in ops else len(ops))

def mark(c):
    boots = "yes" if c["boots"] else "NO*" if "The board may not start until then" in c["message"] else "NO"
    rerun = "yes" if c["rerun"] and c["files_kept"] else "NO"
    return f"{boots}/{rerun}"

names = []
for c in cells:
    if c["cell"] not in names:
        names.append(c["cell"])
closes = sorted(n for n in names if n.startswith("close_"))
others = [n for n in names if not n.startswith("close_")]
print("Fault matrix: boots / same command again completes (and no user file lost)")
print("NO* = the board may not start and the cut run's message says it needs the re-run")
print()
print("| operation | " + " | ".join(closes) + " | other faults |")
print("|---|" + "---|" * len(closes) + "---|")
for op in order:
    by = {c["cell"]: c for c in cells if c["op"] == op}
    row = [mark(by[n]) if n in by else "" for n in closes]
    extra = ", ".join(f"{n}: {mark(by[n])}" for n in others if n in by)
    print(f"| {op} | " + " | ".join(row) + f" | {extra} |")
total = len(cells)
good = sum(1 for c in cells if c["rerun"] and c["files_kept"] and (c["boots"] or "The board may not start until then" in c["message"]))
print()
print(f"{total} cells, {good} pass both facts")
if os.environ.get("DETAILS") == "1":
    for op in order:
        print()
        print(f"## {op}: {next(c['command'] for c in cells if c['op'] == op)}")
        for c in sorted((c for c in cells if c["op"] == op), key=lambda c: names.index(c["cell"])):
            print(f"- {c['cell']}: {c['cut']} -> {mark(c)}; {c['detail']}")
            if not c["boots"]:
                print(f"    does not start: {c['why_not']}")
                print(f"    message: {c['message']}")
EOF
exit $status
