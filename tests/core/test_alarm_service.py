"""The hub's alarm service without sockets: replies wait for the journal; retention prunes it."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from copilot.alarms import journal_path, open_journal, read_occurrences
from copilot.hub.alarms import AlarmService
from copilot.hub.events import MachineBorn, SamplesIngested
from copilot.hub.plant import PlantState
from copilot.hub.service import Sender
from copilot.protocol import (
    AlarmAct,
    AlarmActReply,
    AlarmStatus,
    Birth,
    Body,
    Header,
    Limits,
    MachineInfo,
    TagSpec,
)
from copilot.settings import HubSettings
from tests.helpers import wait_until


class Recorder:
    def __init__(self) -> None:
        self.published: list[tuple[bytes, Body]] = []
        self.replies: list[Body] = []

    def publish(self, topic: bytes, body: Body) -> None:
        self.published.append((topic, body))

    def reply(self, identity: bytes, body: Body) -> bool:
        self.replies.append(body)
        return True


def service(data: Path, **settings: object) -> tuple[AlarmService, Recorder]:
    s = AlarmService(HubSettings(**settings), data)  # type: ignore[arg-type]
    out = Recorder()
    s.attach(PlantState(HubSettings()), out)
    s.open()
    return s, out


BIRTH = Birth(
    machine=MachineInfo(id="m1", name="M1", kind="k"),
    tags=[TagSpec(name="t", alias=0, limits=Limits(hi=10.0))],
)


def raise_hi(s: AlarmService) -> None:
    s.on_event(MachineBorn("m1", 1, 0, BIRTH, b"", False))
    s.on_event(
        SamplesIngested(
            "m1",
            1,
            1,
            np.array([0], dtype=np.int64),
            np.array([time.time()]),
            np.array([11.0]),
            None,
            b"",
        )
    )


def test_an_act_is_answered_and_published_only_once_committed(tmp_path: Path) -> None:
    s, out = service(tmp_path)
    try:
        raise_hi(s)
        assert any(isinstance(b, AlarmStatus) and b.state == "unack" for _, b in out.published)
        sender = Sender(
            b"id", "station:st", "station", Header(src="station:st", epoch=0, seq=0, ts=0)
        )
        s.handle(sender, AlarmAct(action="ack", ids=["m1/t/hi"], who="ana", request_id=7))
        assert out.replies == []  # not before the journal says so
        wait_until(lambda: (s.tick(time.monotonic()), out.replies)[1], 5, "the reply")
        reply = out.replies[0]
        assert isinstance(reply, AlarmActReply) and reply.done == ["m1/t/hi"]
        conn = open_journal(journal_path(tmp_path))
        try:
            assert read_occurrences(conn)[0].acked_by == "ana"  # durable before the answer
        finally:
            conn.close()
        assert any(isinstance(b, AlarmStatus) and b.state == "ack" for _, b in out.published)
    finally:
        s.close()


def test_retention_prunes_old_ended_occurrences(tmp_path: Path) -> None:
    conn = open_journal(journal_path(tmp_path))
    old = time.time_ns() - 30 * 86_400 * 10**9
    with conn:
        for i, ended in ((1, old), (2, None)):
            conn.execute(
                "INSERT INTO occurrence (id, alarm, machine, tag, condition, priority, raised_at,"
                " ended_at) VALUES (?, 'm1/t/hi', 'm1', 't', 'hi', 'medium', ?, ?)",
                (i, old, ended),
            )
            conn.execute(
                "INSERT INTO event (occurrence, alarm, machine, at, event) "
                "VALUES (?, 'm1/t/hi', 'm1', ?, 'raised')",
                (i, old),
            )
    conn.close()
    s, _ = service(tmp_path, alarm_journal_days=7)
    s.tick(time.monotonic())
    s.close()  # commits what is queued
    conn = open_journal(journal_path(tmp_path))
    try:
        assert [o.id for o in read_occurrences(conn)] == [2]  # the one still open stays
        assert [r[0] for r in conn.execute("SELECT occurrence FROM event")] == [2]
    finally:
        conn.close()
