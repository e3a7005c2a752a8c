#!/usr/bin/env python3
"""Benchmark of issue 12 (boards at scale): mpimg against esptool 5 doing the
same job the way a user would, on esp-sim paced to a real 921600-baud UART
(`--baud-model`, which also charges the chip's time for each flash MD5) and
counting the bytes on the wire (`--stats`).

Each run gets a fresh esp-sim on a copy of the same flash; wall time is the
tool's whole run (start-up, connect, stub, work). The five figures:

1. sparse read of a 2 MB vfs holding 100 KB of files:
   `mpimg PORT --read vfs=F` vs `esptool read-flash 0x200000 0x200000 F`;
   target: at most 15% of esptool's bytes and time.
2. backup of a 4 MB board holding a 1.6 MB app and 100 KB of files:
   `mpimg PORT --backup F` vs `esptool read-flash 0 ALL F`; target: at most
   50% of esptool's time.
3. re-sync of an unchanged 100-file tree: `mpimg PORT --fs sync DIR /`;
   target: no more than the filesystem's metadata blocks on the wire (the
   bytes beyond a run that only connects and reads the table, against the
   metadata blocks counted with littlefs-python).
4. sync after one changed 10 KB file: target at most 64 KB on the wire.
   (For 3 and 4, what a user of esptool does instead: write-flash of the
   whole 2 MB vfs image made on the computer.)
5. `--flash` of the 1.7 MB firmware to 4 boards at once vs to one board;
   target: at most 1.3 times the one board's time (esptool's write-flash to
   one board for reference).

Run: `python3 scripts/bench-scale.py [--release] [--only N]` (builds mpimg and
esp-sim first). Needs .venv (esptool 5, littlefs-python) and
../shared/firmware."""

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
VENV_PY = os.path.join(ROOT, ".venv", "bin", "python")
ESPTOOL = [VENV_PY, "-m", "esptool"]
BAUD = "921600"
FW = os.path.join(SHARED, "ESP32_GENERIC-20240602-v1.23.0.bin")  # esp32, 1.6 MB app, vfs 2 MB at 0x200000
MB = 1 << 20
T0 = 1_700_000_000


def build(release):
    cmd = ["cargo", "build", "-q", "-p", "mpimg", "-p", "esp-sim"] + (["--release"] if release else [])
    subprocess.run(cmd, cwd=ROOT, check=True)
    d = os.path.join(ROOT, "target", "release" if release else "debug")
    return os.path.join(d, "mpimg"), os.path.join(d, "esp-sim")


def source(n, seed):
    """Deterministic text that compresses like source code."""
    words = ["def ", "return ", "x", " = ", "(self", ")", ":\n    ", "import ", "os", "\n", "0", "1"]
    out, s = [], (seed * 2654435761 + 1) & 0xFFFFFFFF
    size = 0
    while size < n:
        s ^= (s << 13) & 0xFFFFFFFF
        s ^= s >> 17
        s ^= (s << 5) & 0xFFFFFFFF
        w = words[s % len(words)]
        out.append(w)
        size += len(w)
    return "".join(out)[:n].encode()


def write_tree(root, files):
    for i, (rel, data) in enumerate(files):
        p = os.path.join(root, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        open(p, "wb").write(data)
        os.utime(p, (T0 + i, T0 + i))


def project_100k():
    sizes = [16000, 14000, 12000, 10000, 9000, 8000, 8000, 7000, 6000, 5000, 3000, 2000]
    return [(f"lib/mod{i:02}.py", source(n, i)) for i, n in enumerate(sizes)]


def tree_100():
    return [((f"f{i:03}.py" if i < 20 else f"lib/f{i:03}.py"), source(700 + (i * 37) % 600, 1000 + i)) for i in range(100)]


def firmware_with(mpimg, work, name, files):
    """The firmware with littlefs holding `files` (mkfs + sync on the file), placed in a 4 MB flash."""
    src = os.path.join(work, name + ".src")
    write_tree(src, files)
    out = os.path.join(work, name)
    subprocess.run([mpimg, FW, "--fs", "mkfs", "--fs", "sync", src, "/", "-o", out, "-q"], check=True)
    data = open(out, "rb").read()
    flash = bytearray(b"\xff") * (4 * MB)
    flash[0x1000 : 0x1000 + len(data)] = data
    return bytes(flash)


class Sim:
    def __init__(self, exe, workdir, flash, tag="0"):
        self.flash_file = os.path.join(workdir, f"flash{tag}.bin")
        self.stats_file = os.path.join(workdir, f"stats{tag}.json")
        open(self.flash_file, "wb").write(flash)
        args = [exe, "--chip", "esp32", "--flash-size", "4M", "--flash-file", self.flash_file,
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


def run(sim_exe, cmd, flashes, cwd):
    """Run `cmd` ({PORT} / {PORTS} replaced) against fresh sims holding `flashes`;
    returns wall seconds, bytes both ways summed over the sims, stdout+stderr, and the sims' stats."""
    with tempfile.TemporaryDirectory() as w:
        sims = [Sim(sim_exe, w, f, str(i)) for i, f in enumerate(flashes)]
        ports = ",".join(s.port for s in sims)
        argv = [a.replace("{PORTS}", ports).replace("{PORT}", sims[0].port) for a in cmd]
        t = time.perf_counter()
        r = subprocess.run(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wall = time.perf_counter() - t
        stats = [s.stop() for s in sims]
        if r.returncode != 0:
            sys.exit(f"failed: {' '.join(argv)}\n{r.stdout}\n{r.stderr}")
        wire = sum(s["bytes_from_host"] + s["bytes_to_host"] for s in stats)
        return wall, wire, r.stdout + r.stderr, stats


def ctz_blocks(size, block=4096):
    """Blocks littlefs's CTZ skip-list takes for a file of `size` bytes (inline files take none)."""
    if size <= 128:
        return 0
    n, i = 0, 0
    while n < size:
        n += block - (0 if i == 0 else 4 * ((i & -i).bit_length()))
        i += 1
    return i


def metadata_blocks(flash):
    """Metadata blocks of the vfs: blocks in use (littlefs-python) less the files' data blocks."""
    code = (
        "import sys, littlefs\n"
        "buf = bytearray(open(sys.argv[1], 'rb').read())\n"
        "fs = littlefs.LittleFS(context=littlefs.UserContext(buffer=buf), block_size=4096, block_count=512, mount=False)\n"
        "fs.mount()\n"
        "sizes = []\n"
        "for root, dirs, files in fs.walk('/'):\n"
        "    for f in files: sizes.append(fs.stat(root.rstrip('/') + '/' + f).size)\n"
        "print(fs.used_block_count, ' '.join(map(str, sizes)))\n"
    )
    with tempfile.NamedTemporaryFile(suffix=".lfs", delete=False) as t:
        t.write(flash[0x200000:0x400000])
    out = subprocess.run([VENV_PY, "-c", code, t.name], check=True, capture_output=True, text=True).stdout.split()
    os.unlink(t.name)
    used, sizes = int(out[0]), [int(s) for s in out[1:]]
    return used - sum(ctz_blocks(s) for s in sizes), used


def fs_blocks_read(text):
    for line in text.splitlines():
        if line.startswith("fs: blocks read: "):
            return int(line.split()[3])
    return None


def verdict(ok):
    return "MET" if ok else "MISSED"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--release", action="store_true")
    ap.add_argument("--only", type=int)
    a = ap.parse_args()
    for need in (FW, VENV_PY):
        if not os.path.exists(need):
            sys.exit(f"missing: {need} (run ./.ci/setup; firmware in ../shared/firmware)")
    mpimg, sim_exe = build(a.release)
    work = tempfile.mkdtemp(prefix="bench-scale-")
    M = [mpimg, "--baud", BAUD, "-n"]
    E = ESPTOOL + ["--chip", "esp32", "--port", "{PORT}", "--baud", BAUD, "--before", "no-reset", "--after", "no-reset"]
    want = lambda n: a.only is None or a.only == n
    try:
        board = firmware_with(mpimg, work, "fw-100k.bin", project_100k())
        print(f"esp-sim --baud-model at {BAUD} baud, esp32 4 MB; wall time of one run, bytes both ways on the wire")
        if want(1):
            m = run(sim_exe, M + ["{PORT}", "--read", "vfs=vfs.bin"], [board], work)
            e = run(sim_exe, E + ["read-flash", "0x200000", "0x200000", "vfs-e.bin"], [board], work)
            same = open(os.path.join(work, "vfs.bin"), "rb").read() == open(os.path.join(work, "vfs-e.bin"), "rb").read()
            bp, tp = 100 * m[1] / e[1], 100 * m[0] / e[0]
            print(f"1 sparse read of the 2 MB vfs (100 KB of files): mpimg {m[0]:.2f} s {m[1]} B, "
                  f"esptool {e[0]:.2f} s {e[1]} B: {bp:.1f}% of the bytes, {tp:.1f}% of the time "
                  f"(target <= 15%: {verdict(bp <= 15 and tp <= 15)}); same bytes read: {same}")
        if want(2):
            m = run(sim_exe, M + ["{PORT}", "--backup", "board.bin"], [board], work)
            e = run(sim_exe, E + ["read-flash", "0", "ALL", "board-e.bin"], [board], work)
            mine, theirs = open(os.path.join(work, "board.bin"), "rb").read(), open(os.path.join(work, "board-e.bin"), "rb").read()
            same = theirs[0x1000 : 0x1000 + len(mine)] == mine and all(b == 0xFF for b in theirs[0x1000 + len(mine) :])
            tp = 100 * m[0] / e[0]
            print(f"2 backup of the 4 MB board (1.6 MB app, 100 KB of files): mpimg {m[0]:.2f} s {m[1]} B "
                  f"({len(mine)} B file), esptool {e[0]:.2f} s {e[1]} B: {tp:.1f}% of the time "
                  f"(target <= 50%: {verdict(tp <= 50)}); same flash: {same}")
        if want(3) or want(4):
            files = tree_100()
            flash100 = firmware_with(mpimg, work, "fw-100.bin", files)
            tree = os.path.join(work, "tree")
            write_tree(tree, files)
            meta, used = metadata_blocks(flash100)
            base = run(sim_exe, M + ["{PORT}", "--to-csv", "t.csv"], [flash100], work)
            vfs_img = os.path.join(work, "vfs.img")
            open(vfs_img, "wb").write(flash100[0x200000:0x400000])
            e = run(sim_exe, E + ["write-flash", "0x200000", vfs_img], [flash100], work)
        if want(3):
            m = run(sim_exe, M + ["{PORT}", "-d", "--fs", "sync", tree, "/"], [flash100], work)
            extra = m[1] - base[1]
            blocks = fs_blocks_read(m[2])
            print(f"3 re-sync of the unchanged 100-file tree: mpimg {m[0]:.2f} s {m[1]} B on the wire, "
                  f"{extra} B more than connecting and reading the table ({base[1]} B); filesystem blocks read "
                  f"{blocks}, metadata blocks in the filesystem {meta} ({meta * 4096} B; {used} blocks used) "
                  f"(target: {verdict(blocks <= meta and extra <= meta * 4096)}); "
                  f"esptool write-flash of the vfs image: {e[0]:.2f} s {e[1]} B")
        if want(4):
            changed = os.path.join(tree, files[50][0])
            open(changed, "wb").write(source(10240, 4242))
            os.utime(changed, (T0 + 5000, T0 + 5000))
            m = run(sim_exe, M + ["{PORT}", "-d", "--fs", "sync", tree, "/"], [flash100], work)
            # What an esptool user writes instead: a new vfs image with the change, whole.
            subprocess.run([mpimg, FW, "--fs", "mkfs", "--fs", "sync", tree, "/", "-o", "changed.bin", "-q"],
                           cwd=work, check=True)
            img = (b"\xff" * 0x1000 + open(os.path.join(work, "changed.bin"), "rb").read() + b"\xff" * (4 * MB))
            open(vfs_img, "wb").write(img[0x200000:0x400000])
            e = run(sim_exe, E + ["write-flash", "0x200000", vfs_img], [flash100], work)
            print(f"4 sync after one changed 10 KB file: mpimg {m[0]:.2f} s {m[1]} B on the wire "
                  f"(target <= 65536: {verdict(m[1] <= 65536)}); "
                  f"esptool write-flash of the new vfs image: {e[0]:.2f} s {e[1]} B")
        if want(5):
            blank = b"\xff" * (4 * MB)
            one = run(sim_exe, M + [FW, "--flash", "{PORTS}"], [blank], work)
            four = run(sim_exe, M + [FW, "--flash", "{PORTS}"], [blank] * 4, work)
            e = run(sim_exe, E + ["write-flash", "0x1000", FW], [blank], work)
            r = four[0] / one[0]
            print(f"5 --flash of the 1.7 MB firmware: one board {one[0]:.2f} s {one[1]} B, four boards at once "
                  f"{four[0]:.2f} s {four[1]} B: {r:.2f}x (target <= 1.3x: {verdict(r <= 1.3)}); "
                  f"esptool write-flash to one board {e[0]:.2f} s {e[1]} B")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
