#!/usr/bin/env python3
"""Benchmark: what carrying the files costs a table edit on a device.

`mpimg PORT -f 8M --table ota` on an esp-sim esp32 board (8 MB flash,
--baud-model, mpimg at --baud 921600) whose vfs (0x200000, 2 MB) holds
littlefs with 100 files of 1 MB in all (in 10 directories, 2 to 20 KB each).
The edit moves vfs to 0x410000: the tree is read, saved to a host backup,
written at the new place, read back (MD5 on the chip) and the backup removed.

Prints the bytes on the wire both ways (esp-sim's count, SLIP framing
included) and the time (esp-sim's link time at the baud in force, and
mpimg's wall time), against the floor the issue sets: the compressed size
(zlib -9) of the blocks littlefs uses, read once and written once, i.e. the
used blocks of the old vfs compressed plus those of the new vfs compressed.
The serial loader's READ_FLASH sends flash as it is (there is no compressed
read), so a second line gives the floor the protocol allows: the used blocks
read raw plus written compressed.

Two contents: `random` (incompressible, like .mpy and assets) and `text`
(Python source); `--only random|text` runs one.

Usage: python3 scripts/bench-carry-device.py [--only KIND] [--debug]
(builds mpimg and esp-sim in release mode unless --debug; needs
../shared/firmware/ESP32_GENERIC-20240602-v1.23.0.bin).
"""

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FW = os.path.join(ROOT, "..", "shared", "firmware", "ESP32_GENERIC-20240602-v1.23.0.bin")
BAUD = 921600
EDIT = ["-f", "8M", "--table", "ota"]
OLD_VFS = (0x200000, 0x200000)
NEW_VFS = (0x410000, 0x3F0000)
BL = 0x1000

WORDS = ("def class return import from self if else elif for while in not and or None True False "
         "print len range machine Pin time sleep_ms network wlan value config").split()


def text_bytes(n, rnd):
    out = []
    size = 0
    while size < n:
        indent = "    " * rnd.randrange(3)
        line = indent + " ".join(rnd.choice(WORDS) for _ in range(rnd.randrange(3, 10))) + "\n"
        out.append(line)
        size += len(line)
    return "".join(out).encode()[:n]


def make_tree(root, kind):
    """100 files of 1 MB in all, over 10 directories (two levels)."""
    rnd = random.Random(100)
    sizes = [rnd.randrange(2_000, 20_000) for _ in range(100)]
    scale = (1 << 20) / sum(sizes)
    sizes = [int(s * scale) for s in sizes]
    sizes[-1] += (1 << 20) - sum(sizes)
    for i, n in enumerate(sizes):
        d = os.path.join(root, f"pkg{i % 5}", f"sub{i % 2}")
        os.makedirs(d, exist_ok=True)
        data = rnd.randbytes(n) if kind == "random" else text_bytes(n, rnd)
        ext = ".mpy" if kind == "random" else ".py"
        with open(os.path.join(d, f"mod{i:03d}{ext}"), "wb") as f:
            f.write(data)


def used_blocks(region):
    """The 4 KB blocks that are not blank (a freshly written littlefs has no stale blocks)."""
    return [region[i:i + 4096] for i in range(0, len(region), 4096) if region[i:i + 4096] != b"\xff" * 4096]


def compressed(blocks):
    return len(zlib.compress(b"".join(blocks), 9))


def run(mpimg, sim, kind, work):
    tree = os.path.join(work, "tree")
    make_tree(tree, kind)
    image = os.path.join(work, "files.bin")
    tops = sorted(os.path.join(tree, t) for t in os.listdir(tree))
    subprocess.run([mpimg, FW, "-q", "--fs", "mkfs", "--fs", "put", *tops, "/", "-o", image], check=True, cwd=work)
    edited = os.path.join(work, "edited.bin")
    subprocess.run([mpimg, image, "-q", *EDIT, "-o", edited], check=True, cwd=work)
    old = open(image, "rb").read()
    new = open(edited, "rb").read()

    def region(fw, place):
        off, size = place
        data = fw[off - BL:off - BL + size]
        return data + b"\xff" * (size - len(data))

    old_used = used_blocks(region(old, OLD_VFS))
    new_used = used_blocks(region(new, NEW_VFS))

    flash = os.path.join(work, "flash.bin")
    stats = os.path.join(work, "stats.json")
    p = subprocess.Popen([sim, "--chip", "esp32", "--flash-size", "8M", "--flash-file", flash, "--image", image,
                          "--offset", hex(BL), "--baud-model", "--stats", stats], stdout=subprocess.PIPE, text=True)
    port = p.stdout.readline().strip().removeprefix("PTY ")
    t0 = time.monotonic()
    r = subprocess.run([mpimg, port, *EDIT, "--baud", str(BAUD), "-d"], capture_output=True, text=True, cwd=work)
    wall = time.monotonic() - t0
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=10)
    if r.returncode != 0:
        sys.exit(f"mpimg failed:\n{r.stderr}")
    st = json.load(open(stats))
    board = open(flash, "rb").read()
    same = board[NEW_VFS[0]:NEW_VFS[0] + NEW_VFS[1]] == region(new, NEW_VFS)
    kept = [l for l in r.stderr.splitlines() if l.startswith("Kept ")]

    up, down = st["bytes_from_host"], st["bytes_to_host"]
    total = up + down
    floor = compressed(old_used) + compressed(new_used)
    proto = 4096 * len(old_used) + compressed(new_used)
    secs = lambda n: n * 10 / BAUD
    print(f"{kind}: vfs holds 100 files, {1 << 20} bytes; {kind == 'random' and 'incompressible' or 'Python source'}")
    print(f"  {kept[0] if kept else '(no Kept line)'}; board's new vfs = the file edit's: {same}")
    print(f"  used blocks: old vfs {len(old_used)}, new vfs {len(new_used)}; "
          f"compressed {compressed(old_used)} + {compressed(new_used)} bytes")
    print(f"  on the wire: {up} bytes to the board + {down} from it = {total} bytes; "
          f"link time {st['wire_seconds']:.2f} s, mpimg wall time {wall:.2f} s")
    print(f"  floor (used blocks compressed, read once + written once): {floor} bytes, {secs(floor):.2f} s "
          f"-> {total / floor:.2f}x")
    print(f"  floor the protocol allows (read raw, written compressed):  {proto} bytes, {secs(proto):.2f} s "
          f"-> {total / proto:.2f}x")
    top = sorted(st["commands"].items(), key=lambda kv: -kv[1])[:6]
    print("  commands: " + ", ".join(f"{k} {v}" for k, v in top))
    return total / floor


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=["random", "text"])
    ap.add_argument("--debug", action="store_true", help="debug builds")
    a = ap.parse_args()
    if not os.path.isfile(FW):
        sys.exit(f"missing {FW}")
    subprocess.run(["cargo", "build", "-q", "-p", "mpimg", "-p", "esp-sim"] + ([] if a.debug else ["--release"]),
                   cwd=ROOT, check=True)
    bins = os.path.join(ROOT, "target", "debug" if a.debug else "release")
    mpimg, sim = os.path.join(bins, "mpimg"), os.path.join(bins, "esp-sim")
    for kind in [a.only] if a.only else ["random", "text"]:
        with tempfile.TemporaryDirectory() as work:
            run(mpimg, sim, kind, work)


if __name__ == "__main__":
    main()
