"""The gauge catalogue: what a gauge model needs, so a config can say just ``model = …``.

Each entry gives the counter's register map (function, wire address, width, word
order, scale, rollover), how the gauge reports faults (status register, error values),
what it can count (bucket and fastest tip rate: the plausibility bound) and its factory
line settings and address. Explicit keys in a ``[[rain_gauges]]`` entry override any of
these. Sources, and what could not be verified, are on each model's page in
``docs/gauges/``; adding a model = an entry here, a page there, and its map in the
simulator (``hw-sim/modbus_gauge_sim.py``).

Plausibility bounds: where a maker publishes no fastest tip rate, we take 10 tips/s
(a tip's contact closes for 50-135 ms in the tipping buckets we know). A bound too high
only lets a rare glitch count (and never more than the bound); one too low throws away
the cloudburst the alarm exists for, so an ambiguous figure is read generously.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sensors.counter import Plausibility
from sensors.register_map import RegisterMap, StatusRegister

ModelName = Literal["xm9505", "dfrobot-sen0575", "lambrecht-rain-e"]
Parity = Literal["N", "E", "O"]


@dataclass(frozen=True)
class GaugeModel:
    name: str
    maker: str
    register_map: RegisterMap
    plausibility: Plausibility
    unit: int            # factory Modbus address
    baudrate: int        # factory line settings
    parity: Parity
    stopbits: Literal[1, 2]


CATALOGUE: dict[str, GaugeModel] = {
    # A holding-register counter of tips at 0.1 mm (XUNCHIP XM9505 and the many Chinese
    # RS-485 rain gauges with the same map): manual 40001 = wire address 0.
    "xm9505": GaugeModel(
        "xm9505", "XUNCHIP (讯记)",
        RegisterMap(function="holding", register=0, width=16, scale_mm=0.1),
        Plausibility(bucket_mm=0.1, max_tips_per_s=10.0),
        unit=1, baudrate=9600, parity="N", stopbits=1,
    ),
    # DFRobot SEN0575 (Gravity rainfall sensor) in RS-485/UART mode: cumulative rainfall
    # since start in 0.0001 mm, input registers 0x0008 (low word) and 0x0009 (high word).
    "dfrobot-sen0575": GaugeModel(
        "dfrobot-sen0575", "DFRobot",
        RegisterMap(function="input", register=0x0008, width=32, word_order="little",
                    scale_mm=0.0001),
        Plausibility(bucket_mm=0.2794, max_tips_per_s=10.0),
        unit=0xC0, baudrate=9600, parity="N", stopbits=1,
    ),
    # Lambrecht rain[e] (weighing, self-emptying): "precipitation amount total (high
    # resolution)" at 31101, two input registers, high word first, 0.001 mm; the printed
    # register number is the wire address (its manual's own frames show it). The total
    # rolls over at 3000 mm (200 cm² funnel); -9999999 (0xFF676981) is its error value;
    # "status of sensor" at 34901.
    "lambrecht-rain-e": GaugeModel(
        "lambrecht-rain-e", "LAMBRECHT meteo",
        RegisterMap(function="input", register=31101, width=32, word_order="big",
                    scale_mm=0.001, rollover=3_000_000,
                    error_values=frozenset({0xFF676981}),
                    status=StatusRegister(register=34901, function="input", width=16,
                                          fault_bits=0x00FC)),
        Plausibility(bucket_mm=0.1, max_tips_per_s=10.0),
        unit=3, baudrate=19200, parity="E", stopbits=1,
    ),
}

#: A gauge configured without a model: the classic holding-register counter at 0.1 mm,
#: and a bound for the largest common bucket (0.2 mm) at 10 tips/s (120 mm/min).
GENERIC_PLAUSIBILITY = Plausibility(bucket_mm=0.2, max_tips_per_s=10.0)
