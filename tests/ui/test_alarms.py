"""The alarm views against a real hub process: banner, table acts, shelving, flood, KPIs.

A real ``copilot hub`` runs the alarm engine (start-up settling off); a small in-process agent
drives one machine's values so each test decides which limits are crossed. The window is the
real :class:`ui.app.MainWindow` at 1280×800; every assertion is on what it shows, checked
against the station's alarms or the hub's own journal.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import QPoint, Qt

from copilot.alarms import journal_path, open_journal, read_occurrences
from copilot.alarms.board import AlarmFilter, banner_facts, state_text
from copilot.alarms.kpi import compute_kpis, figure_rows
from copilot.protocol import AlarmStatus
from copilot.station import Station
from tests.helpers import DrivenAgent, Plant, add_person, hub_limits, login
from tests.ui.conftest import save_screenshot
from ui.app import MainWindow

MACHINE = "mixer-1"
HI0 = f"{MACHINE}/temp_0/hi"
HI1 = f"{MACHINE}/temp_1/hi"
HIHI1 = f"{MACHINE}/temp_1/hihi"


@pytest.fixture
def hub(plant: Plant) -> Plant:
    add_person(plant.data_dir, "ana", "Operator", "1111", "Ana Lima")
    plant.hub(env=hub_limits(alarm_settle_s=0))
    return plant


@pytest.fixture
def agent(hub: Plant) -> Iterator[DrivenAgent]:
    a = DrivenAgent(hub, MACHINE, area="Mixing", line="line-1")
    yield a
    a.close()


@pytest.fixture
def window(agent: DrivenAgent, make_ctx, qtbot) -> MainWindow:  # type: ignore[no-untyped-def]
    ctx = make_ctx(wait_machines=1)
    w = MainWindow(ctx)
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    qtbot.waitExposed(w)
    login(ctx.station, "ana", "1111")  # the hub records who acts: the person logged in here
    return w


def _alarms(window: MainWindow) -> dict[str, AlarmStatus]:
    station: Station = window.ctx.station
    return station.alarms.all()


def _state(window: MainWindow, alarm_id: str) -> str:
    s = _alarms(window).get(alarm_id)
    return "" if s is None else s.state


def _tap(qtbot, widget, pos: QPoint | None = None) -> None:  # type: ignore[no-untyped-def]
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton, pos=pos or widget.rect().center())


def _row_of(window: MainWindow, alarm_id: str) -> int:
    return [s.id for s in window.alarms.rows()].index(alarm_id)


def test_banner_leads_with_the_most_urgent_and_ack_from_the_table_stops_the_flashing(
    window: MainWindow, agent: DrivenAgent, qtbot
) -> None:  # type: ignore[no-untyped-def]
    banner = window.alarm_row.banner
    qtbot.waitUntil(lambda: banner.headline() == "No alarms", timeout=5000)
    assert not banner.flashing

    agent.set(temp_0=85.0, temp_1=95.0)  # HI (medium) on temp_0; HI and HIHI (high) on temp_1
    ids = {HI0, HI1, HIHI1}
    qtbot.waitUntil(lambda: all(_state(window, i) == "unack" for i in ids), timeout=15_000)

    # The banner: the high-priority alarm first, counts equal to the station's own alarms.
    qtbot.waitUntil(lambda: banner.top_id() == HIHI1, timeout=3000)
    assert banner.headline().startswith("High · Mixer 1 · ")
    expected = banner_facts(_alarms(window).values()).counts
    assert banner.counts() == expected
    assert expected["high"] == 1 and expected["medium"] == 2
    assert banner.flashing
    # It flashes from the frame clock: the block's phase turns within a second or so.
    first = banner.flash_on
    qtbot.waitUntil(lambda: banner.flash_on != first, timeout=2500)
    save_screenshot(window, "alarms-banner")

    # A tap on the banner opens the alarm table.
    _tap(qtbot, banner)
    assert window.stack.currentWidget() is window.alarms
    table = window.alarms
    qtbot.waitUntil(lambda: {s.id for s in table.rows()} >= ids, timeout=5000)
    texts = {r["Message"]: r for r in table.row_texts()}
    assert all(r["State"] == "Unacknowledged" for r in texts.values())

    # Acknowledge all shown: a confirmation that names how many, then the hub does it.
    assert table.ack_all_button.text() == "Acknowledge all shown (3)"
    _tap(qtbot, table.ack_all_button)
    assert table.confirm_bar.isVisible()
    assert table.confirm_label.text() == "Acknowledge 3 alarms?"
    _tap(qtbot, table.confirm_yes)
    qtbot.waitUntil(lambda: all(_state(window, i) == "ack" for i in ids), timeout=10_000)
    assert all(_alarms(window)[i].acked_by == table.who for i in ids)
    qtbot.waitUntil(lambda: table.result == "Acknowledged 3 alarms.", timeout=5000)
    qtbot.waitUntil(lambda: not banner.flashing and banner.flash_on, timeout=3000)
    qtbot.waitUntil(
        lambda: all(r["State"] == "Acknowledged" for r in table.row_texts()), timeout=3000
    )

    # A refusal comes back as the hub's own sentence.
    table.act("ack", [HI0])
    qtbot.waitUntil(lambda: "already acknowledged" in table.result, timeout=5000)
    assert table.result.startswith("The hub refused to acknowledge 1: ")


def test_shelving_with_a_reason_takes_the_alarm_off_the_banner(
    window: MainWindow, agent: DrivenAgent, qtbot
) -> None:  # type: ignore[no-untyped-def]
    agent.set(temp_1=95.0)
    qtbot.waitUntil(lambda: _state(window, HIHI1) == "unack", timeout=15_000)
    banner = window.alarm_row.banner
    qtbot.waitUntil(lambda: banner.top_id() == HIHI1, timeout=3000)

    window.show_view("alarms")
    table = window.alarms
    qtbot.waitUntil(lambda: HIHI1 in [s.id for s in table.rows()], timeout=5000)
    # The selection box is the first column; a tap there selects, it does not navigate.
    _tap(qtbot, table.table.viewport(), table.row_rect(_row_of(window, HIHI1), 0).center())
    assert table.selected_ids() == [HIHI1]
    assert window.stack.currentWidget() is table
    _tap(qtbot, table.shelve_button)
    assert table.shelve_bar.isVisible() and table.duration_box.currentData() == 15 * 60
    table.reason_box.setCurrentIndex(1)  # "Instrument fault, repair requested"
    table.reason_text.setText("probe swap at 14:00")
    _tap(qtbot, table.shelve_yes)

    def shelved() -> bool:
        s = _alarms(window).get(HIHI1)
        return s is not None and s.shelf is not None

    qtbot.waitUntil(shelved, timeout=10_000)
    shelf = _alarms(window)[HIHI1].shelf
    assert shelf is not None
    assert shelf.reason == "Instrument fault, repair requested: probe swap at 14:00"
    assert shelf.by == table.who and abs((shelf.until - shelf.at) / 1e9 - 900) < 2
    qtbot.waitUntil(lambda: banner.top_id() != HIHI1, timeout=3000)
    assert banner.counts()["high"] == 0  # the shelved HIHI no longer needs action
    qtbot.waitUntil(lambda: table.result == "Shelved 1 alarm for 15 min.", timeout=5000)

    def shown_state() -> str:
        return table.row_texts()[_row_of(window, HIHI1)]["State"]

    qtbot.waitUntil(lambda: shown_state() == state_text(_alarms(window)[HIHI1]), timeout=3000)
    assert shown_state().startswith("Shelved until ")

    # Filtering by state shows only the shelved one.
    table.set_filter(AlarmFilter(states=frozenset({"shelved"})))
    assert [s.id for s in table.rows()] == [HIHI1]
    save_screenshot(window, "alarms-table-shelved")


def test_tapping_a_row_opens_the_machine_view(
    window: MainWindow, agent: DrivenAgent, qtbot
) -> None:  # type: ignore[no-untyped-def]
    agent.set(temp_0=85.0)
    qtbot.waitUntil(lambda: _state(window, HI0) == "unack", timeout=15_000)
    window.show_view("alarms")
    table = window.alarms
    qtbot.waitUntil(lambda: HI0 in [s.id for s in table.rows()], timeout=5000)
    _tap(qtbot, table.table.viewport(), table.row_rect(_row_of(window, HI0), 4).center())
    assert window.stack.currentWidget() is window.machine
    assert window.title.text() == MACHINE


def test_flood_banner_when_more_than_ten_alarms_in_ten_minutes(hub: Plant, make_ctx, qtbot) -> None:  # type: ignore[no-untyped-def]
    agent = DrivenAgent(
        hub, MACHINE, tags=6, area="Mixing", line="line-1"
    )  # 6 tags beyond HI and HIHI: 12 alarms
    try:
        ctx = make_ctx(wait_machines=1)
        w = MainWindow(ctx)
        qtbot.addWidget(w)
        w.resize(1280, 800)
        w.show()
        qtbot.waitExposed(w)
        agent.set(temp_0=85.0)  # one alarm: not a flood
        qtbot.waitUntil(lambda: _state(w, HI0) == "unack", timeout=15_000)
        qtbot.waitUntil(lambda: w.alarm_row.watch.rate == 1, timeout=3000)
        assert not w.flood_banner.isVisible()
        assert w.alarm_row.load.text() == "1 in 10 min · acceptable"

        agent.set_all(95.0)
        qtbot.waitUntil(lambda: len(_alarms(w)) >= 12, timeout=15_000)
        qtbot.waitUntil(w.flood_banner.isVisible, timeout=5000)
        raised = [s for s in _alarms(w).values() if not s.suppressed and s.occurrence]
        assert len(raised) > 10
        assert (
            w.flood_banner.summary()
            == f"Alarm flood: {len(raised)} alarms in 10 min, all from Line 1"
        )
        assert w.alarm_row.load.text() == f"{len(raised)} in 10 min · FLOOD"
        firsts = [s for s in raised if s.first_out]
        assert firsts, "the engine marks the machine's first-out alarm"
        assert w.flood_banner.first_out_texts() == [
            f"Mixer 1: {firsts[0].message.removeprefix('Mixer 1: ')}"
        ]
        # The machine's tile shows its alarms per priority, as the station holds them.
        per_priority: dict[str, int] = {}
        for s in raised:
            per_priority[s.priority] = per_priority.get(s.priority, 0) + 1
        tile = w.overview.tiles[MACHINE]
        qtbot.waitUntil(lambda: tile.alarm_counts() == per_priority, timeout=3000)
        assert per_priority == {"high": 6, "medium": 6}
        qtbot.waitUntil(lambda: w.overview.summary.counts().get("alarms") == 12, timeout=3000)
        save_screenshot(w, "alarms-flood")
    finally:
        agent.close()


def test_kpi_view_shows_what_compute_kpis_gives_for_the_journal(
    window: MainWindow, agent: DrivenAgent, hub: Plant, qtbot
) -> None:  # type: ignore[no-untyped-def]
    agent.set(temp_0=85.0, temp_1=95.0)
    qtbot.waitUntil(lambda: _state(window, HIHI1) == "unack", timeout=15_000)
    window.ctx.station.act_on_alarms("ack", [HI0], "ana")
    qtbot.waitUntil(lambda: _state(window, HI0) == "ack", timeout=10_000)
    agent.set(temp_0=50.0)  # HI0 back to normal: a whole occurrence
    qtbot.waitUntil(lambda: _state(window, HI0) == "normal", timeout=10_000)

    window.show_view("kpis")
    view = window.kpis
    qtbot.waitUntil(lambda: view.report is not None, timeout=10_000)
    report = view.report
    assert report is not None and report.total_alarms == 3

    conn = open_journal(journal_path(hub.data_dir))
    try:
        rows = read_occurrences(conn, 0, report.until_ns)
    finally:
        conn.close()
    expected = compute_kpis(rows, report.since_ns, report.until_ns)
    assert report.to_dict() == expected.to_dict()
    assert view.figures() == {name: value for name, value, _t in figure_rows(expected)}
    assert view.figures()["alarms raised"] == "3"
    assert [r[0] for r in view.actor_rows()] == [b.alarm for b in expected.bad_actors]
    assert sum(view.rate_heights()) == 3
    assert view.mix_heights()["high"] == pytest.approx(100 / 3)

    # Another period asks again and shows the same alarms (all are within the last 8 h).
    _tap(qtbot, view.period_buttons[8 * 3600])
    qtbot.waitUntil(
        lambda: view.report is not None and view.report.until_ns != report.until_ns,
        timeout=10_000,
    )
    assert view.figures()["alarms raised"] == "3"
    save_screenshot(window, "alarms-kpis")
