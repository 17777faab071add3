"""Who is logged in where: session tokens bound to the station key that logged in.

A token is 32 random bytes (URL-safe text). It is only good from the key it was issued to (a
token copied to another station is refused), ends when its person logs out, switches, is
disabled, or leaves it unused for the policy's ``idle_lock_s``, and dies with the hub (the hub
keeps sessions in memory: after a restart every station logs in again).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field


@dataclass
class LiveSession:
    """One logged-in person on one station key."""

    token: str
    user: str
    name: str
    roles: tuple[str, ...]
    key: str
    identity: bytes
    started: int
    last_used: float
    station: str = ""
    areas: frozenset[str] = field(default_factory=frozenset)

    def has(self, *roles: str) -> bool:
        """Whether the person holds any of ``roles``."""
        return any(r in self.roles for r in roles)


class SessionBook:
    """Every live session by token; pure bookkeeping (times are given, never read)."""

    def __init__(self, idle_s: float, max_sessions: int = 1000) -> None:
        self.idle_s = idle_s
        self.max_sessions = max_sessions
        self.sessions: dict[str, LiveSession] = {}

    def open(
        self,
        user: str,
        name: str,
        roles: tuple[str, ...],
        key: str,
        identity: bytes,
        now_ns: int,
        now: float,
        station: str = "",
        areas: frozenset[str] = frozenset(),
    ) -> LiveSession:
        """A new session; the same person on the same key gets a new token (the old one ends)."""
        for token, old in list(self.sessions.items()):
            if old.key == key and old.user == user:
                del self.sessions[token]
        while len(self.sessions) >= self.max_sessions:
            oldest = min(self.sessions.values(), key=lambda s: s.last_used)
            del self.sessions[oldest.token]
        session = LiveSession(
            token=secrets.token_urlsafe(32),
            user=user,
            name=name,
            roles=roles,
            key=key,
            identity=identity,
            started=now_ns,
            last_used=now,
            station=station,
            areas=areas,
        )
        self.sessions[session.token] = session
        return session

    def find(self, token: str, key: str, now: float) -> LiveSession | None:
        """The live session of ``token`` if it was issued to ``key`` and is not idle-expired."""
        session = self.sessions.get(token)
        if session is None or session.key != key:
            return None
        if now - session.last_used > self.idle_s:
            del self.sessions[token]
            return None
        return session

    def touch(self, session: LiveSession, now: float, identity: bytes) -> None:
        """The person did something: the idle clock restarts; replies go to this connection."""
        session.last_used = now
        session.identity = identity

    def close(self, token: str) -> LiveSession | None:
        """End one session (log out); the session, if there was one."""
        return self.sessions.pop(token, None)

    def close_user(self, user: str) -> list[LiveSession]:
        """End every session of a person (disabled, locked out)."""
        gone = [s for s in self.sessions.values() if s.user == user]
        for s in gone:
            del self.sessions[s.token]
        return gone

    def expire(self, now: float) -> list[LiveSession]:
        """Sessions unused for longer than ``idle_s``, removed."""
        gone = [s for s in self.sessions.values() if now - s.last_used > self.idle_s]
        for s in gone:
            del self.sessions[s.token]
        return gone
