"""Independent check of a whole-flash dump for mpimg's fault matrix: would an
ESP32 start from it, and what files does its littlefs hold?

  boot_check.py FLASH CHIP BOOTLOADER_OFFSET [FS_OFFSET FS_SIZE]...

Prints one JSON object:
  bootloader  "ok", or why not (esptool's image parser: checksum, SHA-256)
  table       "ok", or why not (this script's own reading of the 0x8000 sector)
  boots       the app partition the bootloader starts (otadata, else factory / ota_0)
  app         "ok", or why that app is not valid (esptool again)
  vfs         the table's "vfs" partition: [offset, size], or null
  fs          for each FS_OFFSET FS_SIZE given, and for the table's vfs:
              {"0xOFFSET:0xSIZE": {"files": {path: sha256}, "dirs": [...]} from
              littlefs-python, or {"error": why}}

Nothing here comes from mpimg: the table and otadata are read as ESP-IDF
defines them (esp_partition, esp_ota_ops / bootloader_utility), the images by
esptool, the filesystem by littlefs-python.
"""

import binascii
import hashlib
import json
import struct
import sys

from esptool.bin_image import LoadFirmwareImage

TABLE_OFFSET = 0x8000
OTA_STATE_INVALID, OTA_STATE_ABORTED = 3, 4


def image_problem(chip, data):
    if data[:1] != b"\xe9":
        return "no image header" if any(b != 0xFF for b in data[:32]) else "erased"
    try:
        image = LoadFirmwareImage(chip, data)
    except Exception as e:  # esptool raises FatalError and struct errors alike
        return "esptool cannot read it: %s" % e
    if image.checksum != image.calculate_checksum():
        return "checksum invalid"
    if getattr(image, "append_digest", False) and image.stored_digest != image.calc_digest:
        return "SHA-256 invalid"
    return None


def read_table(flash):
    sector = flash[TABLE_OFFSET : TABLE_OFFSET + 0x1000]
    entries, md5_ok = [], None
    for i in range(0, len(sector), 32):
        e = sector[i : i + 32]
        if e[:2] == b"\xaa\x50":
            ptype, subtype, offset, size = struct.unpack_from("<BBII", e, 2)
            label = e[12:28].split(b"\0")[0].decode("latin-1")
            entries.append({"name": label, "type": ptype, "subtype": subtype, "offset": offset, "size": size})
        elif e[:2] == b"\xeb\xeb":
            md5_ok = hashlib.md5(sector[:i]).digest() == e[16:32]
        else:
            break
    if not entries:
        return None, "no partition table"
    if md5_ok is False:
        return entries, "table MD5 invalid"
    return entries, None


def boot_partition(flash, entries):
    """The app ESP-IDF's bootloader picks: the valid otadata record with the
    highest sequence number, else factory, else ota_0."""
    apps = {p["subtype"]: p for p in entries if p["type"] == 0}
    otas = []
    while 0x10 + len(otas) in apps:
        otas.append(apps[0x10 + len(otas)])
    otadata = next((p for p in entries if p["type"] == 1 and p["subtype"] == 0), None)
    best = None
    if otadata and otas:
        for k in range(2):
            rec = flash[otadata["offset"] + k * 0x1000 : otadata["offset"] + k * 0x1000 + 32]
            seq, state, crc = struct.unpack_from("<I", rec, 0)[0], struct.unpack_from("<I", rec, 24)[0], struct.unpack_from("<I", rec, 28)[0]
            if seq == 0xFFFFFFFF or crc != binascii.crc32(struct.pack("<I", seq), 0xFFFFFFFF):
                continue
            if state in (OTA_STATE_INVALID, OTA_STATE_ABORTED):
                continue
            if best is None or seq > best:
                best = seq
    if best is not None:
        return otas[(best - 1) % len(otas)]
    if 0x00 in apps:
        return apps[0x00]
    return otas[0] if otas else None


def fs_dump(flash, offset, size):
    from littlefs import LittleFS, UserContext

    buf = bytearray(flash[offset : offset + size])
    try:
        fs = LittleFS(context=UserContext(buffer=buf), block_size=4096, block_count=size // 4096, mount=False)
        fs.mount()
        out = {"files": {}, "dirs": []}
        for root, dirs, files in fs.walk("/"):
            for d in dirs:
                out["dirs"].append((root.rstrip("/") + "/" + d).lstrip("/"))
            for f in files:
                path = (root.rstrip("/") + "/" + f).lstrip("/")
                with fs.open(path, "rb") as fh:
                    out["files"][path] = hashlib.sha256(fh.read()).hexdigest()
        out["dirs"].sort()
        return out
    except Exception as e:
        return {"error": str(e)}


def main():
    flash = open(sys.argv[1], "rb").read()
    chip, bl = sys.argv[2], int(sys.argv[3], 0)
    out = {}
    out["bootloader"] = image_problem(chip, flash[bl:TABLE_OFFSET]) or "ok"
    entries, problem = read_table(flash)
    out["table"] = problem or "ok"
    app = boot_partition(flash, entries) if entries else None
    out["boots"] = app["name"] if app else None
    if app:
        out["app"] = image_problem(chip, flash[app["offset"] : app["offset"] + app["size"]]) or "ok"
    else:
        out["app"] = "no app partition"
    places = [(int(a, 0), int(b, 0)) for a, b in zip(sys.argv[4::2], sys.argv[5::2])]
    vfs = next((p for p in entries or [] if p["type"] == 1 and p["name"] == "vfs"), None)
    out["vfs"] = [vfs["offset"], vfs["size"]] if vfs else None
    if vfs:
        places.append((vfs["offset"], vfs["size"]))
    out["fs"] = {"%#x:%#x" % (o, n): fs_dump(flash, o, n) for o, n in places}
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
