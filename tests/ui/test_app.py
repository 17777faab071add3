"""The station window: navigation, link health, the lost-hub banner, and the launcher."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import psutil
from PySide6.QtGui import QImage

from tests.helpers import Plant, wait_until
from tests.ui.conftest import save_screenshot


def window_for(make_ctx, qtbot):  # type: ignore[no-untyped-def]
    from ui.app import MainWindow

    ctx = make_ctx()
    window = MainWindow(ctx)
    qtbot.addWidget(window)
    window.resize(1600, 1000)
    window.show()
    window.show_view("overview", remember=False)
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
    assert window.status.texts()[4] == "gaps 0 · resyncs 0"
    assert not window.banner.isVisible()


def test_navigation_overview_machine_trend_and_back(live_plant: Plant, make_ctx, qtbot) -> None:
    ctx, window = window_for(make_ctx, qtbot)
    ctx.open_machine.emit("press-01")
    assert window.stack.currentWidget() is window.machine
    ctx.open_trend.emit("press-01", "barrel_temp_c")
    assert window.stack.currentWidget() is window.trend
    window.back()
    assert window.stack.currentWidget() is window.machine
    window.back()
    assert window.stack.currentWidget() is window.overview


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
