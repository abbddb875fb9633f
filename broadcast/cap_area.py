"""Is an alert's area this station's? Codes, polygons, circles.

A geocode is compared with the station's configured area codes in two ways:

- Chinese administrative division codes (GB/T 2260 for 6 digits, GB/T 10114 for the
  9-digit township and 12-digit village extensions) are hierarchical, so they are compared
  by their significant prefix: trailing zero groups are dropped (``420000`` is province
  ``42``, ``421100`` city ``4211``, ``421127000000`` county ``421127``), and two codes match
  when one prefix starts the other. An alert for county 421127 therefore reaches the
  station of township 421127101, and an alert for village 421127101001 reaches the station
  of that township (it broadcasts to its villages). An all-zero code names nothing and
  matches nothing.
- Any other code (a SAME code, a name) matches only when equal.

The ``valueName`` of a geocode is not looked at: senders name the same scheme differently.

A polygon or circle matches when the station's point (configured latitude, longitude) lies
inside it. Without a configured point, shapes are not used.

An ``info`` that gives no geocode, polygon or circle at all (only ``areaDesc``, or no area)
says nothing about where it applies. It came to this station by an authenticated push from
the county, so by default it is taken as meant for this station (``accept_unlocated``);
a station that listens to a wider feed sets that to False and such alerts are ignored.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from .cap_model import CapArea, CapInfo, Circle

_EARTH_RADIUS_KM = 6371.0088


@dataclass(frozen=True)
class StationArea:
    """Where the station is, as configured: its area codes and optionally its position."""

    codes: frozenset[str]
    point: tuple[float, float] | None = None  # (lat, lon), WGS 84
    accept_unlocated: bool = True

    def __post_init__(self) -> None:
        if self.point is not None:
            lat, lon = self.point
            if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
                raise ValueError(f"point must be (lat, lon) in WGS 84, got {self.point}")


def division_prefix(code: str) -> str | None:
    """The significant prefix of an administrative division code, None if it is not one."""
    if not code.isdigit() or len(code) not in (6, 9, 12) or not code.strip("0"):
        return None
    if len(code) == 12 and code.endswith("000"):
        code = code[:9]
    if len(code) == 9 and code.endswith("000"):
        code = code[:6]
    if len(code) == 6:
        if code.endswith("0000"):
            return code[:2]
        if code.endswith("00"):
            return code[:4]
    return code


def codes_match(alert_code: str, station_code: str) -> bool:
    a, s = alert_code.strip(), station_code.strip()
    pa, ps = division_prefix(a), division_prefix(s)
    if pa is not None and ps is not None:
        return pa.startswith(ps) or ps.startswith(pa)
    return bool(a) and a == s


def info_match(info: CapInfo, station: StationArea) -> str | None:
    """How ``info`` reaches the station (for the journal), or None when it does not."""
    if not info.located:
        return "no geocode, polygon or circle: pushed to this station" if (
            station.accept_unlocated) else None
    for area in info.areas:
        how = _area_match(area, station)
        if how is not None:
            return how
    return None


def _area_match(area: CapArea, station: StationArea) -> str | None:
    for geocode in area.geocodes:
        for code in sorted(station.codes):
            if codes_match(geocode.value, code):
                return f"geocode {geocode.value} matches station area {code}"
    if station.point is None:
        return None
    lat, lon = station.point
    for ring in area.polygons:
        if point_in_polygon(lat, lon, ring):
            return f"station point inside a polygon of {area.description!r}"
    for circle in area.circles:
        if point_in_circle(lat, lon, circle):
            return f"station point inside a circle of {area.description!r}"
    return None


def point_in_polygon(lat: float, lon: float, ring: tuple[tuple[float, float], ...]) -> bool:
    """Even-odd rule on the lat/lon plane: exact enough for areas of a few hundred km."""
    inside = False
    for (lat1, lon1), (lat2, lon2) in itertools.pairwise(ring):
        if (lon1 > lon) != (lon2 > lon):
            crossing = lat1 + (lon - lon1) * (lat2 - lat1) / (lon2 - lon1)
            if lat < crossing:
                inside = not inside
    return inside


def point_in_circle(lat: float, lon: float, circle: Circle) -> bool:
    return distance_km(lat, lon, circle.lat, circle.lon) <= circle.radius_km


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))
