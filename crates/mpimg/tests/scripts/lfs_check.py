"""Independent littlefs checker for mpimg's tests, built on littlefs-python.

  lfs_check.py dump IMAGE BLOCKS
      Mount IMAGE (4096-byte blocks) and print JSON: on-disk version, block
      count, directories, and for each file its size, SHA-256 and mtime
      attribute (type 1, hex) if any.
  lfs_check.py make IMAGE BLOCKS DISK_VERSION SRC_DIR
      Format a filesystem of BLOCKS blocks at DISK_VERSION (e.g. 0x20000),
      copy SRC_DIR's files into it, and write IMAGE (BLOCKS * 4096 bytes).
  lfs_check.py fill IMAGE BLOCKS COUNT SIZE
      As a board would after flashing: IMAGE may be shorter than the
      partition (the rest reads erased); mount it with BLOCKS blocks, write
      COUNT more files of SIZE bytes (/more/fNNN), unmount, mount again and
      print the dump (as `dump` does); every new file is checked.
"""

import hashlib
import json
import os
import sys

from littlefs import LittleFS, UserContext


def dump(image, blocks):
    buf = bytearray(open(image, "rb").read())
    fs = LittleFS(context=UserContext(buffer=buf), block_size=4096, block_count=blocks, mount=False)
    print(json.dumps(describe(fs), sort_keys=True))


def describe(fs):
    fs.mount()
    st = fs.fs_stat()
    out = {"disk_version": st.disk_version, "block_count": fs.block_count, "dirs": [], "files": {}}
    for root, dirs, files in fs.walk("/"):
        for d in dirs:
            out["dirs"].append((root.rstrip("/") + "/" + d).lstrip("/"))
        for f in files:
            path = (root.rstrip("/") + "/" + f).lstrip("/")
            with fs.open(path, "rb") as fh:
                data = fh.read()
            try:
                mtime = fs.getattr(path, 1).hex()
            except Exception:
                mtime = None
            out["files"][path] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest(), "mtime": mtime}
    out["dirs"].sort()
    fs.unmount()
    return out


def fill(image, blocks, count, size):
    buf = bytearray(open(image, "rb").read())
    buf += b"\xff" * (blocks * 4096 - len(buf))
    fs = LittleFS(context=UserContext(buffer=buf), block_size=4096, block_count=blocks, mount=False)
    fs.mount()
    fs.mkdir("more")
    for i in range(count):
        with fs.open("more/f%03d" % i, "wb") as fh:
            fh.write(bytes((i + j) % 256 for j in range(size)))
    fs.unmount()
    fs = LittleFS(context=UserContext(buffer=buf), block_size=4096, block_count=blocks, mount=False)
    out = describe(fs)
    for i in range(count):
        want = hashlib.sha256(bytes((i + j) % 256 for j in range(size))).hexdigest()
        assert out["files"]["more/f%03d" % i]["sha256"] == want, i
    print(json.dumps(out, sort_keys=True))


def make(image, blocks, disk_version, src):
    ctx = UserContext(buffsize=blocks * 4096)
    fs = LittleFS(context=ctx, block_size=4096, block_count=blocks, disk_version=disk_version, mount=False)
    fs.format()
    fs.mount()
    for root, dirs, files in os.walk(src):
        rel = os.path.relpath(root, src).replace(os.sep, "/")
        rel = "" if rel == "." else rel
        for d in sorted(dirs):
            fs.mkdir((rel + "/" + d).lstrip("/"))
        for f in sorted(files):
            with open(os.path.join(root, f), "rb") as fh, fs.open((rel + "/" + f).lstrip("/"), "wb") as out:
                out.write(fh.read())
    fs.unmount()
    with open(image, "wb") as fh:
        fh.write(ctx.buffer)


if __name__ == "__main__":
    if sys.argv[1] == "dump":
        dump(sys.argv[2], int(sys.argv[3], 0))
    elif sys.argv[1] == "make":
        make(sys.argv[2], int(sys.argv[3], 0), int(sys.argv[4], 0), sys.argv[5])
    elif sys.argv[1] == "fill":
        fill(sys.argv[2], int(sys.argv[3], 0), int(sys.argv[4], 0), int(sys.argv[5], 0))
    else:
        sys.exit("usage: lfs_check.py dump IMAGE BLOCKS | make IMAGE BLOCKS DISK_VERSION SRC_DIR | fill IMAGE BLOCKS COUNT SIZE")
