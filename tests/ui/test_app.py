"""The station window: navigation, link health, the lost-hub banner, and the launcher."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import psutil
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication

from copilot.bus import Bus, KeyStore, Security
from copilot.settings import load, with_overrides
from copilot.station import LinkState, Station
from tests.helpers import CountingAgent, Plant, free_hub_address, wait_until
from tests.ui.conftest import save_screenshot


def window_for(make_ctx, qtbot, **station):  # type: ignore[no-untyped-def]
    from ui.app import MainWindow

    ctx = make_ctx(**station)
    window = MainWindow(ctx)
    qtbot.addWidget(window)
    window.resize(1600, 1000)
    window.show()
    window.show_view("overview")
    return ctx, window


def test_status_bar_shows_a_live_secure_link(live_plant: Plant, make_ctx, qtbot) -> None:
    _, window = window_for(make_ctx, qtbot)
    qtbot.waitUntil(lambda: "link live" in window.status.texts()[0], timeout=10_000)
    texts = window.status.texts()
    assert texts[1] == "Secure (CurveZMQ)"
    qtbot.waitUntil(
        lambda: (
            "values/s" in window.status.texts()[3]
            and not window.status.texts()[3].startswith("0 msg/s")
        ),
        timeout=10_000,
    )
    assert window.status.texts()[4].startswith("gaps 0 · resyncs 0 · dropped 0")
    assert not window.banner.isVisible()


def test_status_bar_shows_what_the_hub_dropped(live_plant: Plant, make_ctx, qtbot) -> None:
    from copilot.protocol import Birth, MachineInfo
    from tests.helpers import RawPeer

    _, window = window_for(make_ctx, qtbot, hub_status_every_s=1)
    qtbot.waitUntil(lambda: "hub dropped 0" in window.status.texts()[4], timeout=15_000)
    intruder = RawPeer(live_plant.security("station"), live_plant.address)
    try:  # a station key may not announce a machine: refused as "role", counted by the hub
        birth = Birth(machine=MachineInfo(id="fake-1", name="Fake", kind="press"), tags=[])
        intruder.send(birth, src="fake-1", epoch=time.time_ns(), seq=0)
        qtbot.waitUntil(lambda: "hub dropped 1" in window.status.texts()[4], timeout=15_000)
    finally:
        intruder.close()
    assert "role 1" in window.status.health.toolTip()


def test_navigation_overview_machine_trend_and_back(live_plant: Plant, make_ctx, qtbot) -> None:
    ctx, window = window_for(make_ctx, qtbot)
    # One way back, up the display hierarchy, its button naming where it goes.
    buttons = [a.text() for a in window.toolbar.actions() if a.isVisible() and a.text()]
    assert not any(text.startswith("◀") for text in buttons), "no Back on the overview"
    assert "⌂ Overview" not in buttons
    ctx.open_machine.emit("press-01")
    assert window.stack.currentWidget() is window.machine
    assert window.back_action.isVisible() and window.back_action.text() == "◀ Plant overview"
    ctx.open_trend.emit("press-01", "barrel_temp_c")
    assert window.stack.currentWidget() is window.trend
    assert window.back_action.text() == "◀ Press 1"
    window.back()
    assert window.stack.currentWidget() is window.machine
    assert window.machine.current_machine == "press-01"
    window.back()
    assert window.stack.currentWidget() is window.overview
    assert not window.back_action.isVisible()
    # A trend opened from the overview (a tile's sparkline) goes up to its machine, not back.
    ctx.open_trend.emit("press-02", "barrel_temp_c")
    window.back()
    assert window.stack.currentWidget() is window.machine
    assert window.machine.current_machine == "press-02"
    # Home (or F1) goes to the plant overview from anywhere.
    ctx.open_trend.emit("press-02", "barrel_temp_c")
    window.home_action.trigger()
    assert window.stack.currentWidget() is window.overview
    assert [k.toString() for k in window.home_action.shortcuts()] == ["Home", "F1"]


def test_lost_hub_shows_a_banner_that_cannot_be_missed(live_plant: Plant, make_ctx, qtbot) -> None:
    _, window = window_for(make_ctx, qtbot)
    hub = live_plant.procs[0]
    hub.send_signal(signal.SIGKILL)
    hub.wait(5)
    qtbot.waitUntil(window.banner.isVisible, timeout=8_000)
    assert window.banner.text().startswith("⚠  Data is stale — hub unreachable since ")
    assert window.banner.height() >= 40
    qtbot.waitUntil(lambda: "link lost" in window.status.texts()[0], timeout=2_000)
    save_screenshot(window, "lost_hub")


def _run(args: list[str], env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "copilot", *args],
        env=env,
        timeout=timeout,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )


def test_no_display_is_one_clear_sentence(plant: Plant) -> None:
    env = {
        k: v
        for k, v in plant.env.items()
        if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")
    }
    result = _run(["station", "--hub", plant.address], env)
    assert result.returncode == 1
    assert "No display to open the station window on" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("size", ["1280x800", "1920x1080"])
def test_screenshot_at_a_panel_size(plant: Plant, tmp_path: Path, size: str) -> None:
    """``--offscreen --size WxH``: the window fills a screen of that size, and so does the PNG."""
    from PySide6.QtGui import QImage

    shot = tmp_path / f"shot-{size}.png"
    env = {k: v for k, v in plant.env.items() if k != "QT_QPA_PLATFORM"}
    args = ["station", "--hub", plant.address, "--offscreen", "--size", size]
    result = _run([*args, "--screenshot", str(shot), "--quit-after", "1"], env)
    assert result.returncode == 0, result.stderr
    image = QImage(str(shot))
    assert f"{image.width()}x{image.height()}" == size


def test_demo_renders_a_screenshot_offscreen_and_leaves_nothing_behind(
    plant: Plant, tmp_path: Path
) -> None:
    shot = tmp_path / "overview.png"
    env = {k: v for k, v in plant.env.items() if k != "QT_QPA_PLATFORM"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "copilot",
            "demo",
            "--bind",
            plant.address,
            "--offscreen",
            "--screenshot",
            str(shot),
            "--quit-after",
            "8",
        ],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    children: list[psutil.Process] = []
    wait_until(
        lambda: (
            children.extend(psutil.Process(proc.pid).children(recursive=True))
            or children
            or proc.poll() is not None
        ),
        20,
        "the demo's hub to start",
    )
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-3000:]
    image = QImage(str(shot))
    assert image.width() >= 1280 and image.height() >= 720
    _, alive = psutil.wait_procs(children, timeout=2)
    assert not alive


# -- trust states: a hub never reached, and why -------------------------------------------------


@pytest.fixture
def bare_window(qtbot):  # type: ignore[no-untyped-def]
    """A window on a station that is started but not waited for (it may never be live)."""
    from ui.app import MainWindow
    from ui.context import StationContext

    made: list[tuple[Station, Bus, StationContext]] = []

    def make(security: Security, address: str, **station: object) -> MainWindow:
        settings = with_overrides(load(), {"station": dict(station)})
        bus = Bus(security)
        st = Station(bus, address, settings.station)
        ctx = StationContext(st, settings, insecure=security.insecure)
        window = MainWindow(ctx)
        qtbot.addWidget(window)
        st.start()
        ctx.start()
        made.append((st, bus, ctx))
        window.resize(1280, 800)
        window.show()
        window.show_view("overview")
        return window

    try:
        yield make
    finally:
        for st, bus, ctx in made:
            ctx.stop()
            st.stop()
            bus.close()


def _clock(t: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(t))


def test_a_hub_where_nothing_listens_is_named_in_the_banner(plant: Plant, bare_window, qtbot):
    window = bare_window(plant.security("station"), free_hub_address())
    assert not window.banner.isVisible()  # not at once: the first seconds are a normal join
    qtbot.waitUntil(window.banner.isVisible, timeout=10_000)
    headline = window.banner.headline
    assert headline.startswith("⚠  Hub tcp://127.0.0.1:")
    assert f"not reached since {_clock(window.ctx.created)}: nothing answers" in headline
    assert "Is the hub running" in window.banner.text()
    assert window.banner.height() >= 60  # two lines at arm's length
    assert window.status.texts()[3] == "— msg/s · — values/s"
    assert window.status.texts()[0].endswith("· link not reached")
    save_screenshot(window, "never_reached_nothing_answers")


def test_a_hub_that_refuses_the_key_is_named_in_the_banner(
    plant: Plant, bare_window, qtbot, tmp_path: Path
):
    plant.hub()
    remote = KeyStore(tmp_path / "remote")  # keys made on another host, never admitted
    remote.init()
    shutil.copy(plant.data_dir / "keys" / "hub.key", remote.dir / "hub.key")
    window = bare_window(Security(insecure=False, keys=remote, identity="station"), plant.address)
    qtbot.waitUntil(lambda: "refuses this station's key" in window.banner.headline, timeout=10_000)
    assert window.banner.isVisible()
    assert "not reached since" in window.banner.headline
    assert "copilot keys allow" in window.banner.text()
    save_screenshot(window, "never_reached_key_refused")


def test_a_wrong_hub_key_is_named_in_the_banner(plant: Plant, bare_window, qtbot, tmp_path):
    plant.hub()
    remote = KeyStore(tmp_path / "remote")  # pins another hub's public key
    remote.init()
    KeyStore(plant.data_dir).allow(remote.dir / "station.key", "remote", "station")
    window = bare_window(Security(insecure=False, keys=remote, identity="station"), plant.address)
    qtbot.waitUntil(lambda: "handshake fails" in window.banner.headline, timeout=15_000)
    assert "wrong hub key" in window.banner.headline
    assert window.banner.isVisible()


def test_lost_hub_banner_says_when_the_data_stopped(live_plant: Plant, make_ctx, qtbot) -> None:
    ctx, window = window_for(make_ctx, qtbot)
    qtbot.waitUntil(lambda: window.banner.watch.last_data > 0, timeout=5_000)
    hub = live_plant.procs[0]
    hub.send_signal(signal.SIGKILL)
    hub.wait(5)
    killed = time.time()
    qtbot.waitUntil(window.banner.isVisible, timeout=8_000)
    stopped = window.banner.watch.last_data
    # The data stopped when the hub died, not when the station noticed (seconds later).
    assert killed - 1.0 <= stopped <= killed + 0.5
    assert ctx.station.state_since - stopped > 1.0
    assert f"since {_clock(stopped)}" in window.banner.headline
    # The tiles say the same moment (their newest sample, a fraction of a second before).
    agree = {f"No data since {_clock(stopped)}", f"No data since {_clock(stopped - 1)}"}
    qtbot.waitUntil(
        lambda: {t.stale_text() for t in window.overview.tiles.values()} <= agree, timeout=5_000
    )


# -- theme, kiosk, window size --------------------------------------------------------------------


def _colours(widget) -> Counter[str]:  # type: ignore[no-untyped-def]
    image = widget.grab().toImage()
    step = 7
    return Counter(
        image.pixelColor(x, y).name()
        for x in range(0, image.width(), step)
        for y in range(0, image.height(), step)
    )


def _theme_share(widget, theme) -> float:  # type: ignore[no-untyped-def]
    """Share of the widget's pixels in the theme's surface colours."""
    colours = _colours(widget)
    surfaces = {theme.background, theme.panel, theme.panel_alt, theme.normal_band}
    return sum(n for c, n in colours.items() if c in surfaces) / max(1, colours.total())


def test_ctrl_t_switches_every_open_view_and_the_trend(live_plant: Plant, make_ctx, qtbot):
    from ui.theme import DARK, LIGHT

    ctx, window = window_for(make_ctx, qtbot)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5_000)
    ctx.open_machine.emit("press-01")
    ctx.open_trend.emit("press-01", "barrel_temp_c")
    qtbot.waitUntil(lambda: window.trend.point_counts().get("press-01/barrel_temp_c", 0) > 0)
    assert window.trend.graphics.backgroundBrush().color().name() == LIGHT.panel

    qtbot.keyClick(window, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)
    assert ctx.theme is DARK
    assert window.trend.graphics.backgroundBrush().color().name() == DARK.panel
    for spec in ("overview", "machine:press-01", "trend:press-01/barrel_temp_c"):
        window.show_view(spec)
        view = window.stack.currentWidget()
        QApplication.processEvents()
        assert _theme_share(view, DARK) > 0.5, spec
        assert _theme_share(view, LIGHT) < 0.02, spec
    # Trends embedded in the machine view follow too (they are QtTrends on the same context).
    from ui.trend import QtTrend

    for trend in window.findChildren(QtTrend):
        assert trend.graphics.backgroundBrush().color().name() == DARK.panel
    save_screenshot(window, "after_ctrl_t")

    qtbot.keyClick(window, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)
    assert ctx.theme is LIGHT
    assert _theme_share(window.stack.currentWidget(), LIGHT) > 0.5


def test_kiosk_locks_full_screen_theme_and_close(live_plant: Plant, make_ctx, qtbot) -> None:
    from ui.app import MainWindow

    ctx = make_ctx(kiosk=True)
    window = MainWindow(ctx)
    qtbot.addWidget(window)
    window.showFullScreen()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5_000)
    theme = ctx.theme
    qtbot.keyClick(window, Qt.Key.Key_F11)
    qtbot.keyClick(window, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(window, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
    window.toggle_fullscreen()
    window.toggle_theme()
    assert window.isFullScreen()
    assert ctx.theme is theme
    assert not window.close()
    assert window.isVisible()
    for action in (window.theme_action, window.fullscreen_action, window.quit_action):
        assert not action.isEnabled() and not action.isVisible()
    window.showNormal()  # as a window manager might: the kiosk goes back to full screen
    qtbot.waitUntil(window.isFullScreen, timeout=2_000)
    window.shutdown()
    assert not window.isVisible()


def test_not_kiosk_full_screen_and_theme_work(live_plant: Plant, make_ctx, qtbot) -> None:
    ctx, window = window_for(make_ctx, qtbot)
    window.toggle_fullscreen()
    qtbot.waitUntil(window.isFullScreen, timeout=2_000)
    window.toggle_fullscreen()
    qtbot.waitUntil(lambda: not window.isFullScreen(), timeout=2_000)
    theme = ctx.theme
    window.toggle_theme()
    assert ctx.theme is not theme
    assert window.close()


# -- values/s ------------------------------------------------------------------------------------


def test_values_per_second_match_the_plant(plant: Plant, qtbot) -> None:
    """A counting agent sends 2 values every 50 ms: the status bar says the rate it really sent.

    The station's own figure averaged 16 s including the time before any data, so it read
    20–32 for 40 values/s in the first seconds; this reads within seconds of going live.
    """
    from ui.app import MainWindow
    from ui.context import StationContext

    plant.hub()
    agent = CountingAgent(plant.data_dir, plant.address, period_s=0.05)
    settings = with_overrides(load(), {})
    bus = Bus(plant.security("station"))
    st = Station(bus, plant.address, settings.station)
    ctx = StationContext(st, settings, insecure=False)
    window = MainWindow(ctx)
    qtbot.addWidget(window)
    try:
        st.start()
        ctx.start()
        window.show()
        qtbot.waitUntil(lambda: st.state == LinkState.LIVE, timeout=15_000)
        qtbot.waitUntil(lambda: window.status.values_per_s() is not None, timeout=5_000)
        # What the agent really sent over the same seconds the status bar measures.
        t0, c0 = time.monotonic(), agent.count
        qtbot.waitUntil(lambda: time.monotonic() - t0 >= 4.0, timeout=6_000)
        qtbot.waitUntil(lambda: window.status.meter._points[-1][0] > t0 + 3.5, timeout=3_000)
        sent = 2 * (agent.count - c0) / (time.monotonic() - t0)
        shown = window.status.values_per_s()
        assert shown is not None
        assert abs(shown - sent) <= max(0.12 * sent, 3.0), (shown, sent)
        text = window.status.texts()[3]
        assert text.endswith(f"{shown:,.0f} values/s")
    finally:
        ctx.stop()
        st.stop()
        bus.close()
        agent.close()


def test_link_watch_names_each_reason_for_a_hub_never_reached() -> None:
    """The reasons the window can tell apart, from the station's stats and (once the station
    core gives it) the cause carried by LinkChanged."""
    from types import SimpleNamespace

    from copilot.station import StationStats
    from ui.app import LinkWatch

    stats = StationStats()
    station = SimpleNamespace(
        state=LinkState.SYNCING,
        state_since=0.0,
        hub="tcp://h:1",
        stats=stats,
        store=SimpleNamespace(samples=0),
    )
    watch = LinkWatch(SimpleNamespace(station=station, created=1000.0))  # type: ignore[arg-type]
    assert watch.problem(1001.0) is None  # a normal join takes a moment
    assert "nothing answers" in watch.problem(1010.0)[0]
    stats.handshake_failures, stats.last_handshake_failure = 1, "station: the hub refused this key"
    assert "refuses this station's key" in watch.problem(1001.0)[0]
    stats.last_handshake_failure = "station: security handshake failed: wrong hub key"
    assert "wrong hub key" in watch.problem(1010.0)[0]
    stats.handshake_failures, stats.last_handshake_failure = 0, ""
    watch.on_link_changed(SimpleNamespace(cause="version_mismatch"))  # type: ignore[arg-type]
    headline, advice = watch.problem(1010.0)
    assert "another protocol version" in headline and "same copilot version" in advice
    station.state = LinkState.LIVE
    watch.observe(1011.0)
    assert watch.ever_live and watch.problem(1012.0) is None
    station.state, station.store.samples = LinkState.LOST, 5
    watch.observe(1013.0)  # data seen at 1013, then nothing
    station.state_since = 1016.0
    assert f"since {_clock(1013.0)}" in watch.problem(1017.0)[0]


def test_a_long_view_title_gives_way_before_the_top_bars_buttons(
    live_plant: Plant, make_ctx, qtbot
) -> None:  # type: ignore[no-untyped-def]
    """At 1280 px a trend's title squeezed the bar's buttons to "⚠ ...ms" and "Si...ce"."""
    from PySide6.QtWidgets import QToolButton

    ctx, window = window_for(make_ctx, qtbot)
    window.resize(1280, 800)
    ctx.open_trend.emit("press-02", "barrel_temp_c")
    window.title.setText("Trend · press-02 / barrel_temp_c of the second injection unit")
    qtbot.waitUntil(lambda: window.toolbar.width() <= 1280)
    QApplication.processEvents()
    buttons = [
        b
        for b in window.toolbar.findChildren(QToolButton)
        if b.isVisible() and b.defaultAction() is not None and b.text()
    ]
    assert len(buttons) >= 4
    for b in buttons:  # every button whole: as wide as it asks to be
        assert b.width() >= b.sizeHint().width(), (b.text(), b.width(), b.sizeHint().width())
    assert window.title.width() < window.title.fontMetrics().horizontalAdvance(
        window.title.text()
    ), "the title was cut instead"
    assert window.title.toolTip() == window.title.text()
