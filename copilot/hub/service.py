"""The seam every hub subsystem plugs into: a :class:`Service` and the :class:`ServiceHost`.

A service declares the message types it handles (``handles``) and the topic families it may
publish on (``topics``); it hears every event (:mod:`copilot.hub.events`), gets a periodic
``tick(now)``, and may add bodies to a station's snapshot (sent before ``SNAP_END``, so what
it published under the hub's ``(hub_epoch, hub_seq)`` is covered by that snapshot). It talks to
the world only through the :class:`Publisher` it is given — services never import
``copilot.bus`` or zmq (an import-linter contract says so).

The host calls services in order and keeps each one's failures apart: an exception is logged
with the service's name and what it was doing, counted in :attr:`ServiceHost.errors`, and the
loop and the other services carry on.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from copilot.hub.events import Event
from copilot.hub.loopwatch import LoopWatch
from copilot.hub.plant import PlantState
from copilot.protocol import Body, Header

log = logging.getLogger(__name__)


class Publisher(Protocol):
    """What a service may send: published updates and replies to one peer."""

    def publish(self, topic: bytes, body: Body) -> None:
        """Publish ``body`` on ``topic`` under the hub's own ``(hub_epoch, hub_seq)``."""

    def reply(self, identity: bytes, body: Body) -> bool:
        """Send ``body`` to one peer; ``False`` if it cannot be routed now."""


@dataclass(frozen=True, slots=True)
class Sender:
    """Who sent a message, as the server established it (key checked, role checked)."""

    identity: bytes
    key: str
    role: str
    header: Header


class Service:
    """Base class of a hub service; every hook is optional."""

    name = "service"
    handles: tuple[type, ...] = ()
    topics: tuple[bytes, ...] = ()

    def attach(
        self, plant: PlantState, publisher: Publisher, wake: Callable[[], None] = lambda: None
    ) -> None:
        """Called once by the host before anything else.

        ``wake`` may be called from any thread (a worker, a writer's commit callback): the
        hub's loop then calls :meth:`on_wake` soon, instead of at the next tick.
        """
        self.plant = plant
        self.publisher = publisher
        self.wake = wake

    def open(self) -> None:
        """Called when the hub opens (before it binds): open files, restore state.

        May raise (one sentence, e.g. :class:`copilot.storage.StorageError`): the hub then
        does not start.
        """

    def close(self) -> None:
        """Called when the hub stops: commit and close what :meth:`open` opened."""

    def handle(self, sender: Sender, body: Body) -> Sequence[Event]:
        """Handle one message of a type in :attr:`handles`; return the events it caused."""
        return ()

    def on_event(self, event: Event) -> None:
        """Hear one event (from the plant, the server or another service)."""

    def tick(self, now: float) -> Sequence[Event] | None:
        """Periodic work (``now`` is monotonic seconds); may return events it caused."""
        return None

    def on_wake(self) -> Sequence[Event]:
        """Work that another thread finished (see :meth:`attach`); the events it caused."""
        return ()

    def snapshot(self, prefix: str) -> Sequence[Body]:
        """Bodies to send with a snapshot of machines whose id starts with ``prefix``."""
        return ()

    def status(self) -> dict[str, int]:
        """Counters to show in ``copilot hub status``."""
        return {}

    def areas_of(self, key: str) -> frozenset[str]:
        """The areas a station key may see and command (empty: no limit from this service)."""
        return frozenset()


class TopicError(ValueError):
    """A service tried to publish outside its own topic family."""


class _ScopedPublisher:
    """A service's publisher: only its own topic families."""

    def __init__(self, inner: Publisher, service: Service) -> None:
        self._inner = inner
        self._service = service

    def publish(self, topic: bytes, body: Body) -> None:
        if not topic.startswith(self._service.topics or (b"\xff",)):
            raise TopicError(f"service {self._service.name} may not publish on {topic!r}")
        self._inner.publish(topic, body)

    def reply(self, identity: bytes, body: Body) -> bool:
        return self._inner.reply(identity, body)


class ServiceHost:
    """Runs services on one thread: dispatch by message type, events, ticks, snapshots."""

    def __init__(
        self,
        services: Iterable[Service],
        plant: PlantState,
        publisher: Publisher,
        wake: Callable[[], None] = lambda: None,
        watch: LoopWatch | None = None,
    ) -> None:
        self.services = list(services)
        self.watch = watch or LoopWatch()
        self._event_names = [f"event:{service.name}" for service in self.services]
        self._tick_names = [f"tick:{service.name}" for service in self.services]
        self.errors: Counter[str] = Counter()
        self._by_type: dict[type, Service] = {}
        for service in self.services:
            for kind in service.handles:
                if kind in self._by_type:
                    raise ValueError(
                        f"{kind.__name__} is handled by both {self._by_type[kind].name} "
                        f"and {service.name}"
                    )
                self._by_type[kind] = service
            service.attach(plant, _ScopedPublisher(publisher, service), wake)

    def open(self) -> None:
        """Open every service, in order (a failure propagates: the hub must not start)."""
        for service in self.services:
            service.open()

    def close(self) -> None:
        """Close every service; one failing does not keep the others open."""
        for service in self.services:
            try:
                service.close()
            except Exception:  # closing must go on
                self._failed(service, "closing")

    def handles(self, kind: type) -> bool:
        """Whether a service handles messages of ``kind``."""
        return kind in self._by_type

    def _failed(self, service: Service, doing: str) -> None:
        self.errors[service.name] += 1
        log.exception("hub: service %s failed while %s", service.name, doing)

    def handle(self, sender: Sender, body: Body) -> list[Event]:
        """Give ``body`` to the service that handles its type; the events it returned."""
        service = self._by_type.get(type(body))
        if service is None:
            return []
        try:
            return list(service.handle(sender, body))
        except Exception:  # a failing service must not stop the hub
            self._failed(service, f"handling {type(body).__name__} from {sender.key or '-'}")
            return []

    def emit(self, events: Iterable[Event]) -> None:
        """Hand every event to every service, in order."""
        clock, since = self.watch.clock, self.watch.since
        for event in events:
            for service, name in zip(self.services, self._event_names, strict=True):
                started = clock()
                try:
                    service.on_event(event)
                except Exception:  # a failing service must not stop the hub
                    self._failed(service, f"hearing {type(event).__name__}")
                since(name, started)

    def tick(self, now: float) -> list[Event]:
        """Tick every service; the events they returned."""
        out: list[Event] = []
        clock, since = self.watch.clock, self.watch.since
        for service, name in zip(self.services, self._tick_names, strict=True):
            started = clock()
            try:
                out.extend(service.tick(now) or ())
            except Exception:  # a failing service must not stop the hub
                self._failed(service, "ticking")
            since(name, started)
        return out

    def wake(self) -> list[Event]:
        """Let every service finish what other threads completed; the events they returned."""
        out: list[Event] = []
        for service in self.services:
            try:
                out.extend(service.on_wake())
            except Exception:  # a failing service must not stop the hub
                self._failed(service, "finishing work another thread did")
        return out

    def snapshot(self, prefix: str) -> list[Body]:
        """Every service's snapshot contribution."""
        out: list[Body] = []
        for service in self.services:
            try:
                out.extend(service.snapshot(prefix))
            except Exception:  # a failing service must not stop the hub
                self._failed(service, "contributing to a snapshot")
        return out

    def areas_of(self, key: str) -> frozenset[str]:
        """The areas a key is limited to by any service (the gate's policy); empty: all."""
        for service in self.services:
            try:
                areas = service.areas_of(key)
            except Exception:  # a failing service must not stop the hub
                self._failed(service, "saying what a key may see")
                continue
            if areas:
                return areas
        return frozenset()

    def status(self) -> dict[str, dict[str, int]]:
        """Every service's counters, by service name."""
        out: dict[str, dict[str, int]] = {}
        for service in self.services:
            try:
                out[service.name] = dict(service.status())
            except Exception:  # a failing service must not stop the hub
                self._failed(service, "reporting its status")
        return out
