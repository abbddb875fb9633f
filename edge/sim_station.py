"""``station-edge run --sim``: a complete station on simulated hardware.

The embedded configuration (``sim_config.toml``) is filled in with the data directory,
the listen address and the addresses of the simulators started as child processes; it
is written to ``<data_dir>/config.toml`` so ``station-edge safe-off --config`` and a
person can see exactly what ran.
"""

from __future__ import annotations

import string
from contextlib import ExitStack
from importlib import resources
from pathlib import Path

from edge.config import SIM_TOKENS, Config, parse

DEFAULT_DATA_DIR = Path("var/sim")
DEFAULT_LISTEN = "127.0.0.1:8080"


def sim_config_text(
    data_dir: Path, listen: str, time_scale: float, devices: dict[str, str]
) -> str:
    template = resources.files("edge").joinpath("sim_config.toml").read_text(encoding="utf-8")
    return string.Template(template).substitute(
        data_dir=str(data_dir.resolve()), listen=listen, time_scale=time_scale, **devices
    )


def start_simulators(stack: ExitStack, time_scale: float) -> dict[str, str]:
    """Start the hardware simulators; returns template values naming their addresses."""
    return {}


def prepare(
    stack: ExitStack, data_dir: Path | None, listen: str | None, time_scale: float = 1.0
) -> Config:
    data_dir = data_dir or DEFAULT_DATA_DIR
    data_dir.mkdir(parents=True, exist_ok=True)
    devices = start_simulators(stack, time_scale)
    text = sim_config_text(data_dir, listen or DEFAULT_LISTEN, time_scale, devices)
    (data_dir / "config.toml").write_text(text, encoding="utf-8")
    return parse(text)


def banner() -> str:
    lines = ["Simulated station. API tokens:"]
    lines += [f"  {role:9} {token}" for role, token in SIM_TOKENS.items()]
    lines.append("Drive a panel button: POST /api/v1/sim/gpio/17 {\"level\": 0}")
    return "\n".join(lines)
