#!/usr/bin/env python3
"""Benchmark: mpimg against mp-image-tool-esp32 0.1.1 on inspecting a firmware
file and on `-f 8M --resize vfs=0`. Prints the median wall time of each tool
and the ratio. Run from anywhere: `python3 scripts/bench-core.py [RUNS]`.

Builds mpimg in release mode first (cargo build --release -p mpimg); uses the
Python tool from .venv-mpt (./.ci/setup creates it) and the firmware in
../shared/firmware."""

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FW = os.path.join(ROOT, "..", "shared", "firmware", "ESP32_GENERIC-20240602-v1.23.0.bin")
PY = os.path.join(ROOT, ".venv-mpt", "bin", "mp-image-tool-esp32")
MPIMG = os.path.join(ROOT, "target", "release", "mpimg")


def median_time(cmd, cwd, runs):
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        r = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        times.append(time.perf_counter() - t)
        if r.returncode != 0:
            sys.exit(f"failed: {' '.join(cmd)}\n{r.stderr.decode()}")
    return statistics.median(times)


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 11
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "mpimg"], cwd=ROOT, check=True)
    for need in (FW, PY, MPIMG):
        if not os.path.exists(need):
            sys.exit(f"missing: {need}")
    cases = [("inspect", []), ("-f 8M --resize vfs=0", ["-f", "8M", "--resize", "vfs=0"])]
    print(f"median of {runs} runs, {os.path.basename(FW)}")
    print(f"{'operation':<24}{'mpimg':>12}{'python':>12}{'ratio':>10}")
    with tempfile.TemporaryDirectory() as d:
        for name, args in cases:
            ours = median_time([MPIMG, FW, *args], d, runs)
            theirs = median_time([PY, FW, *args], d, max(3, runs // 2))
            print(f"{name:<24}{ours * 1000:>10.1f}ms{theirs * 1000:>10.1f}ms{theirs / ours:>9.0f}x")


if __name__ == "__main__":
    main()
