#!/usr/bin/env bash
# How far past the vfs start a baked image ends: mkfs + put into the empty
# 2 MB vfs of the v1.23 esp32 and v1.27 c3 images, for one 10 KB file, ten
# 1 KB files and 1 MB (eight 128 KB files). Prints one line per bake.
#
#   scripts/bake-compactness.sh [MPIMG] [BEFORE_MPIMG]
#
# MPIMG defaults to target/debug/mpimg (build it first); with BEFORE_MPIMG
# (e.g. a build of an older commit) both are measured side by side.
# Needs ../shared/firmware (or $MPIMG_FIRMWARE_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
NOW=${1:-target/debug/mpimg}
BEFORE=${2:-}
FW=${MPIMG_FIRMWARE_DIR:-../shared/firmware}
VFS=$((0x200000))
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

make() { # dir count size
  mkdir -p "$1"
  for i in $(seq 1 "$2"); do head -c "$3" /dev/urandom > "$1/f$i.bin"; done
}
make "$work/one10k" 1 10240
make "$work/ten1k" 10 1024
make "$work/onemb" 8 131072

end_of() { # mpimg firmware bootloader-offset dir -> bytes past the vfs start
  local out="$work/out.bin"
  rm -f "$out"
  SOURCE_DATE_EPOCH=1700000000 "$1" "$2" -q --fs mkfs --fs put "$4"/* / -o "$out" >/dev/null 2>&1 || {
    "$1" "$2" -q --fs mkfs --fs put "$4"/* / -o "$out" 2>&1 | tail -1 >&2; return 1; }
  echo $(( $(stat -c %s "$out") + $3 - VFS ))
}

printf '%-28s %-10s %14s' image payload "past vfs (B)"
[ -n "$BEFORE" ] && printf ' %14s' "before (B)"
echo
for spec in "ESP32_GENERIC-20240602-v1.23.0.bin 4096" "ESP32_GENERIC_C3-20251209-v1.27.0.bin 0"; do
  set -- $spec
  for payload in one10k ten1k onemb; do
    name="${1%%-20*} v${1##*-v}"
    printf '%-28s %-10s %14s' "${name%.bin}" "$payload" "$(end_of "$NOW" "$FW/$1" "$2" "$work/$payload")"
    [ -n "$BEFORE" ] && printf ' %14s' "$(end_of "$BEFORE" "$FW/$1" "$2" "$work/$payload")"
    echo
  done
done
