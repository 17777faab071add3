"""Sessions: bound to the key that logged in, ended by idleness, kept alive by pings."""

from __future__ import annotations

from copilot.gate.sessions import SessionBook
from copilot.protocol import Body, Session, SessionPing
from copilot.station.gate import PING_EVERY_S, StationGate
from copilot.station.store import StationStore


def test_a_token_is_good_only_from_its_key_and_until_it_idles_out() -> None:
    book = SessionBook(idle_s=300.0)
    s = book.open("ana", "Ana", ("Operator",), "station:panel-1", b"id", 0, now=1000.0)
    assert book.find(s.token, "station:panel-1", 1200.0) is s
    assert book.find(s.token, "station:thief", 1200.0) is None  # another key: refused
    book.touch(s, 1200.0, b"id2")  # the person did something at 1200
    assert book.find(s.token, "station:panel-1", 1450.0) is s  # 250 s after: still live
    assert book.find(s.token, "station:panel-1", 1800.0) is None  # 600 s idle: ended
    assert s.token not in book.sessions


def test_logging_in_again_on_the_same_key_ends_the_old_token() -> None:
    book = SessionBook(idle_s=300.0)
    old = book.open("ana", "Ana", ("Operator",), "station:p", b"a", 0, now=0.0)
    new = book.open("ana", "Ana", ("Operator",), "station:p", b"b", 0, now=1.0)
    assert book.find(old.token, "station:p", 2.0) is None
    assert book.find(new.token, "station:p", 2.0) is new


def test_a_station_pings_at_most_every_thirty_seconds_and_only_when_logged_in() -> None:
    sent: list[Body] = []
    gate = StationGate(StationStore(64), sent.append, lambda e: None, lambda: 1, lambda s: None)
    assert not gate.keep_alive(now=100.0)  # nobody logged in: nothing to keep alive
    gate.session = Session(token="t", user="ana", name="Ana", roles=["Operator"])
    assert gate.keep_alive(now=100.0)
    assert not gate.keep_alive(now=100.0 + PING_EVERY_S - 1)
    assert gate.keep_alive(now=100.0 + PING_EVERY_S)
    assert sent == [SessionPing(token="t"), SessionPing(token="t")]
