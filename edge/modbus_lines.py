"""One :class:`~drivers.modbus_bus.ModbusBus` per configured RS-485 line, shared by the
gauges, remote sirens and remote hand alarms on it (one request in flight per line)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from drivers.modbus_bus import ModbusBus
from edge.config import ModbusBusConfig

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

    from edge.station import Station


def make_bus(name: str, cfg: ModbusBusConfig, timeout_s: float | None = None) -> ModbusBus:
    return ModbusBus(cfg.port, baudrate=cfg.baudrate, parity=cfg.parity, stopbits=cfg.stopbits,
                     timeout_s=timeout_s or cfg.timeout_s, quiet_s=cfg.quiet_s, name=name)


def open_buses(station: Station) -> dict[str, ModbusBus]:
    buses = {name: make_bus(name, cfg) for name, cfg in station.config.modbus.buses.items()}

    async def close_all() -> None:
        for bus in buses.values():
            await bus.close()

    station.lifecycle.on("stopped", "modbus-buses", close_all)
    station.metric_sources.append(lambda: _metrics(buses))
    return buses


def _metrics(buses: dict[str, ModbusBus]) -> list[Metric]:
    from prometheus_client.core import CounterMetricFamily

    families: list[Metric] = []
    for field, help_text in (("requests", "Modbus requests sent"),
                             ("no_reply", "Modbus requests without a usable reply"),
                             ("bad_reply", "Modbus replies that did not match their request")):
        family = CounterMetricFamily(f"station_edge_modbus_{field}", help_text, labels=["bus"])
        for name, bus in buses.items():
            family.add_metric([name], getattr(bus.counters, field))
        families.append(family)
    return families
