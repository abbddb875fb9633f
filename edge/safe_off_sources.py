"""What ``station-edge safe-off`` drives OFF, found in whatever is left of the configuration.

A relay or a siren coil left ON is worse than a config error, so safe-off reads every
source it has and drives OFF everything any of them names as an output:

1. the given file, when it validates;
2. the copy of the configuration the daemon last started with
   (``<data_dir>/config.last-good.json``, see :mod:`edge.last_good_config`): what a
   killed daemon may have left ON even if the file was edited since. Its ``data_dir``
   is looked for, first hit wins: ``--data-dir``; the given file's ``data_dir`` (when
   the file validates; else the first ``data_dir = "…"`` line of its text, found even
   in a file that does not parse); ``/var/lib/station-edge``, the unit's state directory;
3. when the given file does not validate, the file itself read leniently: every pin
   number under an output key, every siren's ``bus``/``unit``/``coil`` and every
   ``[modbus.buses.NAME]`` line -- from its TOML tree when it parses, else from its
   text line by line (truncated, not UTF-8, a table given twice, nested too deeply).

A pin the validated file uses as an input is never driven. Nothing here touches a
device; :mod:`edge.safe_off` drives what is found.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge.config import Config, ConfigError, load, pin_uses
from edge.gpio_outputs import output_pins
from edge.last_good_config import last_good_path, load_last_good

DEFAULT_DATA_DIR = Path("/var/lib/station-edge")
#: Keys whose integer values are output pins, wherever they appear in a raw file.
OUTPUT_KEYS = ("power_relay", "zones", "relay", "fault_led", "broadcast_led", "alarm_led",
               "buzzer")
MAX_PIN = 27


@dataclass(frozen=True)
class Line:
    """An RS-485 line as safe-off opens it."""

    name: str
    port: str
    baudrate: int = 9600
    parity: str = "N"
    stopbits: int = 1
    timeout_s: float = 0.3


@dataclass(frozen=True)
class Coil:
    id: str
    line: Line
    unit: int
    coil: int

    def __str__(self) -> str:
        return f"{self.id} ({self.line.name} unit {self.unit} coil {self.coil})"


@dataclass
class Targets:
    """Outputs to drive OFF; :meth:`add` keeps what is already known first."""

    pins: dict[int, str] = field(default_factory=dict)
    coils: dict[tuple[str, int, int], Coil] = field(default_factory=dict)
    inputs: set[int] = field(default_factory=set)
    backend: str | None = None
    data_dir: Path | None = None

    def add(self, other: Targets) -> None:
        for pin, name in other.pins.items():
            self.pins.setdefault(pin, name)
        for key, coil in other.coils.items():
            self.coils.setdefault(key, coil)
        self.inputs |= other.inputs
        self.backend = self.backend or other.backend
        self.data_dir = self.data_dir or other.data_dir

    def add_coil(self, coil: Coil) -> None:
        self.coils.setdefault((coil.line.port, coil.unit, coil.coil), coil)

    def output_pins(self) -> dict[int, str]:
        return {pin: name for pin, name in sorted(self.pins.items()) if pin not in self.inputs}


def from_config(config: Config) -> Targets:
    targets = Targets(backend=config.gpio.backend, data_dir=config.station.data_dir)
    for output_id, (_kind, pin, _max_on) in output_pins(config).items():
        targets.pins[pin] = output_id
    targets.inputs = {pin for _key, pin in pin_uses(config)} - set(targets.pins)
    lines = {name: Line(name, b.port, b.baudrate, b.parity, b.stopbits, b.timeout_s)
             for name, b in config.modbus.buses.items()}
    for siren in config.sirens:
        if siren.bus is not None and siren.unit is not None and siren.coil is not None:
            targets.add_coil(Coil(siren.id, lines[siren.bus], siren.unit, siren.coil))
    return targets


# -- a raw file ------------------------------------------------------------------------


def _int(value: Any, lo: int, hi: int) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi:
        return value
    return None


def _line(name: str, raw: Any) -> Line | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("port"), str) or not raw["port"]:
        return None
    timeout = raw.get("timeout_s")
    parity = raw.get("parity")
    return Line(name, raw["port"], _int(raw.get("baudrate"), 300, 1_000_000) or 9600,
                parity if parity in ("N", "E", "O") else "N",
                _int(raw.get("stopbits"), 1, 2) or 1,
                float(timeout) if isinstance(timeout, int | float) and 0.05 <= timeout <= 5
                else 0.3)


def _coil(raw: Any, lines: dict[str, Line], n: int) -> Coil | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("bus"), str):
        return None
    line = lines.get(raw["bus"])
    unit, coil = _int(raw.get("unit"), 1, 247), _int(raw.get("coil"), 0, 65535)
    if line is None or unit is None or coil is None:
        return None
    siren_id = raw.get("id")
    return Coil(siren_id if isinstance(siren_id, str) else f"sirens[{n}]", line, unit, coil)


def _output_pins_in_tree(raw: dict[str, Any]) -> dict[int, str]:
    """Every int under an output key anywhere in the tree (iterative: any depth)."""
    pins: dict[int, str] = {}
    stack: list[tuple[Any, str | None]] = [(raw, None)]
    while stack:
        node, key = stack.pop()
        if isinstance(node, dict):
            stack.extend((v, k if k in OUTPUT_KEYS else key) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((item, key) for item in node)
        elif key is not None and (pin := _int(node, 0, MAX_PIN)) is not None:
            pins.setdefault(pin, f"pin {pin} ({key})")
    return pins


def from_tree(raw: dict[str, Any]) -> Targets:
    """A parsed file that does not validate: whatever output it still names."""
    station = raw.get("station") if isinstance(raw.get("station"), dict) else {}
    gpio = raw.get("gpio") if isinstance(raw.get("gpio"), dict) else {}
    data_dir = station.get("data_dir") if isinstance(station, dict) else None
    backend = gpio.get("backend") if isinstance(gpio, dict) else None
    targets = Targets(pins=_output_pins_in_tree(raw),
                      backend=backend if backend in ("lgpio", "mock") else None,
                      data_dir=Path(data_dir) if isinstance(data_dir, str) else None)
    modbus = raw.get("modbus")
    buses = modbus.get("buses") if isinstance(modbus, dict) else None
    lines = {name: line for name, b in (buses.items() if isinstance(buses, dict) else [])
             if (line := _line(name, b)) is not None}
    sirens = raw.get("sirens")
    for n, siren in enumerate(sirens if isinstance(sirens, list) else []):
        if (coil := _coil(siren, lines, n)) is not None:
            targets.add_coil(coil)
    return targets


_HEADER = re.compile(r"^\s*\[\[?\s*([^\[\]]+?)\s*\]\]?\s*(?:#.*)?$")
_KEY_VALUE = re.compile(r"^\s*([A-Za-z0-9_.\"'-]+?)\s*=\s*(.*)$")
_STRING = re.compile(r"^\s*(?:\"([^\"]*)\"|'([^']*)')")
_INTEGER = re.compile(r"^\s*(0x[0-9a-fA-F]+|[0-9]+)\b")
_DATA_DIR = re.compile(r"^\s*data_dir\s*=\s*(?:\"([^\"]+)\"|'([^']+)')", re.MULTILINE)
MAX_VALUE_LINES = 50
MAX_DIGITS = 12  # longer numbers name no pin, unit or port setting (and int() has a limit)
_NUMBER = re.compile(rf"\b[0-9]{{1,{MAX_DIGITS}}}\b")


def _value(text: str) -> Any:
    """A scalar from its TOML text (string or integer), else the text itself."""
    if (string := _STRING.match(text)) is not None:
        return string.group(1) if string.group(1) is not None else string.group(2)
    if (integer := _INTEGER.match(text)) is not None and len(integer.group(1)) <= MAX_DIGITS:
        return int(integer.group(1), 0)
    return text


def _tables(text: str) -> list[tuple[str, dict[str, str]]]:
    """``(table path, {key: value text})`` in file order; a multi-line array is joined."""
    tables: list[tuple[str, dict[str, str]]] = [("", {})]
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if (header := _HEADER.match(line)) is not None:
            tables.append((header.group(1).replace(" ", "").replace('"', ""), {}))
        elif (pair := _KEY_VALUE.match(line)) is not None:
            value = pair.group(2)
            for _ in range(MAX_VALUE_LINES):
                if value.count("[") + value.count("{") <= value.count("]") + value.count("}") \
                        or i >= len(lines):
                    break
                value += " " + lines[i]
                i += 1
            tables[-1][1][pair.group(1).strip("\"'")] = value
    return tables


def from_text(text: str) -> Targets:
    """A file that does not even parse: every output found line by line."""
    targets = Targets()
    lines: dict[str, Line] = {}
    sirens: list[dict[str, Any]] = []
    tables = _tables(text)
    for path, values in tables:
        if path.startswith("modbus.buses."):
            name = path.removeprefix("modbus.buses.")
            line = _line(name, {k: _value(v) for k, v in values.items()})
            if line is not None:
                lines[name] = line
        elif path == "sirens":
            sirens.append({k: _value(v) for k, v in values.items()})
        elif path == "gpio" and _value(values.get("backend", "")) in ("lgpio", "mock"):
            targets.backend = targets.backend or _value(values["backend"])
        for key, value in values.items():
            if key.rsplit(".", 1)[-1] in OUTPUT_KEYS or path.endswith(".zones"):
                for number in _NUMBER.findall(value.split("#", 1)[0]):
                    if (pin := _int(int(number), 0, MAX_PIN)) is not None:
                        targets.pins.setdefault(pin, f"pin {pin} ({key})")
    for n, siren in enumerate(sirens):
        if (coil := _coil(siren, lines, n)) is not None:
            targets.add_coil(coil)
    targets.data_dir = data_dir_in_text(text)
    return targets


def data_dir_in_text(text: str) -> Path | None:
    """The first ``data_dir = "…"`` line, even in a file that does not parse."""
    found = _DATA_DIR.search(text)
    return Path(found.group(1) or found.group(2)) if found else None


def from_raw_text(text: str) -> Targets:
    try:
        raw = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError, ValueError):  # ValueError: int() limit
        return from_text(text)
    return from_tree(raw)


# -- all sources -----------------------------------------------------------------------


def read_text(path: Path) -> str:
    """The file's text, whatever its bytes (undecodable ones become U+FFFD); "" if unreadable."""
    try:
        return path.read_bytes().decode("utf-8", errors="replace")
    except OSError:
        return ""


def _validated(config_path: Path) -> tuple[Config | None, list[str]]:
    try:
        return load(config_path), []
    except ConfigError as exc:
        problems = exc.problems
    except Exception as exc:  # a reader's own limit (an integer of a million digits …)
        problems = [f"{type(exc).__name__}: {exc}"]
    return None, [f"{config_path} does not validate:", *(f"  {p}" for p in problems)]


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):  # a NUL byte in a path read from a broken file
        return False


def _short(problem: str, limit: int = 160) -> str:
    problem = problem.removeprefix(": ")
    return problem if len(problem) <= limit else problem[:limit] + "…"


def _last_good(candidates: list[Path | None]) -> tuple[Config | None, list[str]]:
    """The daemon's copy from the first place that has a usable one."""
    searched: list[str] = []
    unusable: list[str] = []
    for candidate in dict.fromkeys(d for d in candidates if d is not None):
        path = last_good_path(candidate)
        searched.append(str(path))
        try:
            return load_last_good(candidate), [
                f"outputs of the configuration the daemon last started with: {path}"]
        except ConfigError as exc:
            if _exists(path):
                unusable.append(f"{path} is not usable: {_short(exc.problems[0])}")
        except Exception as exc:
            unusable.append(f"{path} is not usable: {type(exc).__name__}: {exc}")
    return None, [*unusable, "no usable copy of a last good configuration in: "
                  + ", ".join(searched)]


def gather(config_path: Path, data_dir: Path | None = None) -> tuple[Targets, list[str]]:
    """Every output to drive OFF, and notes on where they were found (for stderr)."""
    targets = Targets(data_dir=data_dir)
    config, notes = _validated(config_path)
    text = "" if config is not None else read_text(config_path)
    if config is not None:
        targets.add(from_config(config))
    copy, found = _last_good([data_dir, config.station.data_dir if config
                              else data_dir_in_text(text), DEFAULT_DATA_DIR])
    if copy is not None:
        targets.add(from_config(copy))
        notes += found
    elif config is None:
        notes += found
    if config is None:
        try:
            targets.add(from_raw_text(text))
        except Exception as exc:  # never lose what the other sources found
            notes.append(f"{config_path} could not be read for outputs: "
                         f"{type(exc).__name__}: {exc}")
        else:
            notes.append(f"and every output pin and coil found in {config_path}")
    return targets, notes
