"""Independent checks for mpimg's layout-change tests: littlefs-python and
mtools read a filesystem partition found through the firmware's own table.

  carry_check.py make-lfs IMAGE BLOCKS DISK_VERSION SRC_DIR
      Format littlefs (4096-byte blocks) at DISK_VERSION, copy SRC_DIR into it
      with MicroPython's mtime attribute (type 1: u64 LE nanoseconds) from each
      file's mtime, plus attribute 0x42 on every file whose name ends in 0.py,
      attribute 7 on each directory and attribute 200 on the root; write
      IMAGE (BLOCKS * 4096 bytes).
  carry_check.py dump FIRMWARE BOOTLOADER_OFFSET NAME lfs|fat
      Find partition NAME in FIRMWARE's partition table (flash 0x8000); when
      the table has none and NAME is vfs, MicroPython's implicit vfs (from the
      end of the table to the end of the flash size in the bootloader
      header). Cut it out of FIRMWARE (0xFF past the end of the file) and
      print JSON: offset, size, and what the reader finds:
      lfs: littlefs-python mounted with block_count = size / 4096:
           disk_version, block_count, dirs {path: attrs}, files {path: {size,
           sha256, attrs}}, attrs of types 1, 7, 0x42 and 200 in hex, root
           attrs under "/";
      fat: mtools (TZ=UTC) copies everything out with -m: volume sectors,
           dirs {path: mtime}, files {path: {size, sha256, mtime}}.
"""

import hashlib
import json
import os
import struct
import subprocess
import sys
import tempfile

from littlefs import LittleFS, UserContext

ATTR_TYPES = [1, 7, 0x42, 200]


def make_lfs(image, blocks, disk_version, src):
    ctx = UserContext(buffsize=blocks * 4096)
    fs = LittleFS(context=ctx, block_size=4096, block_count=blocks, disk_version=disk_version, mount=False)
    fs.format()
    fs.mount()
    fs.setattr("/", 200, b"root of the test tree")
    for root, dirs, files in os.walk(src):
        dirs.sort()
        rel = os.path.relpath(root, src).replace(os.sep, "/")
        rel = "" if rel == "." else rel
        for d in dirs:
            p = (rel + "/" + d).lstrip("/")
            fs.mkdir(p)
            fs.setattr(p, 7, ("dir " + p).encode())
        for f in sorted(files):
            host = os.path.join(root, f)
            p = (rel + "/" + f).lstrip("/")
            with open(host, "rb") as fh, fs.open(p, "wb") as out:
                out.write(fh.read())
            fs.setattr(p, 1, struct.pack("<Q", os.stat(host).st_mtime_ns))
            if f.endswith("0.py"):
                fs.setattr(p, 0x42, ("other " + p).encode())
    fs.unmount()
    with open(image, "wb") as fh:
        fh.write(ctx.buffer)


def table(fw, bl):
    """(name, offset, size) of each entry, and the flash size of the header."""
    raw = fw[0x8000 - bl : 0x9000 - bl]
    out = []
    for i in range(0, len(raw), 32):
        e = raw[i : i + 32]
        if e[:2] != b"\xaa\x50":
            break
        _, _, _, offset, size = struct.unpack("<2sBBII", e[:12])
        out.append((e[12:28].split(b"\0")[0].decode(), offset, size, e[2]))
    flash_size = (1 << (fw[3] >> 4)) << 20
    return out, flash_size


def find(fw, bl, name):
    parts, flash_size = table(fw, bl)
    for n, offset, size, _ in parts:
        if n == name:
            return offset, size, False
    if name == "vfs" and not any(n in ("vfs", "ffat") and t == 1 for n, _, _, t in parts):
        end = max(o + s for _, o, s, _ in parts)
        return end, flash_size - end, True
    sys.exit("no partition %s" % name)


def region(fw, bl, offset, size):
    data = fw[offset - bl : offset - bl + size]
    return data + b"\xff" * (size - len(data))


def attrs(fs, path):
    out = {}
    for t in ATTR_TYPES:
        try:
            out[str(t)] = fs.getattr(path, t).hex()
        except Exception:
            pass
    return out


def dump_lfs(data):
    fs = LittleFS(context=UserContext(buffer=bytearray(data)), block_size=4096, block_count=len(data) // 4096, mount=False)
    fs.mount()
    st = fs.fs_stat()
    out = {"disk_version": st.disk_version, "block_count": st.block_count, "dirs": {"/": attrs(fs, "/")}, "files": {}}
    for root, dirs, files in fs.walk("/"):
        for d in dirs:
            p = (root.rstrip("/") + "/" + d).lstrip("/")
            out["dirs"][p] = attrs(fs, p)
        for f in files:
            p = (root.rstrip("/") + "/" + f).lstrip("/")
            with fs.open(p, "rb") as fh:
                body = fh.read()
            out["files"][p] = {"size": len(body), "sha256": hashlib.sha256(body).hexdigest(), "attrs": attrs(fs, p)}
    fs.unmount()
    return out


def dump_fat(data):
    env = dict(os.environ, TZ="UTC", MTOOLS_SKIP_CHECK="1")
    with tempfile.TemporaryDirectory() as tmp:
        img = os.path.join(tmp, "vfs.img")
        with open(img, "wb") as fh:
            fh.write(data)
        dest = os.path.join(tmp, "out")
        os.mkdir(dest)
        r = subprocess.run(["mcopy", "-s", "-m", "-n", "-i", img, "::*", dest], env=env, capture_output=True, text=True)
        if r.returncode != 0 and "No match" not in r.stderr:
            sys.exit("mcopy failed: " + r.stderr)
        sectors = struct.unpack("<H", data[19:21])[0] or struct.unpack("<I", data[32:36])[0]
        out = {"sectors": sectors, "bytes_per_sector": struct.unpack("<H", data[11:13])[0], "dirs": {}, "files": {}}
        for root, dirs, files in os.walk(dest):
            rel = os.path.relpath(root, dest).replace(os.sep, "/")
            rel = "" if rel == "." else rel
            for d in dirs:
                p = (rel + "/" + d).lstrip("/")
                out["dirs"][p] = int(os.stat(os.path.join(root, d)).st_mtime)
            for f in files:
                host = os.path.join(root, f)
                with open(host, "rb") as fh:
                    body = fh.read()
                p = (rel + "/" + f).lstrip("/")
                out["files"][p] = {"size": len(body), "sha256": hashlib.sha256(body).hexdigest(), "mtime": int(os.stat(host).st_mtime)}
        return out


def dump(fw_path, bl, name, kind):
    fw = open(fw_path, "rb").read()
    offset, size, implicit = find(fw, bl, name)
    data = region(fw, bl, offset, size)
    found = dump_lfs(data) if kind == "lfs" else dump_fat(data)
    print(json.dumps({"offset": offset, "size": size, "implicit": implicit, "fs": found}, sort_keys=True))


if __name__ == "__main__":
    if sys.argv[1] == "make-lfs":
        make_lfs(sys.argv[2], int(sys.argv[3], 0), int(sys.argv[4], 0), sys.argv[5])
    elif sys.argv[1] == "dump":
        dump(sys.argv[2], int(sys.argv[3], 0), sys.argv[4], sys.argv[5])
    else:
        sys.exit(__doc__)
