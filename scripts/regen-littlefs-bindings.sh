#!/usr/bin/env bash
# Regenerates crates/mpimg-littlefs-sys/src/bindings.rs from the vendored
# littlefs/lfs.h. Only needed after updating the vendored littlefs; normal
# builds use the committed file and need no libclang.
#
# Needs bindgen-cli 0.70 (`cargo install bindgen-cli --version 0.70.1`) and a
# libclang: either the system's (libclang-dev) or PyPI's `libclang` wheel, e.g.
#   python3 -m venv /tmp/clang && /tmp/clang/bin/pip install libclang
#   LIBCLANG_PATH=/tmp/clang/lib/python3.11/site-packages/clang/native scripts/regen-littlefs-bindings.sh
# The wheel has no C headers of its own, so gcc's (stdbool.h) are passed in.
set -euo pipefail
cd "$(dirname "$0")/.."
crate=crates/mpimg-littlefs-sys
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# lfs.h includes lfs_util.h only for the integer and bool types; the bindings
# need nothing else from it (and it pulls in string.h and stdio.h).
sed 's|#include "lfs_util.h"|#include <stdint.h>\n#include <stdbool.h>|' "$crate/littlefs/lfs.h" >"$tmp/lfs.h"
extra=()
if command -v gcc >/dev/null; then extra+=("-I$(gcc -print-file-name=include)"); fi
bindgen "$tmp/lfs.h" --use-core --with-derive-default \
  --allowlist-item 'lfs_.*' --allowlist-item 'LFS_.*' \
  -- -std=c99 -DLFS_NO_DEBUG -DLFS_NO_WARN -DLFS_NO_ERROR -DLFS_MULTIVERSION "${extra[@]}" \
  >"$crate/src/bindings.rs"
echo "wrote $crate/src/bindings.rs"
