#!/usr/bin/env bash
# Benchmark: what carrying the files along costs a table edit. A firmware
# file whose 2 MB vfs holds littlefs with 100 files in nested directories
# (plus a 300 KB file and an empty one, 0.6 MB in all) goes through each
# layout change of issue 10; each is timed on it and on the same firmware
# without files (nothing to carry). Prints the median wall time of RUNS runs
# of each, the difference, and what the run said about vfs.
#
#   scripts/bench-carry.sh [RUNS]        (default 5)
#
# Needs ../shared/firmware/ESP32_GENERIC-20240602-v1.23.0.bin (or
# $MPIMG_SHARED/firmware/...). Runs in /dev/shm when there is one (set
# BENCH_DIR to measure elsewhere).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
FW=${MPIMG_SHARED:-../shared}/firmware/ESP32_GENERIC-20240602-v1.23.0.bin
[ -f "$FW" ] || { echo "bench-carry: $FW is missing" >&2; exit 1; }
FW=$(realpath "$FW")

cargo build --release -q -p mpimg
MPIMG=$PWD/target/release/mpimg

BENCH_DIR=${BENCH_DIR:-$( [ -d /dev/shm ] && [ -w /dev/shm ] && echo /dev/shm || echo "${TMPDIR:-/tmp}")}
WORK=$(mktemp -d "$BENCH_DIR/mpimg-carry.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

# 100 files of 0 to 3 KB over 12 directories (some at the top), 300 KB, empty.
python3 - src <<'PY'
import os, random, sys
random.seed(10)
root = sys.argv[1]
dirs = ["lib", "lib/net", "lib/net/http", "lib/ui", "lib/ui/widgets", "data", "data/logs",
        "data/logs/2024", "www", "www/static", "www/static/css", "www/static/js"]
for d in dirs:
    os.makedirs(os.path.join(root, d))
for i in range(100):
    d = "" if i % 13 == 0 else dirs[i % 12]
    with open(os.path.join(root, d, "file%03d.py" % i), "wb") as f:
        f.write(random.randbytes(i * 337 % 3100))
open(os.path.join(root, "www/big.bin"), "wb").write(random.randbytes(300_000))
open(os.path.join(root, "data/empty.log"), "wb").close()
PY
"$MPIMG" "$FW" -q --fs mkfs --fs put src/* / -o files.bin
cp "$FW" plain.bin
cat >table.csv <<'CSV'
nvs, data, nvs, 0x9000, 0x6000,
phy_init, data, phy, 0xf000, 0x1000,
factory, app, factory, 0x10000, 0x270000,
vfs, data, fat, 0x280000, 0x180000,
CSV

now_us() { local t=$EPOCHREALTIME; echo "${t/./}"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
# ms IMAGE EDIT...: median wall time in ms of RUNS runs of the edit.
ms() {
  local image=$1; shift
  for ((i = 1; i <= RUNS; i++)); do
    local s e
    s=$(now_us); "$MPIMG" "$image" -q "$@" -o out.bin; e=$(now_us)
    echo $((e - s))
  done | median | awk '{printf "%.1f", $1 / 1000}'
}

echo "mpimg $("$MPIMG" --version | cut -d' ' -f2), median of $RUNS runs; vfs holds $(find src -type f | wc -l) files, $(du -sb src | cut -f1) bytes"
printf "%-36s %10s %10s %9s  %s\n" "edit" "no files" "files" "carrying" "what happened to vfs"
for edit in "-f 8M --resize vfs=0" "-f 8M --table ota" "--resize factory=2M" "-f 8M -a 0x200000 --table ota" \
    "--resize vfs=1M" "--table nvs=7B,factory=2M,vfs=0" "--from-csv table.csv"; do
  # shellcheck disable=SC2086
  plain=$(ms plain.bin $edit)
  # shellcheck disable=SC2086
  files=$(ms files.bin $edit)
  # shellcheck disable=SC2086
  said=$("$MPIMG" files.bin $edit -o out.bin 2>&1 >/dev/null | grep "of 'vfs'" || true)
  printf "%-36s %8s ms %8s ms %6.1f ms  %s\n" "$edit" "$plain" "$files" "$(echo "$files - $plain" | bc)" "${said#Kept }"
done
