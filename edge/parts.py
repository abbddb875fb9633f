"""The station's capabilities, each built from its config section.

How to add a device or capability: see docs/adding-a-device.md. In short, write the
domain part in ``sensors/``, ``broadcast/`` or ``sat_phone/`` (no imports of ``edge``),
a wiring module in ``edge/`` that builds it from the config, reports into
``station.health``, journals through ``station.journal``, switches outputs through
``station.outputs`` and registers lifecycle handlers; then build it here and, if it
has routes, include them in ``edge/api/app.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edge.station import Station


def build_parts(station: Station) -> dict[str, Any]:
    parts: dict[str, Any] = {}
    if station.config.amplifier is not None:
        from edge.broadcasting import Broadcasting

        parts["broadcasting"] = Broadcasting(station)
    return parts
