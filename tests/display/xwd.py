"""Judge an X screenshot (``xwd -root``): is anything drawn on it? Optionally save it as PNG.

Standard library only, so that the real-window check needs nothing but Xvfb and ``xwd``::

    python tests/display/xwd.py SHOT.xwd [--png OUT.png] [--min-colours 64]

Prints one line (size, distinct colours, share of the screen that is not the most common
colour) and exits 0 when the screen holds at least ``--min-colours`` distinct colours, 1 when it
is blank (a bare X root window has one or two), 2 when the file is not a readable XWD image.
"""

from __future__ import annotations

import argparse
import struct
import sys
import zlib
from collections import Counter
from pathlib import Path

HEADER_FIELDS = 25  # CARD32s in an XWD version 7 header
Z_PIXMAP = 2


class XwdError(ValueError):
    """The file is not an XWD image this reader understands."""


def read_xwd(data: bytes) -> tuple[int, int, list[int]]:
    """Width, height and the 0xRRGGBB value of every pixel of a 24/32-bit ZPixmap XWD dump."""
    if len(data) < HEADER_FIELDS * 4:
        raise XwdError("too short for an XWD header")
    head = struct.unpack(">25I", data[: HEADER_FIELDS * 4])
    header_size, version, pixmap_format, _depth, width, height = head[:6]
    byte_order, bits_per_pixel, bytes_per_line = head[7], head[11], head[12]
    red_mask, green_mask, blue_mask, ncolors = head[14], head[15], head[16], head[19]
    if version != 7 or pixmap_format != Z_PIXMAP or bits_per_pixel not in (24, 32):
        raise XwdError(
            f"unsupported XWD (version {version}, format {pixmap_format}, "
            f"{bits_per_pixel} bits per pixel)"
        )
    start = header_size + ncolors * 12
    if len(data) < start + height * bytes_per_line:
        raise XwdError("truncated pixel data")
    step = bits_per_pixel // 8
    order = "little" if byte_order == 0 else "big"
    shifts = [(mask, (mask & -mask).bit_length() - 1) for mask in (red_mask, green_mask, blue_mask)]
    pixels: list[int] = []
    for y in range(height):
        row = data[start + y * bytes_per_line : start + y * bytes_per_line + width * step]
        if step == 4 and shifts == [(0xFF0000, 16), (0xFF00, 8), (0xFF, 0)]:
            fmt = ("<" if order == "little" else ">") + f"{width}I"
            pixels.extend(v & 0xFFFFFF for v in struct.unpack(fmt, row))
            continue
        for x in range(width):
            v = int.from_bytes(row[x * step : (x + 1) * step], order)
            r, g, b = (((v & m) >> s) & 0xFF for m, s in shifts)
            pixels.append(r << 16 | g << 8 | b)
    return width, height, pixels


def write_png(path: Path, width: int, height: int, pixels: list[int]) -> None:
    """Save 0xRRGGBB pixels as an 8-bit RGB PNG."""
    raw = bytearray()
    for y in range(height):
        raw.append(0)  # filter: none
        for v in pixels[y * width : (y + 1) * width]:
            raw += v.to_bytes(3, "big")

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
    png += chunk(b"IDAT", zlib.compress(bytes(raw), 6)) + chunk(b"IEND", b"")
    path.write_bytes(png)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("shot", type=Path, help="an image made by xwd -root")
    parser.add_argument("--png", type=Path, help="also save it as this PNG file")
    parser.add_argument("--min-colours", type=int, default=64, help="fewer means blank")
    args = parser.parse_args(argv)
    try:
        width, height, pixels = read_xwd(args.shot.read_bytes())
    except (OSError, XwdError) as exc:
        print(f"xwd.py: cannot read {args.shot}: {exc}", file=sys.stderr)
        return 2
    counts = Counter(pixels)
    background = counts.most_common(1)[0][1] if counts else 0
    drawn = 100 * (1 - background / max(1, len(pixels)))
    print(f"{width}x{height}, {len(counts)} distinct colours, {drawn:.0f} % not background")
    if args.png:
        write_png(args.png, width, height, pixels)
    return 0 if len(counts) >= args.min_colours else 1


if __name__ == "__main__":
    sys.exit(main())
