"""China's CAP profile, GB/T 35965.1-2018 (应急信息交互协议 第1部分：预警信息), as this
station checks it.

What the standard says, as far as the station relies on it (its Annex A, value rules):

- the identifier is ``ZZZZZZDDDUUUXX_YYYYMMDDhhmmss_N``, 31 characters: the issuing unit's
  code (6-digit administrative division per GB/T 2260, 3-digit agency-sector code per
  GB/T 4657, 3-digit internal sub-unit code "000" by default, 2-digit extension "00" by
  default), the entry time in Beijing time, and a serial 0-9 for messages of one unit
  entered in the same second;
- times are Beijing time, written with the offset ``+08:00``;
- warnings have four levels, red/orange/yellow/blue (红/橙/黄/蓝), i.e. I-IV
  (特别重大/重大/较大/一般), as the Emergency Response Law grades them.

What this station assumes, because the full text of the standard was not at hand:

- An alert *claims* the profile when a ``<code>`` names the standard (``GB/T 35965.1``,
  with or without the year, spaces or slash), when its identifier looks like the profile's
  (six digits, then two ``_``-separated parts), or when the station is configured to accept
  nothing else (``require=True``). A claimed profile is then checked strictly.
- The colour travels in a ``<parameter>`` or an ``<eventCode>`` (both OASIS-valid), under
  one of :data:`COLOUR_VALUE_NAMES`; the value may be the colour in English or Chinese, the
  level in Roman, Arabic or Chinese numerals, with or without 色/级/预警. ``<severity>`` keeps
  the OASIS values (Extreme/Severe/Moderate/Minor/Unknown): a profile that put colours in
  ``<severity>`` would not validate against the OASIS schema the issue requires.
- In a claimed profile every ``info`` of an Alert or Update carries exactly one colour, and
  the colour agrees with ``<severity>`` (red=Extreme, orange=Severe, yellow=Moderate,
  blue=Minor) unless the severity is Unknown: a contradiction is refused rather than
  guessed, so the county learns at once that its sender is misconfigured.
- Outside a claimed profile a recognisable colour is still used for the level, and an
  unrecognisable one is ignored.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import get_args

from drivers.clock import BEIJING

from .cap_model import CHINA_IDENTIFIER, CapAlert, CapInfo, NamedValue
from .record import BroadcastLevel

BEIJING_OFFSET = BEIJING.utcoffset(None)

COLOUR_VALUE_NAMES = frozenset({
    "预警级别", "预警等级", "预警颜色", "级别", "颜色",
    "level", "alertlevel", "warninglevel", "color", "colour", "alertcolor", "alertcolour",
})

LEVEL_SEVERITY: dict[BroadcastLevel, str] = {
    "I": "Extreme", "II": "Severe", "III": "Moderate", "IV": "Minor",
}
LEVEL_COLOUR: dict[BroadcastLevel, str] = {
    "I": "Red", "II": "Orange", "III": "Yellow", "IV": "Blue",
}
LEVEL_COLOUR_ZH: dict[BroadcastLevel, str] = {
    "I": "红色", "II": "橙色", "III": "黄色", "IV": "蓝色",
}

_LEVEL_NAMES: dict[BroadcastLevel, tuple[str, ...]] = {
    "I": ("red", "红", "i", "ⅰ", "1", "一"),
    "II": ("orange", "橙", "ii", "ⅱ", "2", "二"),
    "III": ("yellow", "黄", "iii", "ⅲ", "3", "三"),
    "IV": ("blue", "蓝", "iv", "ⅳ", "4", "四"),
}
_LEVEL_WORDS: dict[str, BroadcastLevel] = {
    word: level for level, words in _LEVEL_NAMES.items() for word in words
}
assert set(_LEVEL_WORDS.values()) == set(get_args(BroadcastLevel))

_PROFILE_CODE = re.compile(r"^GB/?T35965(\.1)?(-2018)?$", re.IGNORECASE)
_PROFILE_SHAPE = re.compile(r"^\d{6}[^_]*_[^_]*_[^_]*$")


def colour_level(value: str) -> BroadcastLevel | None:
    """The level a colour or level word names ("红色预警", "Orange", "Ⅲ级", "4"), or None."""
    word = re.sub(r"\s+", "", value).lower()
    for suffix in ("预警", "级", "色"):
        word = word.removesuffix(suffix)
    return _LEVEL_WORDS.get(word)


def _colour_items(info_values: tuple[NamedValue, ...]) -> list[NamedValue]:
    return [v for v in info_values if re.sub(r"[\s_-]", "", v.name).lower() in COLOUR_VALUE_NAMES]


def info_colours(parameters: tuple[NamedValue, ...], event_codes: tuple[NamedValue, ...]
                 ) -> list[NamedValue]:
    """Every parameter or eventCode that is meant to carry the warning colour."""
    return _colour_items(parameters) + _colour_items(event_codes)


def level_of(parameters: tuple[NamedValue, ...], event_codes: tuple[NamedValue, ...]
             ) -> BroadcastLevel | None:
    """The first recognisable colour's level (outside the profile, others are ignored)."""
    for item in info_colours(parameters, event_codes):
        level = colour_level(item.value)
        if level is not None:
            return level
    return None


def claims_profile(codes: tuple[str, ...], identifier: str) -> bool:
    return any(_PROFILE_CODE.match(re.sub(r"\s+", "", c)) for c in codes) or bool(
        _PROFILE_SHAPE.match(identifier)
    )


def profile_problems(alert: CapAlert) -> list[str]:
    """Everything in ``alert`` that breaks the profile (empty: it conforms)."""
    problems = _identifier_problems(alert.identifier)
    times: list[tuple[str, datetime | None]] = [("sent", alert.sent)]
    times += [(f"references[{i}].sent", r.sent) for i, r in enumerate(alert.references)]
    for n, info in enumerate(alert.infos):
        times += [(f"info[{n}].{name}", getattr(info, name))
                  for name in ("effective", "onset", "expires")]
    for name, when in times:
        if when is not None and when.utcoffset() != BEIJING_OFFSET:
            problems.append(f"{name} must be Beijing time (+08:00), got {when.isoformat()}")
    for n, info in enumerate(alert.infos):
        problems += _colour_problems(f"info[{n}]", info, required=alert.msg_type in
                                     ("Alert", "Update"))
    return problems


def _identifier_problems(identifier: str) -> list[str]:
    m = CHINA_IDENTIFIER.match(identifier)
    if m is None:
        return [
            f"identifier must be ZZZZZZDDDUUUXX_YYYYMMDDhhmmss_N (31 characters: unit code of "
            f"14 digits, entry time of 14 digits, serial 0-9), got {identifier!r}"
        ]
    division, _sector, _unit, _ext, entered, _serial = m.groups()
    problems = []
    if division == "000000":
        problems.append("identifier: the administrative division code is 000000")
    try:
        datetime.strptime(entered, "%Y%m%d%H%M%S")
    except ValueError:
        problems.append(f"identifier: entry time {entered} is not a date and time")
    return problems


def _colour_problems(where: str, info: CapInfo, *, required: bool) -> list[str]:
    items = info_colours(info.parameters, info.event_codes)
    if not items:
        if required:
            names = "/".join(sorted(COLOUR_VALUE_NAMES))
            return [f"{where}: no warning colour (a parameter or eventCode named one of "
                    f"{names}, valued red/orange/yellow/blue or I-IV)"]
        return []
    levels = {colour_level(i.value) for i in items}
    if None in levels:
        bad = [i.value for i in items if colour_level(i.value) is None]
        return [f"{where}: warning colour {bad[0]!r} is none of red/orange/yellow/blue, I-IV"]
    if len(levels) > 1:
        return [f"{where}: contradictory warning colours {[i.value for i in items]}"]
    level = levels.pop()
    assert level is not None
    if info.severity not in ("Unknown", LEVEL_SEVERITY[level]):
        return [f"{where}: colour {LEVEL_COLOUR[level].lower()} (level {level}) contradicts "
                f"severity {info.severity} (expected {LEVEL_SEVERITY[level]} or Unknown)"]
    return []
