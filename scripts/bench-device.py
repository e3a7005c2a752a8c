#!/usr/bin/env python3
"""Benchmark: mpimg against mp-image-tool-esp32 0.1.1 (esptool 4.8.1) on a
device, the same esp-sim for both, paced to a real 921600-baud UART
(`--baud-model`) and counting the bytes on the wire (`--stats`).

For each operation a fresh esp-sim starts on a copy of the same flash, one
tool runs once against it, and the simulator's statistics give the bytes
both ways; wall time is the tool's whole run (start-up, connect, work, reset).

Operations: inspect, --fs ls, --fs put of one 10 KB file, a table edit with
-f (-f 8M --resize vfs=0), --ota-update, --flash of a 1.7 MB firmware.

Run from anywhere: `python3 scripts/bench-device.py [--release] [--only NAME]`.
Builds mpimg and esp-sim first (debug by default: both spend their time
waiting for the paced link, not computing). Uses .venv-mpt (the Python tool),
.venv (littlefs-python, to put a filesystem in the devices' vfs) and the
firmware in ../shared/firmware."""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(ROOT, "..", "shared", "firmware")
PY_TOOL = os.path.join(ROOT, ".venv-mpt", "bin", "mp-image-tool-esp32")
VENV_PY = os.path.join(ROOT, ".venv", "bin", "python")
BAUD = "921600"

FW = os.path.join(SHARED, "ESP32_GENERIC-20240602-v1.23.0.bin")  # 1.7 MB, esp32, 4 MB header
FW_OTHER = os.path.join(SHARED, "ESP32_GENERIC-20250415-v1.25.0.bin")
FW_OTA = os.path.join(SHARED, "ESP32_GENERIC-OTA-20250415-v1.25.0.bin")
FW_SMALL_APP = os.path.join(SHARED, "esp32-20210902-v1.17.bin")  # its app fits a 1.5 MB OTA slot


def build(release):
    cmd = ["cargo", "build", "-q", "-p", "mpimg", "-p", "esp-sim"] + (["--release"] if release else [])
    subprocess.run(cmd, cwd=ROOT, check=True)
    d = os.path.join(ROOT, "target", "release" if release else "debug")
    return os.path.join(d, "mpimg"), os.path.join(d, "esp-sim")


def place(flash_size, image, offset=0x1000, fill=0xFF):
    buf = bytearray([fill]) * flash_size
    if image:
        data = open(image, "rb").read()
        buf[offset : offset + len(data)] = data
    return buf


def littlefs_image(size, files):
    """A littlefs v2.0 filesystem as MicroPython makes it, holding `files`."""
    code = (
        "import sys, littlefs\n"
        "size = int(sys.argv[1]); out = sys.argv[2]\n"
        "fs = littlefs.LittleFS(block_size=4096, block_count=size // 4096, prog_size=32, read_size=32,"
        " lookahead_size=32, cache_size=128, block_cycles=100, disk_version=0x00020000)\n"
        "for arg in sys.argv[3:]:\n"
        "    name, n = arg.split('=')\n"
        "    with fs.open(name, 'wb') as f: f.write(bytes((i * 7 + 1) % 251 for i in range(int(n))))\n"
        "open(out, 'wb').write(fs.context.buffer)\n"
    )
    with tempfile.NamedTemporaryFile(suffix=".lfs", delete=False) as t:
        path = t.name
    subprocess.run([VENV_PY, "-c", code, str(size), path, *[f"{k}={v}" for k, v in files.items()]], check=True)
    data = open(path, "rb").read()
    os.unlink(path)
    return data


class Sim:
    def __init__(self, exe, workdir, chip, flash_size, flash):
        self.flash_file = os.path.join(workdir, "flash.bin")
        self.stats_file = os.path.join(workdir, "stats.json")
        open(self.flash_file, "wb").write(flash)
        args = [exe, "--chip", chip, "--flash-size", str(flash_size), "--flash-file", self.flash_file,
                "--baud-model", "--stats", self.stats_file]
        self.p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.p.stdout.readline().strip()
        if not line.startswith("PTY "):
            sys.exit(f"esp-sim did not start: {line} {self.p.stderr.read()}")
        self.port = line.split(" ", 1)[1]

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        self.p.wait(timeout=10)
        return json.load(open(self.stats_file))


def run_case(sim_exe, tool_cmd, chip, flash_size, flash, cwd):
    with tempfile.TemporaryDirectory() as w:
        sim = Sim(sim_exe, w, chip, flash_size, flash)
        cmd = [a.replace("{PORT}", sim.port) for a in tool_cmd]
        t = time.perf_counter()
        r = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wall = time.perf_counter() - t
        stats = sim.stop()
        ok = r.returncode == 0
        why = "" if ok else (r.stderr.strip().splitlines() or ["?"])[-1][:100]
        return wall, stats["bytes_from_host"] + stats["bytes_to_host"], stats["wire_seconds"], ok, why


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--release", action="store_true")
    ap.add_argument("--only")
    a = ap.parse_args()
    for need in (FW, FW_OTHER, FW_OTA, FW_SMALL_APP, PY_TOOL, VENV_PY):
        if not os.path.exists(need):
            sys.exit(f"missing: {need} (run ./.ci/setup; firmware in ../shared/firmware)")
    mpimg, sim_exe = build(a.release)
    work = tempfile.mkdtemp(prefix="bench-device-")
    try:
        # Inputs: the 10 KB file to put, the app for --ota-update.
        put = os.path.join(work, "ten.txt")
        open(put, "wb").write(bytes((i * 13 + 5) % 256 for i in range(10 * 1024)))
        subprocess.run([mpimg, FW_SMALL_APP, "-x", "-o", os.path.join(work, "app.bin")], check=True,
                       stdout=subprocess.DEVNULL)

        mb = 1 << 20
        # Devices: the 1.7 MB firmware with a littlefs vfs holding a few files; an OTA layout.
        lfs = littlefs_image(2 * mb, {"boot.py": 120, "main.py": 2000, "lib.py": 30000})
        plain = place(4 * mb, FW)
        plain[0x200000 : 0x200000 + len(lfs)] = lfs
        big = place(8 * mb, FW)  # header says 4 MB: the table edit sets 8 MB
        ota = place(4 * mb, FW_OTA)
        other = place(4 * mb, FW_OTHER)

        cases = [
            ("inspect", plain, 4 * mb, ["{PORT}"], ["{PORT}"]),
            ("--fs ls", plain, 4 * mb, ["{PORT}", "--fs", "ls"], ["{PORT}", "--fs", "ls"]),
            ("--fs put 10KB", plain, 4 * mb, ["{PORT}", "--fs", "put", put, "/"], ["{PORT}", "--fs", "put", put, "/"]),
            ("-f 8M --resize vfs=0", big, 8 * mb, ["{PORT}", "-f", "8M", "--resize", "vfs=0"],
             ["{PORT}", "-f", "8M", "--resize", "vfs=0"]),
            ("--ota-update", ota, 4 * mb, ["{PORT}", "--ota-update", os.path.join(work, "app.bin")],
             ["{PORT}", "--ota-update", os.path.join(work, "app.bin")]),
            ("--flash 1.7MB", other, 4 * mb, [FW, "--flash", "{PORT}"], [FW, "--flash", "{PORT}"]),
        ]
        print(f"esp-sim --baud-model at {BAUD} baud, esp32; wall time of one run, bytes both ways on the wire")
        print(f"{'operation':<22}{'mpimg s':>9}{'python s':>10}{'mpimg bytes':>13}{'python bytes':>14}  notes")
        for name, flash, size, ours, theirs in cases:
            if a.only and a.only not in name:
                continue
            m = run_case(sim_exe, [mpimg, "--baud", BAUD, *ours], "esp32", size, flash, work)
            p = run_case(sim_exe, [PY_TOOL, "--baud", BAUD, *theirs], "esp32", size, flash, work)
            notes = []
            for tool, r in (("mpimg", m), ("python", p)):
                if not r[3]:
                    notes.append(f"{tool} failed: {r[4]}")
            if m[3] and p[3]:
                notes.append("mpimg fewer bytes" if m[1] < p[1] else "MPIMG MORE BYTES")
                notes.append("faster" if m[0] < p[0] else "SLOWER")
            ms = f"{m[0]:.2f}" if m[3] else "-"
            mbytes = str(m[1]) if m[3] else "-"
            print(f"{name:<22}{ms:>9}{p[0]:>10.2f}{mbytes:>13}{p[1]:>14}  {'; '.join(notes)}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
