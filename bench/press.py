"""A machine for the command benchmark: one routine command, journaled, done at once.

``python -m bench.press --hub ADDR`` runs ``bench-press`` (area ``Bench``): a ``speed`` tag
published every 100 ms and ``pulse`` (routine, tier 1), which sets it and reports it observed.
The command journal is on, as on every real agent: ACCEPTED waits for its fsync.
"""

from __future__ import annotations

import argparse
import threading

from copilot.agent import AgentRunner, AgentSession, CommandOutcome
from copilot.bus import Bus, Security
from copilot.proc import stop_on_signals
from copilot.protocol import ArgSpec, Command, CommandSpec, MachineInfo, Range, TagSpec
from copilot.settings import load

MACHINE = "bench-press"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hub", required=True)
    args = parser.parse_args()
    settings = load()
    bus = Bus(Security.from_data_path(settings.data_path, "agent", False))
    lock = threading.Lock()
    values: dict[str, float] = {"speed": 0.0}

    def handle(cmd: Command) -> CommandOutcome:
        with lock:
            values["speed"] = float(cmd.args.get("speed", 0.0))  # type: ignore[arg-type]
            return CommandOutcome(ok=True, message="pulse done.", observed=dict(values))

    session = AgentSession(
        bus,
        args.hub,
        MachineInfo(id=MACHINE, name="Bench press", kind="press", area="Bench"),
        [TagSpec(name="speed", alias=0, unit="rpm", eng_range=Range(0, 100))],
        [
            CommandSpec(
                name="pulse",
                label="Pulse",
                risk="routine",
                args=[ArgSpec(name="speed", unit="rpm", range=Range(0, 100))],
            )
        ],
        handle,
        journal_path=settings.data_path / "bench-press-journal.sqlite",
    )

    def tick(now: float) -> None:
        with lock:
            snapshot = dict(values)
        session.publish(snapshot)

    runner = AgentRunner([session], tick, 0.1)
    stop_on_signals(runner.request_stop)
    runner.start()
    runner.join()
    bus.close()


if __name__ == "__main__":
    main()
