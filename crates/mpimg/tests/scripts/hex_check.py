"""Independent Intel HEX reader for mpimg's tests, built on PyPI intelhex.

  hex_check.py HEXFILE BINFILE
      Read HEXFILE, write its bytes from the lowest to the highest address to
      BINFILE (gaps 0xFF), and print JSON: the lowest address and the
      contiguous segments [start, end) intelhex found.
"""

import json
import sys

from intelhex import IntelHex


def main(hexfile, binfile):
    ih = IntelHex(hexfile)
    ih.padding = 0xFF
    ih.tobinfile(binfile, start=ih.minaddr(), end=ih.maxaddr())
    print(json.dumps({"minaddr": ih.minaddr(), "segments": [list(s) for s in ih.segments()]}))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: hex_check.py HEXFILE BINFILE")
    main(sys.argv[1], sys.argv[2])
