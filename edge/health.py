"""The health model every device reports into, as the county reads it.

A device has a status (``ok``, ``degraded``, ``fault``, ``offline``, ``unknown``), a
short detail and the time it entered that status. Only *changes* are logged and
journaled (once when a gauge goes offline, once when it returns), never every failed
poll. The station's status is the worst of its devices: any ``fault`` makes it
``fault``; anything not ``ok`` makes it ``degraded``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from drivers.clock import Clock, iso_utc

log = logging.getLogger(__name__)

DeviceStatus = Literal["ok", "degraded", "fault", "offline", "unknown"]
StationStatus = Literal["ok", "degraded", "fault"]
STATUSES: tuple[DeviceStatus, ...] = ("ok", "degraded", "fault", "offline", "unknown")


@dataclass(frozen=True)
class DeviceHealth:
    id: str
    kind: str
    status: DeviceStatus
    detail: str
    since: datetime

    def as_json(self) -> dict[str, str]:
        return {"id": self.id, "kind": self.kind, "status": self.status,
                "detail": self.detail, "since": iso_utc(self.since)}


def station_status(devices: list[DeviceHealth]) -> StationStatus:
    """The worst of the devices' states, as the county's dashboards read it."""
    if any(d.status == "fault" for d in devices):
        return "fault"
    if any(d.status != "ok" for d in devices):
        return "degraded"
    return "ok"


Listener = Callable[[DeviceHealth, DeviceHealth | None], None]


class Health:
    """Where devices say how they are; listeners hear each change once."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._devices: dict[str, DeviceHealth] = {}
        self._listeners: list[Listener] = []

    def register(self, device_id: str, kind: str, detail: str = "starting") -> None:
        now = self.clock.now()
        self._devices[device_id] = DeviceHealth(device_id, kind, "unknown", detail, now)

    def listen(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def report(self, device_id: str, status: DeviceStatus, detail: str) -> None:
        """Set a device's status; a change of status is announced, a change of detail is not."""
        previous = self._devices.get(device_id)
        if previous is None:
            raise KeyError(f"device {device_id!r} was never registered")
        if previous.status == status:
            if previous.detail != detail:
                self._devices[device_id] = replace(previous, detail=detail)
            return
        current = replace(previous, status=status, detail=detail, since=self.clock.now())
        self._devices[device_id] = current
        level = logging.INFO if status == "ok" else logging.WARNING
        log.log(level, "%s %s: %s (%s)", current.kind, device_id, status, detail)
        for listener in self._listeners:
            listener(current, previous)

    def get(self, device_id: str) -> DeviceHealth:
        return self._devices[device_id]

    def devices(self) -> list[DeviceHealth]:
        return list(self._devices.values())

    def status(self) -> StationStatus:
        return station_status(self.devices())
