"""Who is talking to the hub, and what each key may say: peers, roles, machine bindings.

:class:`PeerBook` keeps one :class:`Peer` per key (``role:name``) with its connections (ROUTER
identities and socket descriptors), counters and the machine ids it holds, and decides —
without sockets — whether a message may be believed (:meth:`PeerBook.refusal`, a drop reason
or ``''``):

- ``role``: only agent keys send BIRTH/DATA/DEATH/CMD_STATUS and machine heartbeats; only
  station (and CLI) keys send commands and requests; a station's heartbeat names no machine.
- ``epoch_future``: an agent's epoch more than ``max_epoch_ahead_s`` ahead of the hub's clock.
- ``foreign_machine``: a machine id the key is not bound to (allow-list) or that another key
  holds (first claim, kept in a :class:`~copilot.hub.claims.ClaimBook`).
- ``machine_limit``: a key claiming more than ``max_machines_per_key`` ids.

With ``secure=False`` (``--insecure``: no keys) everything is allowed, as it always was.
Descriptors are told apart by a connection id (the socket's inode, given by the server), so a
reused descriptor number is never mistaken for the connection a key was seen on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from copilot.hub.claims import Bindings, ClaimBook
from copilot.hub.plant import MachineState
from copilot.protocol import (
    Birth,
    Body,
    CommandStatus,
    Data,
    Death,
    Header,
    Heartbeat,
    valid_id,
)
from copilot.settings import HubSettings

AGENT_MESSAGES = (Birth, Data, Death, Heartbeat, CommandStatus)
CLIENT_SOURCES = ("station:", "cli:")


@dataclass
class Peer:
    """One key (``role:name``) and its connections, as the hub has seen them."""

    key: str
    role: str
    identities: dict[bytes, float] = field(default_factory=dict)
    fds: set[int] = field(default_factory=set)
    messages: int = 0
    drops: Counter[str] = field(default_factory=Counter)
    refused_claims: int = 0
    machines: set[str] = field(default_factory=set)
    last_seen: float = 0.0

    @property
    def connections(self) -> int:
        """Open connections (descriptors when known, else ROUTER identities)."""
        return len(self.fds) or len(self.identities)


class PeerBook:
    """Every peer by key, and the hub's rules about what each may say."""

    def __init__(
        self,
        settings: HubSettings,
        secure: bool,
        bindings: Bindings | None = None,
        claims: ClaimBook | None = None,
        connection_id: Callable[[int], int] = lambda fd: fd,
    ) -> None:
        self.settings = settings
        self.secure = secure
        self.bindings = bindings
        self.claims = claims
        self.connection_id = connection_id
        self.peers: dict[str, Peer] = {}
        self._fd_owner: dict[int, tuple[str, int]] = {}  # fd → (key, connection id)

    # -- who ----------------------------------------------------------------------------------

    def peer(self, user: str, fd: int, now: float) -> Peer:
        """The peer of key ``user``, noting that descriptor ``fd`` is one of its connections."""
        key = user or ("insecure" if not self.secure else "unknown")
        peer = self.peers.get(key)
        if peer is None:
            role = key.partition(":")[0] if self.secure else "any"
            peer = self.peers[key] = Peer(key=key, role=role)
        peer.last_seen = now
        if fd >= 0 and fd not in peer.fds:  # a new connection (or a reused descriptor)
            owner = self._fd_owner.get(fd)
            old = self.peers.get(owner[0]) if owner is not None else None
            if old is not None:
                old.fds.discard(fd)
            self._fd_owner[fd] = (key, self.connection_id(fd))
            peer.fds.add(fd)
        return peer

    def forget_closed(self) -> None:
        """Drop descriptors whose connection closed (or now carries another connection)."""
        for fd, (key, conn) in list(self._fd_owner.items()):
            if self.connection_id(fd) != conn:
                del self._fd_owner[fd]
                peer = self.peers.get(key)
                if peer is not None:
                    peer.fds.discard(fd)

    def prune(self, now: float) -> None:
        """Forget identities not heard from for ``peer_retention_s``, and idle peers."""
        horizon = now - self.settings.peer_retention_s
        for key in list(self.peers):
            peer = self.peers[key]
            peer.identities = {i: t for i, t in peer.identities.items() if t > horizon}
            if peer.last_seen < horizon and not peer.machines and not peer.fds:
                del self.peers[key]

    def revoke(self, allowed: set[str]) -> list[tuple[Peer, list[int]]]:
        """Remove every peer whose key is not in ``allowed``, with the descriptors to cut.

        Only descriptors still carrying the very connection the key was seen on are returned.
        """
        out = []
        for key in [k for k in self.peers if k not in allowed]:
            peer = self.peers.pop(key)
            fds = []
            for fd in sorted(peer.fds):
                owner = self._fd_owner.pop(fd, None)
                if owner is not None and owner[0] == key and owner[1] == self.connection_id(fd):
                    fds.append(fd)
            out.append((peer, fds))
        return out

    # -- what it may say ----------------------------------------------------------------------

    def refusal(
        self,
        peer: Peer,
        header: Header,
        body: Body,
        machines: Mapping[str, MachineState],
        now_ns: int,
    ) -> str:
        """Why ``peer`` may not send ``body`` (a drop reason), or ``''`` if it may."""
        if not self.secure:
            return ""  # --insecure: no keys, everything allowed
        if peer.role == "station":
            if isinstance(body, Heartbeat):
                # A station's own liveness never touches a machine; one naming a machine is
                # refused (and counted), never applied.
                return "" if header.src.startswith(CLIENT_SOURCES) else "role"
            return "role" if isinstance(body, AGENT_MESSAGES) else ""
        if peer.role != "agent" or not isinstance(body, AGENT_MESSAGES):
            return "role"
        if header.epoch > now_ns + int(self.settings.max_epoch_ahead_s * 1e9):
            return "epoch_future"
        mid = header.src
        if not valid_id(mid) or (isinstance(body, CommandStatus) and body.machine != mid):
            return "foreign_machine"
        return self._may_speak(peer, mid, isinstance(body, Birth), machines)

    def _may_speak(
        self, peer: Peer, mid: str, claim: bool, machines: Mapping[str, MachineState]
    ) -> str:
        """Key binding and first-claim rule for an agent key speaking for ``mid``."""
        if mid in peer.machines:
            return ""
        bound = self.bindings.may_speak_for(peer.key, mid) if self.bindings else None
        if bound is False:
            return "foreign_machine"
        if bound is None:
            holder = self.claims.holder(mid) if self.claims is not None else None
            state = machines.get(mid)
            if holder is None and state is not None:
                holder = state.user
            if holder is not None and holder != peer.key:
                return "foreign_machine"
        if claim and len(peer.machines) >= self.settings.max_machines_per_key:
            peer.refused_claims += 1
            return "machine_limit"
        return ""  # a claim is recorded once the plant accepted the BIRTH (see claim)

    def claim(self, peer: Peer, mid: str) -> None:
        """A BIRTH was accepted: the key holds ``mid`` (persisted if it is a first claim)."""
        peer.machines.add(mid)
        if not self.secure or self.claims is None or self.claims.holder(mid) is not None:
            return
        if self.bindings is None or self.bindings.may_speak_for(peer.key, mid) is None:
            self.claims.record(mid, peer.key)
