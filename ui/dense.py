"""Many overlaid lines drawn as one image: the trend's answer to "50 signals at 30 frames/s".

pyqtgraph hands every line to QPainter as a path; 50 lines × 1,500 pixel columns is ~150,000
segments per frame, 20–30 ms on a desktop CPU before anything else is drawn. :class:`DenseLines`
instead keeps, per line, which rows it covers in each pixel column
(:class:`copilot.pixels.ColumnRuns`) and an ARGB image of all of them
(:class:`copilot.pixels.Canvas`). New samples touch only their columns; scrolling the live
window at constant zoom reuses every column (they sit on a global time grid); a frame is one or
two image blits at whole pixels. Colours follow the trend's neutral shades: still no hue for
normal data (ISA-101).

The owner (:class:`ui.trend.QtTrend`) decides the grid, feeds samples and calls :meth:`commit`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QColor, QImage, QPainter

from copilot.pixels import I64, Canvas, ColumnRuns, Grid, RunSet, argb
from copilot.series import F64


class DenseLines(pg.GraphicsObject):
    """Lines of one plot rasterised per pixel column and blitted (see the module docstring)."""

    def __init__(self, colours: Sequence[QColor]) -> None:
        super().__init__()
        self._colours = [argb(c.red(), c.green(), c.blue()) for c in colours]
        self.grid: Grid | None = None
        self.runs: list[ColumnRuns] = []
        self._set: RunSet | None = None
        self._canvas: Canvas | None = None
        self._image: QImage | None = None
        self._layers: list[tuple[int, list[ColumnRuns]]] = []
        self.first = 0  # lowest column whose runs are computed
        self.right = -1  # highest column painted
        self._dirty: list[I64] = []
        self._bounds = QRectF()
        self.commits = 0  # for tests and benchmarks

    def begin(self, grid: Grid, first: int) -> None:
        """Start over on ``grid``; runs are computed from column ``first`` on."""
        self.grid = grid
        self._set = RunSet(grid, len(self._colours))
        self.runs = self._set.runs
        by_colour: dict[int, list[ColumnRuns]] = {}
        for colour, runs in zip(self._colours, self.runs, strict=True):
            by_colour.setdefault(colour, []).append(runs)
        self._layers = list(by_colour.items())
        self._canvas = Canvas(grid)
        self._image = pg.functions.ndarray_to_qimage(
            self._canvas.pixels, QImage.Format.Format_ARGB32_Premultiplied
        )
        self.first = first
        self.right = first - 1
        self._dirty = []

    def add(self, index: int, t: F64, y: F64, last: int) -> None:
        """Samples of line ``index`` (plotted units, time order); columns up to ``last``."""
        if self.grid is None or t.size == 0:
            return
        first = max(self.first, last - self.grid.capacity + 1)
        columns = self.runs[index].add(t, y, first, last)
        if columns.size:
            self._dirty.append(columns)

    def add_many(self, items: Sequence[tuple[int, F64, F64]], last: int) -> None:
        """``(index, t, y)`` of several lines (each at most once) in one vectorised pass."""
        if self.grid is None or self._set is None or not items:
            return
        first = max(self.first, last - self.grid.capacity + 1)
        columns = self._set.add(items, first, last)
        if columns.size:
            self._dirty.append(columns)

    def commit(self, last: int) -> int:
        """Paint what changed up to column ``last``; schedule the repaint. Columns painted."""
        grid, canvas = self.grid, self._canvas
        if grid is None or canvas is None:
            return 0
        parts = self._dirty
        self._dirty = []
        moved = last > self.right
        if moved:  # columns newly shown: slots last held older columns, repaint them
            parts.append(np.arange(max(self.right + 1, last - grid.capacity + 1), last + 1))
        if not parts:
            return 0
        columns = np.unique(np.concatenate(parts))
        columns = columns[(columns > last - grid.capacity) & (columns <= last)]
        canvas.paint(columns, self._layers)
        self.commits += 1
        top, bottom, dt = grid.top, grid.bottom, grid.dt
        if moved:
            self.right = last
            self.prepareGeometryChange()
            left = max(self.first, last - grid.capacity + 1)
            self._bounds = QRectF(left * dt, bottom, (last + 1 - left) * dt, top - bottom)
            self.update()
        elif columns.size:
            lo, hi = int(columns[0]) - 1, int(columns[-1]) + 2
            self.update(QRectF(lo * dt, bottom, (hi - lo) * dt, top - bottom))
        return int(columns.size)

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt API)
        """The columns held, in view coordinates."""
        return QRectF(self._bounds)

    def paint(self, painter: QPainter, *_: object) -> None:
        """Blit the visible columns at whole pixels (one or two pieces of the column ring)."""
        grid, image = self.grid, self._image
        if grid is None or image is None or self.right < self.first:
            return
        view = self.viewRect()
        if view is None:
            return
        cap = grid.capacity
        lowest = max(self.first, self.right - cap + 1)
        c0 = max(grid.column(view.left()), lowest)
        c1 = min(grid.column(view.right()), self.right)
        if c1 < c0:
            return
        origin = painter.transform().map(QPointF(c0 * grid.dt, grid.top))
        x, y = round(origin.x()), round(origin.y())
        painter.save()
        painter.resetTransform()
        s0 = c0 % cap
        n = c1 - c0 + 1
        head = min(n, cap - s0)
        painter.drawImage(QPointF(x, y), image, QRectF(s0, 0, head, grid.rows))
        if n > head:
            painter.drawImage(QPointF(x + head, y), image, QRectF(0, 0, n - head, grid.rows))
        painter.restore()


__all__ = ["DenseLines"]
