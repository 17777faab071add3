"""Control authority: at most one station commands a machine or an area at a time, if it asks.

Authority is optional: a scope nobody holds may be commanded from any station the policy lets
in. ``take`` a free scope; ``release`` your own; ``request`` a hand-over, which its holder may
``grant`` or ``refuse``; a Supervisor may ``override`` (take it from the holder at once).
Scopes are ``machine:<id>`` and ``area:<name>``; a machine is locked when either its own scope
or its area's is held by another station key.
"""

from __future__ import annotations

from dataclasses import dataclass

from copilot.protocol import Authority


@dataclass(frozen=True)
class AuthorityRefusal:
    """Why an authority act cannot be done: a stable code and one sentence."""

    code: str
    sentence: str


def machine_scope(machine: str) -> str:
    """The scope of one machine."""
    return f"machine:{machine}"


def area_scope(area: str) -> str:
    """The scope of one area."""
    return f"area:{area}"


class AuthorityBook:
    """Who holds which scope (by station key); pure bookkeeping."""

    def __init__(self) -> None:
        self.held: dict[str, Authority] = {}

    def holder_of(self, machine: str, area: str) -> Authority | None:
        """The authority that governs ``machine`` (its own scope first, then its area's)."""
        for scope in (machine_scope(machine), area_scope(area) if area else ""):
            held = self.held.get(scope)
            if held is not None and held.holder:
                return held
        return None

    def act(
        self,
        scope: str,
        act: str,
        *,
        key: str,
        station: str,
        user: str,
        name: str,
        supervisor: bool,
        now: int,
    ) -> Authority | AuthorityRefusal:
        """Apply one act; the scope's new state or why not."""
        held = self.held.get(scope)
        mine = held is not None and held.holder == key
        if act == "take":
            if held is not None and held.holder and not mine:
                return AuthorityRefusal(
                    "locked_by_other",
                    f"{held.holder_name} ({held.holder_user}) holds control of "
                    f"{_words(scope)}; ask for a hand-over.",
                )
            return self._set(scope, key, station, user, now)
        if act == "release":
            if not mine:
                return AuthorityRefusal(
                    "not_holder", f"This station does not hold {_words(scope)}."
                )
            return self._free(scope)
        if act == "request":
            if held is None or not held.holder:
                return self._set(scope, key, station, user, now)
            if mine:
                return AuthorityRefusal("already_holder", f"This station holds {_words(scope)}.")
            self.held[scope] = Authority(
                scope=scope,
                holder=held.holder,
                holder_name=held.holder_name,
                holder_user=held.holder_user,
                since=held.since,
                asked_by=key,
                asked_name=station,
                asked_at=now,
            )
            return self.held[scope]
        if act in ("grant", "refuse"):
            if not mine or held is None or not held.asked_by:
                return AuthorityRefusal(
                    "no_request", f"Nobody asked this station for {_words(scope)}."
                )
            if act == "refuse":
                self.held[scope] = Authority(
                    scope=scope,
                    holder=held.holder,
                    holder_name=held.holder_name,
                    holder_user=held.holder_user,
                    since=held.since,
                )
                return self.held[scope]
            return self._set(scope, held.asked_by, held.asked_name, "", now)
        if act == "override":
            if not supervisor:
                return AuthorityRefusal(
                    "not_authorised", "Only a Supervisor may take control over another station."
                )
            return self._set(scope, key, station, user, now)
        return AuthorityRefusal("bad_act", f"{act!r} is not an authority act.")

    def _set(self, scope: str, key: str, station: str, user: str, now: int) -> Authority:
        self.held[scope] = Authority(
            scope=scope, holder=key, holder_name=station, holder_user=user, since=now
        )
        return self.held[scope]

    def _free(self, scope: str) -> Authority:
        self.held.pop(scope, None)
        return Authority(scope=scope)

    def drop_key(self, key: str) -> list[Authority]:
        """Release everything a station key holds (revoked); the freed scopes."""
        return [self._free(s) for s, a in list(self.held.items()) if a.holder == key]


def _words(scope: str) -> str:
    kind, _, name = scope.partition(":")
    return f"{'area' if kind == 'area' else 'machine'} {name}"
