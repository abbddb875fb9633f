"""The county's list of stations: a TOML file, checked strictly.

```toml
[county]
name = "黄梅县"
code = "421127"            # GB/T 2260 division code of the county

[defaults]                 # optional: what every station has unless it says otherwise
token_file = "/etc/station-county/viewer.token"     # viewer: status, events, spot checks
operator_token_file = "/etc/station-county/operator.token"   # operator: CAP push

[[stations]]
id = "SG-001"
name = "沙沟镇应急管理站"
url = "http://10.20.1.11:8080"
area = "421127101"         # the township's division code (GB/T 2260 + GB/T 10114)
township = "沙沟镇"
```

A token is given in clear (``token``) or, better, in a file (``token_file``). An unknown
key is an error with its key path, as in the station's own configuration: a typo must
not silently leave a station out of a spot check.
"""

from __future__ import annotations

import random
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


class StationListError(Exception):
    """The station list cannot be used; ``problems`` has one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Station:
    id: str
    name: str
    url: str
    area: str
    township: str
    token: str
    operator_token: str | None

    @property
    def address(self) -> str:
        """``host:port``, as Prometheus names a target."""
        parts = urlsplit(self.url)
        return parts.netloc


@dataclass(frozen=True)
class County:
    name: str
    code: str
    stations: tuple[Station, ...]


COUNTY_KEYS = {"name", "code"}
TOKEN_KEYS = {"token", "token_file", "operator_token", "operator_token_file"}
STATION_KEYS = {"id", "name", "url", "area", "township"} | TOKEN_KEYS


def load(path: Path) -> County:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise StationListError([f"{path}: {exc.strerror}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise StationListError([f"{path}: {exc}"]) from None
    return parse(data, base=path.parent)


def parse(data: dict[str, Any], *, base: Path) -> County:
    problems: list[str] = []
    for key in sorted(set(data) - {"county", "defaults", "stations"}):
        problems.append(f"{key}: unknown key")
    county = _table(data, "county", problems)
    defaults = _table(data, "defaults", problems)
    _unknown(county, COUNTY_KEYS, "county", problems)
    _unknown(defaults, TOKEN_KEYS, "defaults", problems)
    raw = data.get("stations", [])
    if not isinstance(raw, list) or not raw:
        problems.append("stations: at least one [[stations]] is needed")
        raw = []
    stations: list[Station] = []
    seen: set[str] = set()
    for index, entry in enumerate(raw):
        where = f"stations[{index}]"
        if not isinstance(entry, dict):
            problems.append(f"{where}: must be a table")
            continue
        _unknown(entry, STATION_KEYS, where, problems)
        station = _station(entry, defaults, base, where, problems)
        if station is None:
            continue
        if station.id in seen:
            problems.append(f"{where}.id: {station.id!r} is listed twice")
        seen.add(station.id)
        stations.append(station)
    if problems:
        raise StationListError(problems)
    return County(str(county.get("name", "")), str(county.get("code", "")), tuple(stations))


def _table(data: dict[str, Any], key: str, problems: list[str]) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        problems.append(f"{key}: must be a table")
        return {}
    return value


def _unknown(table: dict[str, Any], known: set[str], where: str, problems: list[str]) -> None:
    for key in sorted(set(table) - known):
        problems.append(f"{where}.{key}: unknown key")


def _text(entry: dict[str, Any], key: str, where: str, problems: list[str],
          required: bool = True) -> str:
    value = entry.get(key)
    if value is None:
        if required:
            problems.append(f"{where}.{key}: missing")
        return ""
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{where}.{key}: must be a non-empty string, got {value!r}")
        return ""
    return value.strip()


def _secret(entry: dict[str, Any], defaults: dict[str, Any], key: str, base: Path,
            where: str, problems: list[str]) -> str | None:
    """``key`` or ``key_file`` from the station, else from the defaults."""
    for source, source_where in ((entry, where), (defaults, "defaults")):
        if key in source and f"{key}_file" in source:
            problems.append(f"{source_where}: give {key} or {key}_file, not both")
            return None
        if key in source:
            return _text(source, key, source_where, problems)
        if f"{key}_file" in source:
            file = base / _text(source, f"{key}_file", source_where, problems)
            try:
                return file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                problems.append(f"{source_where}.{key}_file: {file}: {exc.strerror}")
                return None
    return None


def _station(entry: dict[str, Any], defaults: dict[str, Any], base: Path, where: str,
             problems: list[str]) -> Station | None:
    before = len(problems)
    station_id = _text(entry, "id", where, problems)
    url = _text(entry, "url", where, problems).rstrip("/")
    parts = urlsplit(url)
    if url and (parts.scheme not in ("http", "https") or not parts.netloc):
        problems.append(f"{where}.url: must be http(s)://host:port, got {url!r}")
    area = _text(entry, "area", where, problems)
    if area and not area.isdigit():
        problems.append(f"{where}.area: must be a division code (digits), got {area!r}")
    token = _secret(entry, defaults, "token", base, where, problems)
    if token is None and len(problems) == before:
        problems.append(f"{where}.token: missing (here or in [defaults])")
    operator = _secret(entry, defaults, "operator_token", base, where, problems)
    name = _text(entry, "name", where, problems, required=False)
    township = _text(entry, "township", where, problems, required=False)
    if len(problems) > before:
        return None
    assert token is not None
    return Station(id=station_id, name=name or station_id, url=url, area=area,
                   township=township, token=token, operator_token=operator)


def division_prefix(code: str) -> str:
    """The significant part of a division code: trailing all-zero levels dropped.

    ``420000`` is province 42, ``421100`` city 4211, ``421127000`` county 421127.
    """
    levels = [code[:2], code[2:4], code[4:6], code[6:9], code[9:12]]
    while len(levels) > 1 and (not levels[-1] or not levels[-1].strip("0")):
        levels.pop()
    return "".join(levels)


def in_area(station: Station, code: str) -> bool:
    """True if the station's area lies within ``code`` (or ``code`` within it)."""
    mine, theirs = division_prefix(station.area), division_prefix(code)
    return mine.startswith(theirs) or theirs.startswith(mine)


def choose(stations: tuple[Station, ...] | list[Station], *, area: str | None = None,
           ids: list[str] | None = None, sample: int | None = None,
           rng: random.Random | None = None) -> list[Station]:
    """The stations a command acts on, in list order."""
    chosen = [s for s in stations if (area is None or in_area(s, area))
              and (not ids or s.id in ids)]
    if ids:
        unknown = sorted(set(ids) - {s.id for s in stations})
        if unknown:
            raise StationListError([f"no station {i!r} in the list" for i in unknown])
    if sample is not None and sample < len(chosen):
        picked = set((rng or random.Random()).sample(range(len(chosen)), sample))
        chosen = [s for i, s in enumerate(chosen) if i in picked]
    return chosen
