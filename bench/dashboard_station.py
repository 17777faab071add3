"""The station side of the dashboard benchmark, in its own process (so RSS and CPU are its own).

``python -m bench.dashboard_station --hub ADDR --mode ours|naive [--signals 50]``

* ``ours``: the real station core + :class:`ui.context.StationContext` + :class:`ui.trend.QtTrend`
  (overlaid mode, 10-minute window) — or, if that cannot be imported or built, a minimal view
  written here with the same discipline (``--view`` in the ready line says which).
* ``naive``: the same station core feed, but every incoming DATA message of a shown signal is
  queued to the GUI thread, which ``np.roll``s a 6,000-point buffer and calls ``setData`` on a
  default :class:`pyqtgraph.PlotDataItem` (autorange on).

Instruments (all on the GUI thread, ``time.time()`` so they compare with the sim's stamps):

* every paint of any pyqtgraph view ends in a wrapped ``GraphicsView.paintEvent``; the frame
  ends when Qt has finished that repaint pass (a zero-timer posted from the paint); the
  exposed area of each paint is summed (``paint_px``) and paints of (nearly) the whole view
  counted (``full_paints``), to tell a narrow strip repaint from a full one;
* ours: frame = the ``ctx.frame`` tick on which the view took new data → end of the paint
  pass that shows it (ticks with nothing to draw paint nothing);
  naive: frame = first ``setData`` since the last paint → end of the paint pass;
* latency: each sample first handed to a curve (ours: seen through ``store.window``, naive: the
  message's samples) → end of the first paint pass after it, against the sample's source time;
  gap markers (NaN at the time a machine went quiet) are not samples and are left out.

Once a second a JSON line goes to stdout: ``{"type": "stats", ...}`` with the raw frame and
latency lists of that second. Runs until SIGTERM (or ``--duration``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

WINDOW_S = 600.0
NAIVE_POINTS = 6000


def _out(obj: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def pick_signals(store, count: int) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """The first key (overview) tag of every machine, then the second ones... until ``count``."""
    machines = store.machines()
    ranked = {
        m.info.id: [t for t in m.tags if t.key]
        + [t for t in m.tags if not t.key and t.type == "float"]
        for m in machines
    }
    picked: list[tuple[str, str]] = []
    depth = 0
    while len(picked) < count and any(len(tags) > depth for tags in ranked.values()):
        for mid, tags in ranked.items():
            if len(tags) > depth and len(picked) < count:
                picked.append((mid, tags[depth].name))
        depth += 1
    return picked


class Meter:
    """Paint, frame and latency bookkeeping."""

    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        self._timer = QTimer
        self.paints = 0
        self.paint_s = 0.0  # time spent in paint events
        self.paint_px = 0.0  # pixels of the exposed regions' bounding boxes, summed
        self.full_paints = 0  # paints that exposed (nearly) the whole view
        self.passes = 0
        self.ticks = 0
        self.pending_since: float | None = None  # first unpainted tick / change
        self.pending_ts: list[np.ndarray] = []  # sample times handed to curves, not yet painted
        self.last_paint = 0.0
        self.finalize_queued = False
        self.frames: list[float] = []
        self.frames_cpu: list[float] = []  # the GUI thread's CPU time in each frame
        self.pending_cpu = 0.0
        self.paint_cpu = 0.0  # GUI CPU in paint events since the frame began
        self.frames_paint_cpu: list[float] = []
        self.lat: list[float] = []
        self.tick_gap_max = 0.0
        self._last_tick = 0.0
        self.tick_time = 0.0
        self.tick_cpu = 0.0
        self.last_paint_cpu = 0.0

    def tick(self, now: float) -> None:
        self.ticks += 1
        if self._last_tick:
            self.tick_gap_max = max(self.tick_gap_max, now - self._last_tick)
        self._last_tick = now
        self.tick_time = now
        self.tick_cpu = time.thread_time()

    def changed(self, ts: np.ndarray) -> None:
        # A frame is timed from the tick on which the view took new data to the end of the
        # paint that shows it; ticks on which the view had nothing to do paint nothing.
        if ts.size:
            self.pending_ts.append(ts)
            if self.pending_since is None:
                self.pending_since = self.tick_time or time.time()
                self.pending_cpu = self.tick_cpu
                self.paint_cpu = 0.0

    def painted(self) -> None:
        self.paints += 1
        self.last_paint = time.time()
        self.last_paint_cpu = time.thread_time()
        if not self.finalize_queued:
            self.finalize_queued = True
            self._timer.singleShot(0, self._finalize)

    def _finalize(self) -> None:
        self.finalize_queued = False
        self.passes += 1
        end = self.last_paint
        if self.pending_since is not None and self.pending_since <= end:
            self.frames.append((end - self.pending_since) * 1000)
            self.frames_cpu.append((self.last_paint_cpu - self.pending_cpu) * 1000)
            self.frames_paint_cpu.append(self.paint_cpu * 1000)
            self.pending_since = None
        if self.pending_ts and self.pending_since is None:
            ts = np.concatenate(self.pending_ts)
            self.pending_ts = []
            self.lat.extend(((end - ts) * 1000).tolist())

    def take(self) -> tuple[list[float], list[float], list[float], list[float]]:
        """Frames, latencies, each frame's GUI CPU and its paint CPU since the last take."""
        out = self.frames, self.lat, self.frames_cpu, self.frames_paint_cpu
        self.frames, self.lat, self.frames_cpu, self.frames_paint_cpu = [], [], [], []
        return out


def hook_paint(meter: Meter) -> None:
    import pyqtgraph as pg

    original = pg.GraphicsView.paintEvent

    def paintEvent(self, ev):  # type: ignore[no-untyped-def]  # noqa: N802 (Qt API)
        start = time.perf_counter()
        c0 = time.thread_time()
        result = original(self, ev)
        meter.paint_s += time.perf_counter() - start
        meter.paint_cpu += time.thread_time() - c0
        exposed = ev.region().boundingRect()
        area = exposed.width() * exposed.height()
        meter.paint_px += area
        if area >= 0.9 * self.viewport().width() * self.viewport().height():
            meter.full_paints += 1
        meter.painted()
        return result

    pg.GraphicsView.paintEvent = paintEvent  # type: ignore[method-assign]


class MinimalTrend:
    """Fallback "ours": PlotCurveItem per signal, explicit X range, one setData per frame."""

    def __init__(self, ctx, signals: list[tuple[str, str]]) -> None:  # type: ignore[no-untyped-def]
        import pyqtgraph as pg

        self.ctx = ctx
        self.widget = pg.PlotWidget()
        self.plot = self.widget.getPlotItem()
        self.plot.setClipToView(True)
        self.plot.setDownsampling(auto=True, mode="peak")
        self.plot.getViewBox().disableAutoRange()
        self.plot.setYRange(0, 100)
        self.curves = []
        self.signals = signals
        self.seen: list[float] = [0.0] * len(signals)
        for _ in signals:
            c = pg.PlotCurveItem(pen=pg.mkPen(width=1), antialias=False, skipFiniteCheck=True)
            self.plot.addItem(c)
            self.curves.append(c)
        ctx.frame.connect(self._frame)

    def _frame(self, now: float) -> None:
        for i, (m, tag) in enumerate(self.signals):
            t, v = self.ctx.store.window(m, tag, now - WINDOW_S)
            if t.size and t[-1] != self.seen[i]:
                self.seen[i] = float(t[-1])
                self.curves[i].setData(t, v, skipFiniteCheck=False, connect="finite")
        self.plot.setXRange(now - WINDOW_S, now, padding=0)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hub", required=True)
    parser.add_argument("--mode", choices=["ours", "naive", "minimal"], default="ours")
    parser.add_argument("--signals", type=int, default=50)
    parser.add_argument("--duration", type=float, default=0.0)
    parser.add_argument("--ring", type=int, default=6000)
    parser.add_argument("--screenshot", help="save a PNG of the window when --duration ends")
    args = parser.parse_args()

    import pyqtgraph as pg
    from PySide6.QtCore import QObject, Qt, QTimer, Signal
    from PySide6.QtWidgets import QApplication, QVBoxLayout, QWidget

    from copilot.bus import Bus, Security
    from copilot.proc import stop_on_signals
    from copilot.protocol.columns import seconds, unpack
    from copilot.settings import Settings, StationSettings
    from copilot.station import LinkState, Station

    app = QApplication.instance() or QApplication(sys.argv[:1])
    stop_on_signals(app.quit)
    # Let Python see SIGTERM while Qt's loop runs.
    keepalive = QTimer()
    keepalive.start(200)
    keepalive.timeout.connect(lambda: None)

    data = Path(os.environ["COPILOT_DATA_DIR"])
    st_settings = StationSettings(ring_samples=args.ring)
    settings = Settings(station=st_settings)
    bus = Bus(Security.from_data_path(data, "station", False))
    station = Station(bus, args.hub, st_settings)
    station.start()
    deadline = time.monotonic() + 60
    signals: list[tuple[str, str]] = []
    while time.monotonic() < deadline:
        if station.state == LinkState.LIVE:
            signals = pick_signals(station.store, args.signals)
            if len(signals) >= args.signals:
                break
        time.sleep(0.2)
    if not signals:
        _out({"type": "error", "error": "no machines"})
        return 1

    meter = Meter()
    hook_paint(meter)
    window = QWidget()
    layout = QVBoxLayout(window)
    view_name = ""
    ctx = None
    naive_state: dict[str, object] = {}

    if args.mode in ("ours", "minimal"):
        from ui.context import StationContext

        ctx = StationContext(station, settings, False)
        ctx.frame.connect(meter.tick)  # before the view: the tick time is taken first
        orig_window = station.store.window
        fetched: dict[tuple[str, str], float] = {}

        def seen(machine: str, tag: str, t: np.ndarray, v: np.ndarray) -> None:
            # The benchmark's own cost on the GUI thread: kept to a few numpy calls (the view
            # asks for the samples after the last it had, so usually all of them are new).
            if t.size:
                key = (machine, tag)
                last = fetched.get(key, 0.0)
                if t[-1] > last:
                    fetched[key] = float(t[-1])
                    if t[0] > last:
                        new_t, new_v = t, v
                    else:
                        new = int(np.searchsorted(t, last, side="right"))
                        new_t, new_v = t[new:], v[new:]
                    # Gap markers (NaN, stamped with when a machine went quiet) are not
                    # published samples: they have no publish-to-paint latency.
                    finite = np.isfinite(new_v)
                    meter.changed(new_t if finite.all() else new_t[finite])

        def window_fn(machine, tag, since=None):  # type: ignore[no-untyped-def]
            t, v = orig_window(machine, tag, since)
            seen(machine, tag, t, v)
            return t, v

        station.store.window = window_fn  # type: ignore[method-assign]
        orig_windows = getattr(station.store, "windows", None)
        if orig_windows is not None:  # several windows under one hold of the lock

            def windows_fn(wanted):  # type: ignore[no-untyped-def]
                got = orig_windows(wanted)
                for (machine, tag, _since), (t, v) in zip(wanted, got, strict=True):
                    seen(machine, tag, t, v)
                return got

            station.store.windows = windows_fn
        view = None
        if args.mode == "ours":
            try:
                from ui.trend import QtTrend

                view = QtTrend(ctx)
                # One rebuild with all 50 signals: the end state of show_signals + 49
                # add_signal, without 49 intermediate rebuilds (those crash PySide6 6.12 with
                # "bool_dealloc" after a few dozen rebuilds — a refcount bug, reported apart).
                from ui.trend import _Signal

                view.set_stacked(False)
                view._signals = [_Signal(m, tag, view._spec(m, tag)) for m, tag in signals]
                view._rebuild()
                view._request_history(view._signals, time.time() - WINDOW_S)
                view.set_window(WINDOW_S)
                layout.addWidget(view)
                view_name = "ui.trend.QtTrend (overlaid, 10 min)"
            except Exception as exc:
                print(f"QtTrend unavailable: {exc!r}", file=sys.stderr)
                view = None
        if view is None:
            mini = MinimalTrend(ctx, signals)
            layout.addWidget(mini.widget)
            view_name = "bench.dashboard_station.MinimalTrend (fallback)"
        ctx.start()
    else:
        index = {s: i for i, s in enumerate(signals)}
        aliases: dict[str, tuple[int, int]] = {}  # machine -> (alias, curve index)
        for m in station.store.machines():
            for spec in m.tags:
                i = index.get((m.info.id, spec.name))
                if i is not None:
                    aliases[m.info.id] = (spec.alias, i)
        plot_widget = pg.PlotWidget()
        layout.addWidget(plot_widget)
        curves = [plot_widget.plot() for _ in signals]  # PlotDataItem defaults
        tbufs = [np.zeros(NAIVE_POINTS) for _ in signals]
        vbufs = [np.zeros(NAIVE_POINTS) for _ in signals]
        counts = [0] * len(signals)
        queue = {"emitted": 0, "handled": 0}

        class Bridge(QObject):
            sample = Signal(int, object, object)

        bridge = Bridge()

        def on_sample(i: int, ts: np.ndarray, vs: np.ndarray) -> None:
            queue["handled"] += 1
            n = ts.size
            tb = np.roll(tbufs[i], -n)
            vb = np.roll(vbufs[i], -n)
            tb[-n:] = ts
            vb[-n:] = vs
            tbufs[i], vbufs[i] = tb, vb
            counts[i] = min(NAIVE_POINTS, counts[i] + n)
            c = counts[i]
            if meter.pending_since is None:
                meter.pending_since = time.time()
            curves[i].setData(tb[-c:], vb[-c:])
            meter.changed(ts)

        bridge.sample.connect(on_sample, Qt.ConnectionType.QueuedConnection)
        apply = station.store.apply_data

        def timed_apply(machine, epoch, body):  # type: ignore[no-untyped-def]
            ok = apply(machine, epoch, body)
            hit = aliases.get(machine)
            if ok and hit is not None:
                a, v, ts_ns, _q = unpack(body)
                sel = a == hit[0]
                if sel.any():
                    queue["emitted"] += 1
                    bridge.sample.emit(hit[1], seconds(ts_ns[sel]), v[sel].astype(np.float64))
            return ok

        station.store.apply_data = timed_apply  # type: ignore[method-assign]
        naive_state["queue"] = queue
        view_name = "naive PlotDataItem defaults, setData per message, np.roll, autorange"

    window.resize(1600, 1000)
    window.show()
    _out(
        {
            "type": "ready",
            "pid": os.getpid(),
            "view": view_name,
            "signals": [f"{m}/{t}" for m, t in signals],
        }
    )

    def report() -> None:
        frames, lat, frames_cpu, paint_cpu = meter.take()
        stats = station.stats
        q = naive_state.get("queue")
        _out(
            {
                "type": "stats",
                "wall": time.time(),
                "frames": [round(f, 3) for f in frames],
                "frames_cpu": [round(f, 3) for f in frames_cpu],
                "frames_paint_cpu": [round(f, 3) for f in paint_cpu],
                "lat": [round(x, 2) for x in lat],
                "paints": meter.paints,
                "paint_s": round(meter.paint_s, 4),
                "paint_px": round(meter.paint_px),
                "full_paints": meter.full_paints,
                "passes": meter.passes,
                "ticks": meter.ticks,
                "tick_gap_max_ms": round(meter.tick_gap_max * 1000, 1),
                "gaps": stats.gaps,
                "resyncs": stats.resyncs,
                "samples": stats.samples,
                "rate_samples_s": stats.rate_samples_s,
                "core_latency_ms": stats.latency_ms,
                "backlog": (q["emitted"] - q["handled"]) if q else 0,  # type: ignore[index]
                "state": station.state.value,
            }
        )
        meter.tick_gap_max = 0.0

    reporter = QTimer()
    reporter.timeout.connect(report)
    reporter.start(1000)

    def finish() -> None:
        if args.screenshot:
            window.grab().save(args.screenshot, "PNG")
        app.quit()

    if args.duration:
        QTimer.singleShot(int(args.duration * 1000), finish)
    try:
        app.exec()
    finally:
        if ctx is not None:
            ctx.stop()
        station.stop()
        bus.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
