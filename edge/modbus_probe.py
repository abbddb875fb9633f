"""One Modbus request as a technician needs to see it: the raw values, the round trip,
and what went wrong, by kind.

Used by ``station-edge modbus poll|scan`` on a bus of its own when the daemon is
stopped, and by the daemon's ``POST /api/v1/modbus/{bus}/read`` on the daemon's bus
(one request in flight per line, so a probe never garbles a gauge's poll).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any, Literal

from drivers.modbus_bus import BadReply, DeviceRefused, ModbusBus, NoReply, PortUnavailable
from edge.config import Config, RainGaugeConfig
from edge.gauge_catalogue import register_map_for

Function = Literal["holding", "input", "coils", "discrete"]
FUNCTION_CODES: dict[str, int] = {"holding": 3, "input": 4, "coils": 1, "discrete": 2}
ErrorKind = Literal["no_reply", "bad_reply", "refused", "port"]
ERROR_WORDS = {
    "no_reply": "no reply (silence, or a frame with a bad CRC)",
    "bad_reply": "a reply that does not answer the request",
    "refused": "the device answered with a Modbus exception",
    "port": "the serial port cannot be used",
}
EXCEPTION_NAMES = {1: "illegal function", 2: "illegal data address", 3: "illegal data value",
                   4: "server device failure", 5: "acknowledge", 6: "server device busy"}


@dataclass(frozen=True)
class ProbeResult:
    unit: int
    function: str
    address: int
    count: int
    values: list[int] | None
    rtt_ms: float
    error_kind: ErrorKind | None = None
    error: str | None = None

    @property
    def answered(self) -> bool:
        """Something is there: it replied, even if only with a Modbus exception."""
        return self.error_kind in (None, "refused")

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProbeResult:
        return cls(**data)


async def probe(bus: ModbusBus, unit: int, function: str, address: int,
                count: int) -> ProbeResult:
    """One read; never raises for what the line or the device did."""
    if function not in FUNCTION_CODES:
        raise ValueError(f"function must be one of {sorted(FUNCTION_CODES)}, got {function!r}")
    began = time.monotonic()  # wire time: real seconds at any simulation speed

    def result(values: list[int] | None, kind: ErrorKind | None = None,
               error: str | None = None) -> ProbeResult:
        rtt = round((time.monotonic() - began) * 1000, 1)
        return ProbeResult(unit, function, address, count, values, rtt, kind, error)

    try:
        if function == "holding":
            return result(await bus.read_holding_registers(unit, address, count))
        if function == "input":
            return result(await bus.read_input_registers(unit, address, count))
        read = bus.read_coils if function == "coils" else bus.read_discrete_inputs
        return result([int(b) for b in await read(unit, address, count)])
    except DeviceRefused as exc:
        name = EXCEPTION_NAMES.get(exc.code, "unknown")
        return result(None, "refused", f"Modbus exception {exc.code} ({name})")
    except NoReply:
        return result(None, "no_reply", f"no reply within {bus.timeout_s:g} s")
    except BadReply as exc:
        return result(None, "bad_reply", str(exc))
    except PortUnavailable as exc:
        return result(None, "port", str(exc))


def gauge_on(config: Config, bus: str, unit: int) -> RainGaugeConfig | None:
    return next((g for g in config.rain_gauges
                 if g.kind == "modbus" and g.bus == bus and g.unit == unit), None)


def decode_gauge(gauge: RainGaugeConfig, values: list[int]) -> tuple[int, float]:
    """The gauge's counter and the rain it stands for, as the daemon reads them."""
    counter = register_map_for(gauge).decode(values)
    return counter, round(counter * gauge.scale_mm, 6)


def parse_units(text: str) -> list[int]:
    """``"1-10,20"`` → ``[1, …, 10, 20]``; every unit 1..247."""
    units: list[int] = []
    for part in text.split(","):
        first, _, last = part.strip().partition("-")
        try:
            lo, hi = int(first), int(last or first)
        except ValueError:
            raise ValueError(f"units are numbers or ranges like 1-247, got {part!r}") from None
        if not 1 <= lo <= hi <= 247:
            raise ValueError(f"units must be within 1..247, got {part!r}")
        units.extend(range(lo, hi + 1))
    return sorted(set(units))
