"""Shrink screenshots to 8-bit palette PNGs without visible change (no new dependency).

    .venv/bin/python docs/screenshots/optimise.py FILE.png [FILE.png ...]

A station screen is flat greys with antialiased text: a few hundred distinct colours, most of
them rare edge pixels. The 256 most frequent colours become the palette (exact when there are no
more); a rarer colour takes its nearest palette entry. Qt's own 8-bit conversion picks a coarse
palette (panels turn white), so the palette is built here with numpy and only written by Qt.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
from PySide6.QtGui import QGuiApplication, QImage


def optimise(path: str) -> tuple[int, int, int]:
    """Rewrite ``path`` as an indexed PNG; returns (bytes before, bytes after, colours)."""
    before = os.path.getsize(path)
    image = QImage(path).convertToFormat(QImage.Format.Format_RGB32)
    w, h = image.width(), image.height()
    stride = image.bytesPerLine() // 4
    raw = np.frombuffer(image.constBits(), np.uint32, count=stride * h)
    pixels = raw.reshape(h, stride)[:, :w].reshape(-1) & 0xFFFFFF
    colours, inverse, counts = np.unique(pixels, return_inverse=True, return_counts=True)
    keep = np.argsort(counts)[::-1][:256]
    palette = colours[keep]
    rgb = np.stack([(palette >> 16) & 255, (palette >> 8) & 255, palette & 255], 1).astype(int)
    index_of = np.empty(colours.size, np.uint8)
    index_of[keep] = np.arange(keep.size, dtype=np.uint8)
    rare = np.setdiff1d(np.arange(colours.size), keep)
    if rare.size:
        c = colours[rare]
        crgb = np.stack([(c >> 16) & 255, (c >> 8) & 255, c & 255], 1).astype(int)
        d = ((crgb[:, None, :] - rgb[None, :, :]) ** 2).sum(axis=2)
        index_of[rare] = d.argmin(axis=1).astype(np.uint8)
    indices = index_of[inverse].reshape(h, w)
    out = QImage(w, h, QImage.Format.Format_Indexed8)
    out.setColorTable([int(0xFF000000 | int(p)) for p in palette])
    row = out.bytesPerLine()
    buf = np.zeros((h, row), np.uint8)
    buf[:, :w] = indices
    out_bits = out.bits()
    np.frombuffer(out_bits, np.uint8, count=row * h)[:] = buf.reshape(-1)
    if not out.save(path, "PNG", 0):  # quality 0: the strongest zlib compression
        raise OSError(f"could not write {path}")
    return before, os.path.getsize(path), int(colours.size)


def main(argv: list[str]) -> int:
    """Optimise every file named on the command line."""
    _app = QGuiApplication.instance() or QGuiApplication([])
    for path in argv:
        before, after, n = optimise(path)
        print(f"{path}: {before // 1024} → {after // 1024} KiB ({n} colours)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
