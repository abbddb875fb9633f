"""``station-edge run --sim``: a complete station on simulated hardware.

The embedded configuration (``sim_config.toml``) is filled in with the data directory,
the listen address and the addresses of the simulators started as child processes; it
is written to ``<data_dir>/config.toml`` so ``station-edge safe-off --config`` and a
person can see exactly what ran.
"""

from __future__ import annotations

import json
import logging
import string
from collections.abc import Callable
from contextlib import ExitStack
from importlib import resources
from pathlib import Path

from drivers.sip_ua import unavailable as sip_unavailable
from edge.config import SIM_TOKENS, Config, parse
from edge.sim.simulators import Simulator, SimulatorUnavailable

log = logging.getLogger(__name__)

DEFAULT_DATA_DIR = Path("var/sim")
DEFAULT_LISTEN = "127.0.0.1:8080"


#: Where the satellite terminal is when no simulator was started (a station built from the
#: template in tests): a path that cannot open, so the phone is simply offline.
NO_MODEM = "/nonexistent/sim-modem-tty"
NO_MODEM_AUDIO = "/nonexistent/sim-modem-audio.sock"

#: The phones of the simulated county PBX: the [[sat_phone.callout]] numbers of the template.
PBX_PHONES = ("+8613800000002", "+8613800000003")
#: The registrar when the simulated PBX did not start: nothing answers there.
NO_PBX = "127.0.0.1:9"
PBX_START, PBX_END = "# == the simulated county PBX", "# == end of the simulated PBX =="

#: Gauges are polled at most this often in real time, whatever the time scale, so a
#: fast simulation stays within what one 9600-baud line can carry.
MAX_REAL_POLLS_PER_S = 5.0


def poll_interval_s(time_scale: float) -> float:
    return round(max(1.0, time_scale / MAX_REAL_POLLS_PER_S), 3)


#: Who the simulated station is unless told otherwise (``run --sim --station-id`` …).
DEFAULT_IDENTITY = {"station_id": "SIM-001", "station_name": "沙沟镇应急管理站（模拟）",
                    "area_code": "421127"}


def sim_config_text(
    data_dir: Path, listen: str, time_scale: float, devices: dict[str, str],
    identity: dict[str, str] | None = None,
) -> str:
    template = resources.files("edge.sim").joinpath("sim_config.toml").read_text(encoding="utf-8")
    if "sip_registrar" not in devices:  # no PBX asked for (a station built in a test): no [sip]
        start = template.index(PBX_START)
        end = template.index("\n", template.index(PBX_END)) + 1
        template = template[:start] + template[end:]
    values: dict[str, object] = {
        "gauge_port": "socket://127.0.0.1:9", "poll_interval_s": poll_interval_s(time_scale),
        "modem_port": NO_MODEM, "modem_audio": NO_MODEM_AUDIO, **DEFAULT_IDENTITY}
    values.update(identity or {})
    values.update(devices)
    return string.Template(template).substitute(
        data_dir=str(data_dir.resolve()), listen=listen, time_scale=time_scale, **values
    )


def start_modem(stack: ExitStack, data_dir: Path) -> dict[str, str]:
    """The satellite terminal on a pty (stable link in ``data_dir``) with its call audio."""
    link = data_dir.resolve() / "sim-modem-tty"
    audio = data_dir.resolve() / "sim-modem-audio.sock"
    modem = Simulator("at_modem_sim.py", [
        "--personality", "iridium", "--link", str(link), "--audio", str(audio),
    ], name="satellite terminal")
    stack.callback(modem.stop)
    _, _, control = modem.address.partition(" control=")
    return {"modem_port": str(link), "modem_audio": str(audio), "modem_control": control}


def start_pbx(stack: ExitStack, data_dir: Path) -> Callable[[], dict[str, str]]:
    """Start the county PBX with the on-call phones (kamailio and baresip, through
    hw-sim/sip_pbx_sim.py). Returns what waits for it (start the other simulators first:
    they start meanwhile) and gives the template values; without the PBX,
    ``sip_unavailable`` says why."""
    why = sip_unavailable()
    pbx = None
    if why is None:
        phones = [arg for number in PBX_PHONES for arg in ("--phone", number)]
        pbx = Simulator("sip_pbx_sim.py", ["--dir", str(data_dir.resolve() / "sim-pbx"),
                                           *phones], name="county PBX", wait=False)
        stack.callback(pbx.stop)

    def ready() -> dict[str, str]:
        reason = why
        if pbx is not None:
            try:
                found = dict(part.split("=", 1) for part in pbx.wait_ready().split())
                return {"sip_registrar": found["registrar"], "sip_control": found["control"]}
            except (SimulatorUnavailable, RuntimeError) as exc:
                reason = str(exc)
        log.warning("no simulated county PBX: %s", reason)
        return {"sip_registrar": NO_PBX, "sip_unavailable": str(reason)}

    return ready


def start_simulators(stack: ExitStack, time_scale: float) -> dict[str, str]:
    """Start the hardware simulators; returns template values naming their addresses."""
    gauges = Simulator("modbus_gauge_sim.py", [
        "--listen", "socket://127.0.0.1:0", "--stdin", "ignore", "--control",
        "--time-scale", str(time_scale), "--rain", "none",
        "--unit", "1",
        "--unit", "2,function=input,width=32,word_order=little,scale_mm=0.01",
        "--unit", "10",
    ], name="rain gauges and remote I/O")
    stack.callback(gauges.stop)
    url, _, control = gauges.address.partition(" control=")
    return {"gauge_port": url, "gauge_control": control}


def prepare(
    stack: ExitStack, data_dir: Path | None, listen: str | None, time_scale: float = 1.0,
    identity: dict[str, str] | None = None,
) -> Config:
    """Start the simulators and build the station's config; ``identity`` may set
    ``station_id``, ``station_name`` and ``area_code`` (one of a fleet of stations)."""
    data_dir = data_dir or DEFAULT_DATA_DIR
    data_dir.mkdir(parents=True, exist_ok=True)
    pbx_ready = start_pbx(stack, data_dir)
    devices = start_simulators(stack, time_scale)
    devices.update(start_modem(stack, data_dir))
    devices.update(pbx_ready())
    text = sim_config_text(data_dir, listen or DEFAULT_LISTEN, time_scale, devices, identity)
    (data_dir / "config.toml").write_text(text, encoding="utf-8")
    (data_dir / "sim-devices.json").write_text(json.dumps(devices, indent=1), encoding="utf-8")
    return parse(text)


def banner(data_dir: Path | None = None) -> str:
    lines = ["Simulated station. API tokens:"]
    lines += [f"  {role:9} {token}" for role, token in SIM_TOKENS.items()]
    lines.append("Drive a panel button: POST /api/v1/sim/gpio/17 {\"level\": 0}")
    devices_file = (data_dir or DEFAULT_DATA_DIR) / "sim-devices.json"
    if devices_file.exists():
        devices = json.loads(devices_file.read_text(encoding="utf-8"))
        if "gauge_control" in devices:
            lines.append(f"Rain gauge simulator control: tcp {devices['gauge_control']}, one "
                         "command per line, e.g. 'profile 1 constant:120' (hw-sim/README.md)")
        if "modem_control" in devices:
            lines.append(f"Satellite terminal simulator control: tcp {devices['modem_control']}, "
                         "JSON per line, e.g. {\"cmd\": \"ring\", \"number\": \"+8613800000001\"}"
                         " (hw-sim/at_modem_sim.py)")
        if "sip_control" in devices:
            lines.append(f"County PBX simulator (kamailio at {devices['sip_registrar']}): the "
                         f"phones {', '.join(PBX_PHONES)} pick up 叫醒 calls and press 1 after "
                         f"the message; control: tcp {devices['sip_control']}, JSON per line, "
                         "e.g. {\"cmd\": \"phone\", \"number\": \"+8613800000002\", "
                         "\"answer\": false} (hw-sim/sip_pbx_sim.py)")
        elif "sip_unavailable" in devices:
            lines.append(f"No simulated county PBX ({devices['sip_unavailable']}): SIP is "
                         "degraded and 叫醒 falls back to the satellite SMS tiers")
    return "\n".join(lines)
