"""What the station does with a CAP alert: the decision, without doing anything.

The order of the questions, and the answer each gives:

======================  =========  ==============================================
question                action     why
======================  =========  ==============================================
status Draft            ignore     a draft is nobody's alert
already received        ignore     two county servers, or a retry: plays once
status System           journal    heartbeats and network messages, never aired
msgType Ack / Error     ignore     replies between systems, nothing to air
superseded              ignore     an Update/Cancel referring to it came first
status Test             silent     journaled to prove the chain works, never sounds
msgType Cancel          stop       never aired; stops what it references
no info for our area    ignore     (an Update: stop, its old area included us)
all such info expired   ignore     (an Update: stop, the warning is over)
msgType Alert           play       Exercise: with the spoken drill prefix
msgType Update          replace    stop what it references, play this one
======================  =========  ==============================================

Priority (who takes the loudspeakers, :class:`~broadcast.priority.Priority`), from the
info's severity — or, when it carries a China colour, the severity of its level (I
Extreme, II Severe, III Moderate, IV Minor) — and urgency:

- urgency Past → ROUTINE: CAP defines Past as "responsive action is no longer required";
  a report of what happened must not cut into a warning of what is coming;
- Extreme + Immediate → EVACUATION: a red, act-now warning (dam break, debris flow seen)
  is what an evacuation order is; only a person speaking live outranks it;
- Extreme otherwise, or Severe → ALARM_SIREN: as urgent as the station's own rain and hand
  alarms, above its automatic rain voice messages;
- Moderate → RAIN_MESSAGE: the rank of the station's own "prepare" messages;
- Minor, Unknown → ROUTINE;
- an Exercise is ROUTINE whatever it simulates: a drill never takes the air from a real
  broadcast (its level still says what it simulates).

Type (as GD/J 082 counts them): ``drill`` for Exercise; ``emergency`` for Actual with a
China colour (every colour, blue included, is a graded warning) or severity Moderate or
above; ``routine`` otherwise. Level I-IV: the colour's, else Extreme I, Severe II,
Moderate III; none for a routine broadcast.

Content: an embedded WAV resource (``derefUri``) of the chosen info when there is one; the
text to speak is always given too (headline, description, instruction), as the fallback
when the audio cannot be decoded. Among the infos for our area that have not expired, the
one of highest priority is chosen, Chinese first among equals (zh-CN, then any zh).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from .cap_area import StationArea, info_match
from .cap_china import LEVEL_SEVERITY
from .cap_model import AlertRef, CapAlert, CapInfo
from .cap_seen import SeenAlerts
from .priority import Priority
from .record import BroadcastLevel, BroadcastType
from .tts import MAX_TEXT_CHARS

Action = Literal["ignore", "journal", "silent", "play", "replace", "stop"]

DRILL_PREFIX_ZH = "演练，演练。"
DRILL_PREFIX_EN = "This is a drill. "
WAV_TYPES = frozenset({"audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave"})

_SEVERITY_LEVEL: dict[str, BroadcastLevel] = {"Extreme": "I", "Severe": "II", "Moderate": "III"}
_SENTENCE_END = re.compile(r"[。！？!?.；;]")


@dataclass(frozen=True)
class CapAudio:
    data: bytes
    mime_type: str
    description: str


@dataclass(frozen=True)
class CapDecision:
    """What to do with one alert, and everything needed to do it.

    ``stops``: alerts (by :attr:`AlertRef.key`) whose broadcasts must stop (replace, stop).
    For play/replace: ``priority``, ``type``, ``level``, ``text`` (drill prefix included),
    ``audio`` (when embedded; play ``drill_prefix`` before it), ``expires`` (no longer air
    it after this; None: CAP leaves it to the receiver), ``effective`` (not meant before
    this), ``area_match`` (why it is ours).
    """

    action: Action
    reason: str
    alert_key: str
    stops: tuple[AlertRef, ...] = ()
    priority: Priority | None = None
    type: BroadcastType | None = None
    level: BroadcastLevel | None = None
    info: CapInfo | None = None
    text: str | None = None
    text_shortened: bool = False
    drill_prefix: str | None = None
    audio: CapAudio | None = None
    expires: datetime | None = None
    effective: datetime | None = None
    area_match: str | None = None

    @property
    def sounds(self) -> bool:
        return self.action in ("play", "replace")


def effective_severity(info: CapInfo) -> str:
    return LEVEL_SEVERITY[info.level] if info.level is not None else info.severity


def priority_for(info: CapInfo, *, drill: bool = False) -> Priority:
    """See the module docstring for the table and why."""
    severity = effective_severity(info)
    if drill:
        return Priority.ROUTINE
    if info.urgency == "Past":
        return Priority.ROUTINE
    if severity == "Extreme":
        return Priority.EVACUATION if info.urgency == "Immediate" else Priority.ALARM_SIREN
    if severity == "Severe":
        return Priority.ALARM_SIREN
    if severity == "Moderate":
        return Priority.RAIN_MESSAGE
    return Priority.ROUTINE


def type_and_level(alert: CapAlert, info: CapInfo
                   ) -> tuple[BroadcastType, BroadcastLevel | None]:
    level = info.level or _SEVERITY_LEVEL.get(info.severity)
    if alert.status == "Exercise":
        return "drill", level
    if level is None:
        return "routine", None
    return "emergency", level


def decide(alert: CapAlert, *, now: datetime, area: StationArea, seen: SeenAlerts,
           max_text_chars: int = MAX_TEXT_CHARS) -> CapDecision:
    """The decision for ``alert`` received at ``now`` (station clock, timezone-aware).

    Pure: ``seen`` is only read. Once the decision is journaled, the caller records the
    alert with ``seen.remember(alert, now=now)`` — whatever the action, so that a copy
    arriving later is a duplicate.
    """
    key = alert.key

    def ignore(reason: str) -> CapDecision:
        return CapDecision("ignore", reason, key)

    if alert.status == "Draft":
        return ignore("draft")
    if seen.seen(alert):
        return ignore("duplicate: already received")
    if alert.status == "System":
        return CapDecision("journal", "system message: journaled only", key)
    if alert.msg_type in ("Ack", "Error"):
        return ignore(f"{alert.msg_type} message: nothing to air")
    by = seen.superseded_by(alert)
    if by is not None:
        return ignore(f"superseded by {by}, received earlier")
    if alert.status == "Test":
        return CapDecision("silent", "test message: journaled, never sounds", key)
    if alert.msg_type == "Cancel":
        return CapDecision("stop", "cancel: stops what it references", key,
                           stops=alert.references)

    ours = [(i, how) for i in alert.infos if (how := info_match(i, area)) is not None]
    live = [(i, how) for i, how in ours if i.expires is None or i.expires > now]
    if not live:
        reason = ("no info" if not alert.infos else
                  "expired" if ours else "not for this station's area")
        if alert.msg_type == "Update":
            return CapDecision("stop", f"update {reason}: stops what it references", key,
                               stops=alert.references)
        return ignore(reason)

    info, how = max(live, key=lambda pair: (priority_for(pair[0]), _language_rank(pair[0])))
    kind, level = type_and_level(alert, info)
    drill = alert.status == "Exercise"
    prefix = None
    if drill:
        prefix = DRILL_PREFIX_ZH if info.chinese else DRILL_PREFIX_EN
    body, shortened = spoken_text(info, max_text_chars - len(prefix or ""))
    replaces = alert.msg_type == "Update"
    return CapDecision(
        "replace" if replaces else "play",
        f"{alert.status.lower()} {alert.msg_type.lower()}"
        + (": stops what it references" if replaces else ""),
        key,
        stops=alert.references if replaces else (),
        priority=priority_for(info, drill=drill),
        type=kind,
        level=level,
        info=info,
        text=(prefix or "") + body,
        text_shortened=shortened,
        drill_prefix=prefix,
        audio=_audio(info),
        expires=info.expires,
        effective=info.effective or info.onset,
        area_match=how,
    )


def _language_rank(info: CapInfo) -> int:
    lang = info.language.lower()
    return 2 if lang in ("zh-cn", "zh-hans", "zh-hans-cn") else 1 if info.chinese else 0


def _audio(info: CapInfo) -> CapAudio | None:
    for r in info.resources:
        if r.data and r.mime_type.split(";")[0].strip().lower() in WAV_TYPES:
            return CapAudio(r.data, r.mime_type, r.description)
    return None


def spoken_text(info: CapInfo, limit: int) -> tuple[str, bool]:
    """Headline, description, instruction as sentences; and whether it had to be shortened.

    When too long for the speech engine, the description is cut at a sentence end (or left
    out): the headline says what, the instruction says what to do — the parts a villager
    must hear. A headline and instruction that alone are too long are cut at the limit.
    """
    end = "。" if info.chinese else ". "
    headline = _sentence(info.headline or info.event, end)
    instruction = _sentence(info.instruction, end)
    description = _sentence(info.description, end)
    full = headline + description + instruction
    if len(full) <= limit:
        return full.strip(), False
    room = limit - len(headline) - len(instruction) - 1  # -1: the space after a cut
    if room > 0:
        cut = description[:room]
        ends = [m.end() for m in _SENTENCE_END.finditer(cut)]
        kept = cut[: ends[-1]].rstrip() + end.strip(".。") if ends else ""
        return (headline + kept + instruction).strip(), True
    return (headline + instruction)[:limit].strip(), True


def _sentence(text: str | None, end: str) -> str:
    text = " ".join((text or "").split())
    if not text:
        return ""
    if _SENTENCE_END.fullmatch(text[-1]):
        return text + (" " if end == ". " else "")
    return text + end
