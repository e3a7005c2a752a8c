#!/usr/bin/env python3
"""Make the fuzz seed corpora in fuzz/seeds/TARGET/ (all of them are
replaced). They come from ../shared/firmware and are not committed:
scripts/fuzz.sh runs this when they are absent, .ci/run before the tests.

Usage: scripts/fuzz-seeds.py [FIRMWARE_DIR]   (default ../shared/firmware)

Seeds stay small: no firmware is copied whole. Images are shrunk to their
header and the first bytes of each segment (checksum and SHA-256 recomputed,
so they stay valid); tables are cut after their end marker; firmware seeds
are a shrunk bootloader, the real table and a shrunk app at their flash
offsets with erased flash (0xFF) between them; filesystem seeds are small
partitions that mpimg, littlefs-python and mtools made, cut after their last
non-erased byte (the fuzz targets read past the input as erased flash).

Needs: cargo (builds mpimg), .venv with littlefs-python, mtools.
"""

import binascii
import hashlib
import os
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "fuzz" / "seeds"
FIRMWARE = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "firmware"
# (file, short name) of the firmware the seeds come from: one per chip and layout.
PICKS = [
    ("ESP32_GENERIC-20240602-v1.23.0.bin", "esp32-v1.23"),
    ("ESP32_GENERIC-OTA-20250415-v1.25.0.bin", "esp32-ota-v1.25"),
    ("ESP32_GENERIC_C3-20251209-v1.27.0.bin", "c3-v1.27"),
    ("ESP32_GENERIC_S2-20240602-v1.23.0.bin", "s2-v1.23"),
    ("ESP32_GENERIC_S3-20241129-v1.24.1.bin", "s3-v1.24"),
    ("esp32-20210902-v1.17.bin", "esp32-v1.17"),
]
APP_ONLY = ("micropython.bin", "s3-custom-app")
# Written last: the seeds are a whole set.
COMPLETE = ".complete"
# Chips whose bootloader is at flash 0x1000 (esp32, esp32s2); the rest at 0.
BOOTLOADER_AT_0X1000 = {0, 2}
TABLE_OFFSET = 0x8000


def bootloader_offset(fw):
    return 0x1000 if struct.unpack_from("<H", fw, 12)[0] in BOOTLOADER_AT_0X1000 else 0


def segments(img):
    """(load address, data) of each segment, and the image length."""
    pos, segs = 24, []
    for _ in range(img[1]):
        addr, n = struct.unpack_from("<II", img, pos)
        segs.append((addr, img[pos + 8 : pos + 8 + n]))
        pos += 8 + n
    length = (pos | 15) + 1 + (32 if img[23] == 1 else 0)
    return segs, length


def build_image(header, segs):
    """An image from a header and segments, with checksum and (if the header
    says so) SHA-256, as ESP-IDF lays it out."""
    out = bytearray(header[:24])
    out[1] = len(segs)
    check = 0xEF
    for addr, data in segs:
        out += struct.pack("<II", addr, len(data)) + data
        for b in data:
            check ^= b
    out += b"\0" * (15 - len(out) % 16)
    out.append(check)
    if header[23] == 1:
        out += hashlib.sha256(out).digest()
    return bytes(out)


def shrink(img, first=320, rest=32, replace=None):
    """The image with each segment cut (the first to `first` bytes: room for
    the app or bootloader descriptor; the others to `rest`). `replace` gives
    new data for some segments (by index)."""
    segs, _ = segments(img)
    cut = []
    for i, (addr, data) in enumerate(segs):
        data = (replace or {}).get(i, data[: first if i == 0 else rest])
        cut.append((addr, data + b"\0" * (-len(data) % 4)))
    return build_image(img, cut)


def banner_window(app):
    at = app.find(b"MicroPython ", 0)
    while at >= 0:
        w = app[at : at + 48]
        if b" on " in w:
            return w
        at = app.find(b"MicroPython ", at + 1)
    return None


def table_sector(fw, bl):
    return fw[TABLE_OFFSET - bl : TABLE_OFFSET - bl + 0x1000]


def table_entries(sector):
    at, parts = 0, []
    while sector[at : at + 2] == b"\xaa\x50":
        t, st, off, size = struct.unpack_from("<BBII", sector, at + 2)
        parts.append((sector[at + 12 : at + 28].rstrip(b"\0").decode(), t, st, off, size))
        at += 32
    return parts, at


def table_seed(sector):
    _, at = table_entries(sector)
    if sector[at : at + 2] == b"\xeb\xeb":
        at += 32
    return sector[: at + 32]


def trim_erased(data):
    return data.rstrip(b"\xff")


def write(target, name, data):
    d = SEEDS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


def otadata_record(seq, state, label=b"\xff" * 20):
    crc = binascii.crc32(struct.pack("<I", seq), 0xFFFFFFFF)
    return struct.pack("<I", seq) + label + struct.pack("<II", state, crc)


def firmware_seeds():
    for file, name in PICKS:
        fw = (FIRMWARE / file).read_bytes()
        bl = bootloader_offset(fw)
        boot = fw[: segments(fw)[1]]
        sector = table_sector(fw, bl)
        parts, _ = table_entries(sector)
        app_part = next(p for p in parts if p[1] == 0)
        app = fw[app_part[3] - bl :]
        app = app[: segments(app)[1]]
        banner = banner_window(app)
        small_boot = shrink(boot)
        small_app = shrink(app, replace={1: banner} if banner else None)

        write("image", f"{name}-bootloader.bin", small_boot)
        write("image", f"{name}-app.bin", small_app)
        write("descriptors", f"{name}-bootloader.bin", small_boot[:256])
        write("descriptors", f"{name}-app.bin", small_app)
        if banner:
            write("descriptors", f"{name}-banner.txt", banner)
        write("partition_table", f"{name}.bin", table_seed(sector))

        # A firmware file as mpimg opens it: bootloader, table (and otadata), app.
        file_ = bytearray(b"\xff" * (app_part[3] - bl))
        file_[: len(small_boot)] = small_boot
        file_[TABLE_OFFSET - bl : TABLE_OFFSET - bl + 0x1000] = sector
        for pname, t, st, off, size in parts:
            if t == 1 and st == 0:  # otadata: two valid records, ota_1 boots
                rec = otadata_record(1, 2) + b"\xff" * (0x1000 - 32) + otadata_record(2, 2)
                file_[off - bl : off - bl + len(rec)] = rec
        write("inspect", f"{name}.bin", bytes(file_) + small_app)
    # A firmware cut inside its app (the small one above: no real bootloader
    # is copied whole); a dump from flash 0; an app image alone.
    fw = (FIRMWARE / PICKS[0][0]).read_bytes()
    small_fw = (SEEDS / "inspect" / f"{PICKS[0][1]}.bin").read_bytes()
    write("inspect", "esp32-v1.23-cut.bin", small_fw[: 0x10000 - 0x1000 + 0x200])
    write("inspect", "esp32-v1.23-from-0.bin", b"\xff" * 0x1000 + fw[:0x40])
    app = (FIRMWARE / APP_ONLY[0]).read_bytes()
    small = shrink(app[: segments(app)[1]], replace={1: banner_window(app)})
    write("inspect", f"{APP_ONLY[1]}.bin", small)
    write("image", f"{APP_ONLY[1]}.bin", small)
    boot = (SEEDS / "image" / f"{PICKS[0][1]}-bootloader.bin").read_bytes()
    write("image", "esp32-v1.23-bootloader-cut.bin", boot[: len(boot) // 2])


def otadata_seeds():
    e = b"\xff" * 32
    for name, recs in [
        ("erased", e + e),
        ("ota0", otadata_record(1, 2) + e),
        ("ota1", otadata_record(1, 2) + otadata_record(2, 2)),
        ("pending", otadata_record(3, 1) + otadata_record(2, 2)),
        ("new-undefined", otadata_record(5, 0) + otadata_record(4, 0xFFFFFFFF)),
        ("aborted", otadata_record(7, 4, b"ota_label".ljust(20, b"\0")) + otadata_record(6, 3)),
        ("near-top", otadata_record(0xFFFFFFFD, 2) + e),
    ]:
        write("otadata", f"{name}.bin", recs)


def text_seeds(mpimg, tmp):
    for file, name in PICKS[:3]:
        out = tmp / f"{name}.csv"
        subprocess.run([mpimg, FIRMWARE / file, "-q", "--to-csv", out], check=True)
        write("csv", f"{name}.csv", out.read_bytes())
    idf = (
        "# Name,   Type, SubType, Offset,  Size, Flags\n"
        "nvs,      data, nvs,     ,        0x6000,\n"
        "otadata,  data, ota,     ,        8K,\n"
        "phy_init, data, phy,     ,        4k,\n"
        "ota_0,    app,  ota_0,   0x10000, 1536K,\n"
        "ota_1,    app,  ota_1,   ,        0x180000,\n"
        "vfs,      data, littlefs,,        0x0F0000, readonly # comment\n"
        "key,      data, 0x40,    ,        1B, encrypted:readonly\n"
    )
    write("csv", "idf-empty-offsets.csv", idf.encode())
    write("csv", "bom-crlf-tabs.csv", b"\xef\xbb\xbf" + idf.replace("\n", "\r\n").replace(",", ",\t").encode())
    write("csv", "utf16le.csv", b"\xff\xfe" + idf.encode("utf-16-le"))
    for i, words in enumerate(
        [
            ["ls"],
            ["ls", "-l", "vfs2:/lib", "x"],
            ["cat", "boot.py", "vfs:/main.py"],
            ["get", "/", "backup"],
            ["put", "app/", "lib", "/"],
            ["mkdir", "/data/a/../b"],
            ["rm", "/old.py"],
            ["rename", "a.py", "main.py"],
            ["mkfs", "vfs2", "fat"],
            ["mkfs", "littlefs"],
            ["df"],
            ["info", "vfs"],
            ["grow", "vfs", "0x100"],
            ["grow", "vfs", "512"],
        ]
    ):
        write("fs_command", f"{i:02}-{words[0]}.txt", "\n".join(words).encode())
    for i, s in enumerate(["8M", "0x1f0000", "1.5M", "7B", "0x1fB", "4k", "16KB", "2mb", "1_000", "0o10", "0b101", "0.5K", ""]):
        write("size", f"{i:02}.txt", s.encode())


def fs_seeds(mpimg, tmp):
    fw = FIRMWARE / PICKS[0][0]
    files = tmp / "files"
    (files / "lib" / "sub").mkdir(parents=True)
    (files / "main.py").write_text('print("hello")\n')
    (files / "lib" / "util.py").write_text("def f():\n    return 1\n" * 20)
    (files / "lib" / "sub" / "data.bin").write_bytes(bytes(range(256)) * 40)  # spans 3 blocks
    (files / "lib" / "sub" / "empty").write_bytes(b"")
    for f in files.rglob("*"):
        os.utime(f, (1700000000, 1700000000))  # put keeps the host file's mtime

    def partition(kind, size):
        small = tmp / f"{kind}-{size}.bin"
        out = tmp / f"{kind}-{size}-fs.bin"
        part = tmp / f"{kind}-{size}.part"
        subprocess.run([mpimg, fw, "-q", "--resize", f"vfs={size}", "-o", small], check=True)
        subprocess.run(
            [mpimg, small, "-q", "--fs", "mkfs", "vfs", kind, "--fs", "put", files / "main.py", files / "lib", "/", "-o", out],
            check=True,
        )
        subprocess.run([mpimg, out, "-q", "--read", f"vfs={part}"], check=True)
        return part.read_bytes()

    write("littlefs", "mpimg-64k.bin", trim_erased(partition("littlefs", "64K")))
    write("fat", "mpimg-128k.bin", trim_erased(partition("fat", "128K")))

    # littlefs-python: on-disk version 2.1, nested directories, an mtime attribute.
    py = ROOT / ".venv" / "bin" / "python"
    script = f"""
import littlefs, struct
fs = littlefs.LittleFS(block_size=4096, block_count=16, name_max=255)
fs.makedirs('a/b/c')
with fs.open('a/b/c/deep.txt', 'w') as f: f.write('deep\\n')
with fs.open('big.bin', 'wb') as f: f.write(bytes(range(251)) * 70)
for i in range(12):
    with fs.open('f%02d.py' % i, 'w') as f: f.write('x = %d\\n' % i)
fs.setattr('f00.py', 1, struct.pack('<Q', 1700000000 * 10**9))
fs.remove('f05.py')
fs.rename('f06.py', 'a/moved.py')
open({str(tmp / 'py.lfs')!r}, 'wb').write(fs.context.buffer)
"""
    subprocess.run([py, "-c", script], check=True)
    write("littlefs", "littlefs-python-v2.1.bin", trim_erased((tmp / "py.lfs").read_bytes()))

    # mtools: FAT12 with 4096-byte sectors, long names, a subdirectory.
    img = tmp / "mtools.fat"
    img.write_bytes(b"\xff" * 0x20000)
    env = dict(os.environ, MTOOLS_SKIP_CHECK="1")
    subprocess.run(["mformat", "-i", img, "-S", "5", "-T", "32", "-h", "1", "-s", "32", "-c", "1", "-r", "4", "-N", "12345678", "::"], check=True, env=env)
    subprocess.run(["mmd", "-i", img, "::/Long Directory Name"], check=True, env=env)
    subprocess.run(["mcopy", "-m", "-i", img, files / "main.py", "::/Long Directory Name/a long file name.py"], check=True, env=env)
    subprocess.run(["mcopy", "-m", "-i", img, files / "lib" / "util.py", "::/UTIL.PY"], check=True, env=env)
    write("fat", "mtools-128k.bin", trim_erased(img.read_bytes()))


def fat_damaged_seeds():
    """What the fat target found, made small: FAT12 volumes of 64 512-byte
    sectors (boot sector, one FAT sector, a root of 16 entries, clusters 2 to
    62) naming cluster 1 (reserved) or one past the last cluster; fatfs
    0.3.6 computed a sector from them with `cluster - 2` in u32."""

    def volume(fat, root, data=b""):
        boot = bytearray(512)
        boot[0:3] = b"\xeb\x3c\x90"
        boot[3:11] = b"MPIMGFUZ"
        boot[11:24] = struct.pack("<HBHBHHBH", 512, 1, 1, 1, 16, 64, 0xF8, 1)
        boot[510:512] = b"\x55\xaa"
        table = bytearray(512)
        for n, v in enumerate([0xFF8, 0xFFF] + fat):
            at = n + n // 2
            old = table[at] | table[at + 1] << 8
            new = (old & 0xF000) | v if n % 2 == 0 else (old & 0x000F) | v << 4
            table[at : at + 2] = struct.pack("<H", new)
        entries = b"".join(root).ljust(512, b"\0")
        return bytes(boot + table) + entries + data

    def entry(name, attrs, cluster, size):
        return name + bytes([attrs]) + bytes(14) + struct.pack("<HI", cluster, size)

    # A file's entry, and one inside a subdirectory, at cluster 1.
    sub = entry(b".          ", 0x10, 2, 0) + entry(b"..         ", 0x10, 0, 0) + entry(b"B       TXT", 0x20, 1, 5)
    root = [entry(b"A       TXT", 0x20, 1, 10), entry(b"D          ", 0x10, 2, 0)]
    write("fat", "damaged-entry-cluster-1.bin", volume([0xFFF], root, sub.ljust(512, b"\0")))
    # A file of two clusters whose FAT entry says its second is cluster 1, or cluster 0xFF0.
    for name, v in [("damaged-fat-entry-1.bin", 1), ("damaged-fat-entry-ff0.bin", 0xFF0)]:
        write("fat", name, volume([v], [entry(b"A       TXT", 0x20, 2, 1000)], b"x" * 512))


def main():
    # Fixed times (mkfs, mkdir, put, mtools) so that remaking the seeds from the
    # same firmware gives the same bytes.
    os.environ["SOURCE_DATE_EPOCH"] = "1700000000"
    if not FIRMWARE.is_dir():
        sys.exit(f"no firmware directory {FIRMWARE}: give it as the first argument")
    # Checked first, so that a missing tool stops the run before any seed is made.
    if not (ROOT / ".venv" / "bin" / "python").exists():
        sys.exit("no .venv with littlefs-python: ./.ci/setup makes it")
    if shutil.which("mformat") is None:
        sys.exit("no mtools (mformat): apt-get install mtools")
    subprocess.run(["cargo", "build", "-q", "-p", "mpimg"], cwd=ROOT, check=True)
    mpimg = ROOT / "target" / "debug" / "mpimg"
    shutil.rmtree(SEEDS, ignore_errors=True)
    try:
        with tempfile.TemporaryDirectory() as t:
            tmp = Path(t)
            firmware_seeds()
            otadata_seeds()
            text_seeds(mpimg, tmp)
            fs_seeds(mpimg, tmp)
            fat_damaged_seeds()
    except BaseException:
        # Never leave part of a set: scripts/fuzz.sh would take it for whole.
        shutil.rmtree(SEEDS, ignore_errors=True)
        raise
    (SEEDS / COMPLETE).write_text("made by scripts/fuzz-seeds.py\n")
    for d in sorted(p for p in SEEDS.iterdir() if p.is_dir()):
        sizes = [f.stat().st_size for f in d.iterdir()]
        print(f"{d.name:16} {len(sizes):3} seeds, {sum(sizes):7} bytes, largest {max(sizes)}")


if __name__ == "__main__":
    main()
