#!/usr/bin/env python3
"""Wire statistics and wall time of a 1 MB esptool write and read through
esp-sim with --baud-model at 921600, against the link's theoretical time.

Usage: scripts/sim-wire-bench.sh   (builds esp-sim, runs this with .venv)
Env: ESP_SIM (binary), ESPTOOL (esptool executable), BAUD (default 921600).
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
SIM = os.environ.get("ESP_SIM", os.path.join(ROOT, "target/debug/esp-sim"))
ESPTOOL = os.environ.get("ESPTOOL", os.path.join(ROOT, ".venv/bin/esptool"))
BAUD = int(os.environ.get("BAUD", "921600"))
SIZE = 1 << 20


def start_sim(flash, stats, paced=True):
    p = subprocess.Popen(
        [SIM, "--chip", "esp32", "--flash-size", "4M", "--flash-file", flash,
         "--stats", stats] + (["--baud-model"] if paced else []),
        stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline().strip()
    if not line.startswith("PTY "):
        sys.exit(f"esp-sim did not print its PTY line: {line!r}")
    return p, line[4:]


def stop_sim(p, stats):
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=10)
    with open(stats) as f:
        return json.load(f)


def esptool_once(flash, args, paced):
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as t:
        stats_path = t.name
    p, port = start_sim(flash, stats_path, paced)
    cmd = [ESPTOOL, "--port", port, "--baud", str(BAUD), "--before", "no-reset",
           "--after", "no-reset"] + args
    t0 = time.monotonic()
    r = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.monotonic() - t0
    st = stop_sim(p, stats_path)
    os.unlink(stats_path)
    if r.returncode != 0:
        sys.exit(f"esptool {args} failed:\n{r.stdout}{r.stderr}")
    return wall, st


def run(label, flash, args):
    # The same operation unpaced measures esptool's own work (Python,
    # progress display, checksums), which a real link adds to as well.
    cpu, _ = esptool_once(flash, args, paced=False)
    wall, st = esptool_once(flash, args, paced=True)
    wire = st["wire_seconds"]
    active = st["active_seconds"]
    payload = SIZE * 10 / BAUD
    dev = (active - wire) / wire * 100
    print(f"{label}:")
    print(f"  bytes host->device {st['bytes_from_host']:>9}   frames {st['frames_from_host']}")
    print(f"  bytes device->host {st['bytes_to_host']:>9}   frames {st['frames_to_host']}")
    top = sorted(st["commands"].items(), key=lambda kv: -kv[1])[:6]
    print("  commands           " + ", ".join(f"{k} {v}" for k, v in top))
    print(f"  link time (all bytes, 10 bits/byte at the baud in force) {wire:7.2f} s")
    print(f"  1 MB payload alone at {BAUD}                        {payload:7.2f} s")
    print(f"  line busy (first byte in .. last byte out), wall clock   {active:7.2f} s"
          f"  ({dev:+.1f} % vs link time)")
    print(f"  esptool wall time incl. Python start-up                {wall:7.2f} s"
          f"  ({(wall - wire) / wire * 100:+.1f} %)")
    added = wall - cpu
    dev_added = (added - wire) / wire * 100
    print(f"  esptool wall time without --baud-model (its own work)  {cpu:7.2f} s")
    print(f"  time the baud model added (paced - unpaced)            {added:7.2f} s"
          f"  ({dev_added:+.1f} % vs link time)")
    return abs(dev_added) <= 10.0


def main():
    with tempfile.TemporaryDirectory() as d:
        flash = os.path.join(d, "flash.bin")
        data = os.path.join(d, "data.bin")
        back = os.path.join(d, "back.bin")
        with open(data, "wb") as f:
            f.write(os.urandom(SIZE))
        ok_w = run(f"write 1 MB (random data) at {BAUD}", flash, ["write-flash", "0x0", data])
        ok_r = run(f"read 1 MB at {BAUD}", flash, ["read-flash", "0x0", str(SIZE), back])
        with open(data, "rb") as a, open(back, "rb") as b:
            same = a.read() == b.read()
        print(f"read-back equals written data: {same}")
        verdict = ok_w and ok_r and same
        print("time added by the baud model within 10 % of the link time: "
              + ("yes" if verdict else "NO"))
        return 0 if verdict else 1


if __name__ == "__main__":
    sys.exit(main())
