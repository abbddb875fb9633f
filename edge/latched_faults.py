"""Faults that stay until a person clears them: an output cut at its maximum on-time.

When the output watchdog cuts a relay that stayed ON too long, the device behind it is
a fault in health, and stays one: nothing the station does later proves the cause is
gone (a stuck relay, a broadcast that never ended). The duty officer (operator role)
may clear it once the output is OFF and no longer failing; the clearing, and who did
it, is journaled. A device that reports itself healthy again (a siren switched
successfully) drops its latch by itself.

A latch survives a restart (a watchdog restart, a power cut, ``kill -9``): it is kept in
the state store from the cut until it is cleared, and taken back at start as a fault in
health (so the fault LED lights again and the panel shows it as before). A restart
proves nothing about the cause, so it must not hide the fault.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from drivers.clock import iso_utc
from edge.health import DeviceHealth

if TYPE_CHECKING:
    from edge.outputs import Output
    from edge.station import Station


class CannotClear(Exception):
    """No such latched fault, or its cause is still there (the message says which)."""


@dataclass
class LatchedFault:
    device: str  # the health id (``amplifier``, ``siren-1``)
    output: str  # the output that was cut
    detail: str
    since: datetime

    def as_json(self) -> dict[str, Any]:
        return {"device": self.device, "output": self.output, "kind": "max_on_time",
                "detail": self.detail, "since": iso_utc(self.since)}


def still_there(outputs: list[Output]) -> str | None:
    """Why the cause of a cut is still present (an output of the device still ON, or
    still failing to switch), or None when it is gone."""
    for output in outputs:
        if output.switch.is_on:
            return f"{output.id} is still ON"
        if getattr(output, "failures", 0):
            return f"{output.id} still fails to switch"
    return None


#: The state store's kind for a latched fault (keyed by its health id).
KIND = "latched_fault"


class LatchedFaults:
    def __init__(self, station: Station) -> None:
        self.station = station
        self._latched: dict[str, LatchedFault] = {}
        #: The state store's ticket of the latest change (what an API answer awaits).
        self.last_ticket = 0
        devices = set()
        for output in station.outputs.all():
            if output.health_id is not None:
                output.on_cut.append(self._cut)
                devices.add(output.health_id)
        station.health.listen(self._health_changed)
        self._restore(devices)

    def _restore(self, devices: set[str]) -> None:
        """Take back the latches the last run left, each a fault in health again (one on
        a device no longer configured is dropped)."""
        state = self.station.state
        for device, fault in state.loaded_as(KIND, LatchedFault).items():
            if device not in devices:
                state.delete(KIND, device)
                continue
            self._latched[device] = fault
            self.station.health.report(device, "fault", fault.detail)
        self.station.restored["latched_faults"] = list(self._latched)

    def list(self) -> list[LatchedFault]:
        return list(self._latched.values())

    def get(self, device: str) -> LatchedFault | None:
        return self._latched.get(device)

    def _cut(self, output: Output) -> None:
        assert output.health_id is not None
        health = self.station.health.get(output.health_id)
        fault = LatchedFault(output.health_id, output.id, health.detail, self.station.clock.now())
        self._latched[output.health_id] = fault
        self.last_ticket = self.station.state.put_record(KIND, fault.device, fault)

    def _health_changed(self, current: DeviceHealth, _previous: DeviceHealth | None) -> None:
        if current.status == "ok" and self._latched.pop(current.id, None) is not None:
            self.last_ticket = self.station.state.delete(KIND, current.id)

    def clear(self, device: str, *, actor: str) -> LatchedFault:
        """Clear a latched fault whose cause is gone (raises :class:`CannotClear`)."""
        fault = self._latched.get(device)
        if fault is None:
            raise CannotClear(f"no latched fault on {device!r}")
        why = still_there([o for o in self.station.outputs.all() if o.health_id == device])
        if why is not None:
            raise CannotClear(f"the cause is still there: {why}")
        del self._latched[device]
        self.last_ticket = self.station.state.delete(KIND, device)
        self.station.journal.record("fault.cleared", device, actor, output=fault.output,
                                    detail=fault.detail, since=iso_utc(fault.since))
        self.station.health.report(device, "ok", "off")
        return fault
