"""From a ``[[rain_gauges]]`` entry to the gauge's register map and plausibility bound.

A ``model = …`` entry is filled from the catalogue (:mod:`sensors.gauge_models`) as if
its keys had been written out; keys written in the entry win. The same conversion is
used by config validation (a bad map is refused with its key path) and by the daemon.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sensors.counter import Plausibility
from sensors.gauge_models import CATALOGUE, GaugeModel
from sensors.register_map import RegisterMap, StatusRegister, unsigned

if TYPE_CHECKING:
    from edge.config import RainGaugeConfig


def model_keys(model: GaugeModel) -> dict[str, Any]:
    """A catalogue entry as the keys of a ``[[rain_gauges]]`` entry would give it."""
    m = model.register_map
    keys: dict[str, Any] = {
        "unit": model.unit, "function": m.function, "register": m.register, "width": m.width,
        "word_order": m.word_order, "scale_mm": m.scale_mm,
        "error_values": sorted(m.error_values),
        "bucket_mm": model.plausibility.bucket_mm,
        "max_tips_per_s": model.plausibility.max_tips_per_s,
    }
    if m.rollover is not None:
        keys["rollover"] = m.rollover
    if m.status is not None:
        keys["status_register"] = {
            "register": m.status.register, "function": m.status.function,
            "width": m.status.width, "fault_bits": m.status.fault_bits,
            "fault_values": sorted(m.status.fault_values),
        }
    return keys


def with_model(data: Any) -> Any:
    """Raw entry data with its model's keys filled in under the keys given."""
    if isinstance(data, dict) and isinstance(data.get("model"), str):
        model = CATALOGUE.get(data["model"])
        if model is not None:
            return {**model_keys(model), **data}
    return data


def register_map_for(cfg: RainGaugeConfig) -> RegisterMap:
    """Raises ValueError (with the offending key first) when the keys do not fit together."""
    status = None
    if cfg.status_register is not None:
        s = cfg.status_register
        status = StatusRegister(register=s.register_address, function=s.function,
                                width=s.width, fault_bits=s.fault_bits,
                                fault_values=frozenset(s.fault_values))
    try:
        errors = frozenset(unsigned(v, cfg.width) for v in cfg.error_values)
    except ValueError as exc:
        raise ValueError(f"error_values: {exc}") from None
    return RegisterMap(function=cfg.function, register=cfg.register_address, width=cfg.width,
                       word_order=cfg.word_order, scale_mm=cfg.scale_mm, rollover=cfg.rollover,
                       error_values=errors, status=status)


def plausibility_for(cfg: RainGaugeConfig) -> Plausibility:
    return Plausibility(bucket_mm=cfg.bucket_mm, max_tips_per_s=cfg.max_tips_per_s)
