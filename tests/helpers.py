"""Small shared pieces of the test suite (configs, free ports, a started station)."""

from __future__ import annotations

import socket
from pathlib import Path

from edge.config import Config, parse

SIM_VIEWER = {"Authorization": "Bearer sim-viewer"}
SIM_OPERATOR = {"Authorization": "Bearer sim-operator"}
SIM_ADMIN = {"Authorization": "Bearer sim-admin"}

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sim_config(data_dir: Path, extra: str = "", **replace: str) -> Config:
    """The embedded simulated-station config, pointed at ``data_dir``."""
    from edge.sim_station import sim_config_text

    text = sim_config_text(data_dir, "127.0.0.1:0", 1.0, {})
    for old, new in replace.items():
        text = text.replace(old, new)
    return parse(text + "\n" + extra)


class StationRun:
    """A station started in-process on a manual clock (async context manager)."""

    def __init__(self, config: Config, clock: object | None = None) -> None:
        from drivers.clock import ManualClock
        from edge.station import Station

        self.clock = clock or ManualClock()
        self.station = Station(config, self.clock)  # type: ignore[arg-type]

    async def __aenter__(self) -> StationRun:
        await self.station.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.station.request_stop("test over")
        await self.station.stop()

    def events(self, kind: str | None = None) -> list[dict[str, object]]:
        journal = self.station.journal
        return [e for e in journal.read(limit=1000) if kind is None or e["kind"] == kind]

    async def settled_events(self, kind: str | None = None) -> list[dict[str, object]]:
        journal = self.station.journal
        last = journal.record("test.marker", "tests")
        await journal.durable(last)
        return [e for e in self.events(kind) if e["kind"] != "test.marker"]
