#!/usr/bin/env bash
# Benchmark: put 100 files (1 MiB in all) into the 2 MiB vfs of a firmware
# file and get them back, with mpimg and with mp-image-tool-esp32 0.1.1, on
# the same image. Prints the median of RUNS runs of each, the speed-up, and
# the flash blocks each tool read and wrote.
#
#   scripts/bench-fs.sh [RUNS]        (default 5)
#
# Needs ../shared/firmware/ESP32_GENERIC-20240602-v1.23.0.bin and the
# .venv-mpt venv (.ci/setup). Both tools run with -q. The Python tool edits
# its file in place, so the like-for-like comparison is mpimg --in-place
# (which writes only the changed blocks back); mpimg writing its usual new
# output file (-o, the whole 4 MB image) is measured and printed as well.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
FW=../shared/firmware/ESP32_GENERIC-20240602-v1.23.0.bin
PYTOOL=${MPIMG_VENV_MPT:-.venv-mpt}/bin/mp-image-tool-esp32
[ -f "$FW" ] || { echo "bench-fs: $FW is missing" >&2; exit 1; }
[ -x "$PYTOOL" ] || { echo "bench-fs: $PYTOOL is missing (run .ci/setup)" >&2; exit 1; }

cargo build --release -q -p mpimg
MPIMG=$PWD/target/release/mpimg

# A RAM disk (when there is one) measures the tools rather than the disk: creating
# 100 files and rewriting a 4 MB image cost the same for both tools, but on a
# busy disk they dominate mpimg's time. Set BENCH_DIR to measure elsewhere.
BENCH_DIR=${BENCH_DIR:-$( [ -d /dev/shm ] && [ -w /dev/shm ] && echo /dev/shm || echo "${TMPDIR:-/tmp}")}
WORK=$(mktemp -d "$BENCH_DIR/mpimg-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# The Python tool changes the file in place and needs vfs inside the file:
# pad the firmware with 0xFF to the end of the 4 MB flash, then make an empty
# littlefs (mpimg's mkfs: 2.0 with boot.py) that both tools start from.
python3 - "$FW" "$WORK/base.bin" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
open(sys.argv[2], "wb").write(data + b"\xff" * (0x400000 - 0x1000 - len(data)))
PY
"$MPIMG" "$WORK/base.bin" -q --in-place --fs mkfs

# 100 files of random bytes, 1 MiB (1048576 bytes) in all.
mkdir "$WORK/src"
python3 - "$WORK/src" <<'PY'
import os, sys
sizes = [1048576 // 100 + (1 if i < 1048576 % 100 else 0) for i in range(100)]
for i, n in enumerate(sizes):
    open(os.path.join(sys.argv[1], f"f{i:03d}.bin"), "wb").write(os.urandom(n))
PY

now_us() { local t=$EPOCHREALTIME; echo "${t/./}"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# time_one CMD...: runs CMD quietly and prints its wall time in microseconds.
time_one() {
  local s e
  s=$(now_us); "$@" >/dev/null 2>&1; e=$(now_us)
  echo $((e - s))
}

cd "$WORK"
for ((i = 1; i <= RUNS; i++)); do
  cp base.bin i.bin; rm -rf i.out
  put=$(time_one "$MPIMG" i.bin -q --in-place --fs put src /)
  get=$(time_one "$MPIMG" i.bin -q --fs get /src i.out)
  diff -r src i.out >/dev/null || { echo "bench-fs: mpimg --in-place got back different files" >&2; exit 1; }
  echo "$put $get" >>inplace.times

  rm -f m.bin; rm -rf m.out
  put=$(time_one "$MPIMG" base.bin -q --fs put src / -o m.bin)
  get=$(time_one "$MPIMG" m.bin -q --fs get /src m.out)
  diff -r src m.out >/dev/null || { echo "bench-fs: mpimg got back different files" >&2; exit 1; }
  cmp -s m.bin i.bin || { echo "bench-fs: --in-place and -o made different images" >&2; exit 1; }
  echo "$put $get" >>mpimg.times

  cp base.bin p.bin; rm -rf p.out
  put=$(time_one "$OLDPWD/$PYTOOL" -q p.bin --fs put src /)
  get=$(time_one "$OLDPWD/$PYTOOL" -q p.bin --fs get /src p.out)
  diff -r src p.out >/dev/null || { echo "bench-fs: mp-image-tool-esp32 got back different files" >&2; exit 1; }
  echo "$put $get" >>python.times
done

# Block counts, from one more run of each (mpimg prints its cache counters
# with -d; the Python tool logs its BlockCache statistics with -d).
rm -rf m.out
mput=$("$MPIMG" base.bin -d --fs put src / -o m.bin 2>&1 >/dev/null | grep '^fs:' || true)
mget=$("$MPIMG" m.bin -d --fs get /src m.out 2>&1 >/dev/null | grep '^fs:' || true)
cp base.bin p.bin; rm -rf p.out
pput=$("$OLDPWD/$PYTOOL" -d p.bin --fs put src / 2>&1 | grep -o 'Closing: .*' | tail -1 || true)
pget=$("$OLDPWD/$PYTOOL" -d p.bin --fs get /src p.out 2>&1 | grep -o 'Closing: .*' | tail -1 || true)

col() { awk -v c="$1" '{print $c}' "$2" | median; }
tot() { awk '{print $1+$2}' "$1" | median; }
ms() { awk -v u="$1" 'BEGIN {printf "%8.1f ms", u/1000}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%6.1fx", a/b}'; }
p_tot=$(tot python.times)

echo "100 files, 1 MiB, into the 2 MiB vfs of $(basename "$FW") (median of $RUNS runs, wall clock per command)"
printf '%-6s %18s %16s %22s %10s %10s\n' "" "mpimg --in-place" "mpimg -o NEW" "mp-image-tool-esp32" "speed-up" "(with -o)"
for row in "put 1" "get 2" "total 0"; do
  set -- $row
  if [ "$2" = 0 ]; then i=$(tot inplace.times); m=$(tot mpimg.times); p=$p_tot
  else i=$(col "$2" inplace.times); m=$(col "$2" mpimg.times); p=$(col "$2" python.times); fi
  printf '%-6s %18s %16s %22s %10s %10s\n' "$1" "$(ms "$i")" "$(ms "$m")" "$(ms "$p")" "$(ratio "$p" "$i")" "$(ratio "$p" "$m")"
done
echo "blocks (4 KB), put: mpimg ${mput#fs: }"
echo "                    mp-image-tool-esp32 ${pput:-(no statistics logged)}"
echo "blocks (4 KB), get: mpimg ${mget#fs: }"
echo "                    mp-image-tool-esp32 ${pget:-(no statistics logged)}"
echo "(mp-image-tool-esp32 counts reads as cache misses, 'writes' as blocks written to its cache)"
