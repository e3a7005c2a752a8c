#!/usr/bin/env bash
# Run the coverage-guided fuzz targets in fuzz/ (cargo-fuzz, libFuzzer, ASan).
#
#   scripts/fuzz.sh TARGET|all SECONDS      e.g. scripts/fuzz.sh all 600
#   scripts/fuzz.sh list                    the targets
#
# Builds every target once, then runs each for SECONDS and prints one line
# per target: executions, coverage (cov = edges, ft = features, from
# libFuzzer's last stats line), corpus size, and crashes. Exits 1 if any
# target found something (or the build failed).
#
# The bar, as libFuzzer options: no panic or sanitizer report (a crash), no
# input taking a second or more (-timeout=1), no allocation of more than
# FUZZ_MALLOC_MB (512) at once (-malloc_limit_mb) and no more than 2 GB in
# all (-rss_limit_mb=2048).
#
# Inputs: fuzz/seeds/TARGET (small; made by scripts/fuzz-seeds.py from
# ../shared/firmware when absent, never committed)
# and fuzz/corpus/TARGET (the working corpus: what the fuzzer found, not
# committed; kept between runs). Dictionaries: fuzz/dicts/TARGET.dict.
# What a target finds is saved in fuzz/artifacts/TARGET/ and, because CI
# throws its clone away, printed gzip+base64 into the log as well.
#
# Why RUSTC_BOOTSTRAP=1: cargo-fuzz builds with -Zsanitizer=address and
# other -Z flags that only a nightly compiler takes; this machine has the
# stable toolchain only, and RUSTC_BOOTSTRAP=1 lets it take them. It is set
# for the fuzz build alone; mpimg itself never needs it.
#
# Environment: FUZZ_NICE (10) is the niceness the fuzzers run at, so other
# builds on the machine keep their cores; FUZZ_MALLOC_MB as above.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
FUZZ=$ROOT/fuzz
NICE=${FUZZ_NICE:-10}
MALLOC_MB=${FUZZ_MALLOC_MB:-512}

targets() { sed -n 's/^name = "\(.*\)"$/\1/p' "$FUZZ/Cargo.toml" | grep -v '^mpimg-fuzz$'; }

usage() { echo "usage: scripts/fuzz.sh TARGET|all SECONDS   (targets: $(targets | tr '\n' ' '))" >&2; exit 2; }

[ "${1:-}" = list ] && { targets; exit 0; }
[ $# -eq 2 ] || usage
case $2 in '' | *[!0-9]*) usage ;; esac
if [ "$1" = all ]; then
  mapfile -t run < <(targets)
else
  targets | grep -qx "$1" || usage
  run=("$1")
fi
secs=$2

# Seeds come from the real firmware and are not committed: make them once,
# before the (long) fuzz build, so a missing tool shows at once.
if [ ! -f "$FUZZ/seeds/.complete" ]; then
  echo "fuzz: making the seeds (scripts/fuzz-seeds.py)" >&2
  scripts/fuzz-seeds.py "${MPIMG_FIRMWARE_DIR:-$ROOT/../shared/firmware}" >/dev/null ||
    { echo "fuzz: cannot make the seeds: they need ../shared/firmware, the .venv that ./.ci/setup makes (littlefs-python) and mtools" >&2; exit 1; }
fi
command -v cargo-fuzz >/dev/null || { echo "fuzz: cargo-fuzz is not installed: cargo install cargo-fuzz --version 0.13.2 --locked" >&2; exit 1; }
echo "fuzz: building ${#run[@]} target(s)" >&2
if ! (cd "$FUZZ" && RUSTC_BOOTSTRAP=1 nice -n "$NICE" cargo fuzz build 2>&1 | tail -n 20 >&2; exit "${PIPESTATUS[0]}"); then
  echo "fuzz: the fuzz crate does not build" >&2
  exit 1
fi
bin=$FUZZ/target/x86_64-unknown-linux-gnu/release

failed=0
found=0
printf '%-16s %12s %8s %8s %8s %10s  %s\n' target executions cov ft corpus exec/s crashes
for t in "${run[@]}"; do
  art=$FUZZ/artifacts/$t
  mkdir -p "$FUZZ/corpus/$t" "$art"
  log=$art/last-run.log
  dict=()
  [ -f "$FUZZ/dicts/$t.dict" ] && dict=(-dict="$FUZZ/dicts/$t.dict")
  seeds=()
  [ -d "$FUZZ/seeds/$t" ] && seeds=("$FUZZ/seeds/$t")
  # The C littlefs is compiled by gcc, which traces comparisons but has no
  # edge counters: value profiling turns those comparisons into coverage.
  extra=()
  [ "$t" = littlefs ] && extra=(-use_value_profile=1)
  # The outer timeout catches a fuzzer that hangs outside an input (libFuzzer's
  # -timeout covers each input).
  set +e
  timeout -k 10 $((secs + 120)) nice -n "$NICE" "$bin/$t" "$FUZZ/corpus/$t" "${seeds[@]}" "${dict[@]}" "${extra[@]}" \
    -max_total_time="$secs" -timeout=1 -rss_limit_mb=2048 -malloc_limit_mb="$MALLOC_MB" \
    -print_final_stats=1 -artifact_prefix="$art/" >"$log" 2>&1
  rc=$?
  set -e
  last=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
  field() { sed -n "s|.* $1: \([^ ]*\).*|\1|p" <<<"$last"; }
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  [ -n "$execs" ] || execs=$(sed -n 's/^#\([0-9]*\).*/\1/p' <<<"$last")
  crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
  verdict=none
  if [ -n "$crash" ] || [ "$rc" -ne 0 ]; then
    failed=1
    found=$((found + 1))
    verdict="FOUND (exit $rc)${crash:+: $crash}"
  fi
  printf '%-16s %12s %8s %8s %8s %10s  %s\n' "$t" "${execs:-?}" "$(field cov)" "$(field ft)" "$(field corp)" "$(field exec/s)" "$verdict"
  if [ "$verdict" != none ]; then
    grep -E -A 12 'panicked at|ERROR: (libFuzzer|AddressSanitizer|LeakSanitizer)|SUMMARY' "$log" | head -n 40 | sed 's/^/    /' >&2 || true
    if [ -n "$crash" ] && [ -f "$crash" ]; then
      echo "    input ($(stat -c %s "$crash") bytes), to recreate: echo '<text>' | base64 -d | gunzip > input.bin" >&2
      gzip -9nc <"$crash" | base64 -w 0 | fold -w 100 | sed 's/^/    /' >&2
      echo >&2
      echo "    reproduce: fuzz/target/x86_64-unknown-linux-gnu/release/$t input.bin; minimise: (cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz tmin $t ../input.bin)" >&2
    else
      echo "    no input saved; full log: $log" >&2
    fi
  fi
done
# The plain closing line CI reads: targets that found nothing, and that did.
echo "fuzz: $((${#run[@]} - found)) passed, $found failed"
exit $failed
