"""The station's overall state: the one thing the duty officer must see first.

Health's ``status`` answers the county's question (are the devices working?). The duty
officer's question is different: what is happening, and how bad is it? The answer is
the most severe of what holds now, in this order:

1. 立即转移: an open alarm at the evacuate level (rain or a hand alarm);
2. 转移令播放中: an evacuation order on air or waiting for the air;
3. 准备转移: an open alarm at the prepare level;
4. 设备故障: a device in fault;
5. 抽查待应答: a spot check from the county waiting for its answer;
6. 现场喊话: live voice on air;
7. 部分设备异常: a device offline, degraded or unknown;
8. 正常.

(Lost connection is the panel's own knowledge, shown over all of this.) Everything else
that also holds is listed under ``also``, so nothing is hidden by something worse.
Plain data in, plain data out: tested without an event loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from broadcast.siren_signals import DEFAULT_PATTERNS
from edge.device_words import STATUS
from edge.names import Names, Said

Tone = Literal["critical", "warning", "info", "ok"]
ORDER = ("evacuate", "evacuating", "prepare", "fault", "checkin", "live", "degraded", "ok")
WINDOW_ZH = {"10min": "10分钟", "30min": "30分钟", "1h": "1小时", "3h": "3小时", "6h": "6小时",
             "12h": "12小时", "24h": "24小时"}
WINDOW_EN = {"10min": "10 min", "30min": "30 min", "1h": "1 h", "3h": "3 h", "6h": "6 h",
             "12h": "12 h", "24h": "24 h"}


ALARM_LEVELS: tuple[tuple[str, Said, Tone], ...] = (
    ("evacuate", Said("立即转移", "EVACUATE"), "critical"),
    ("prepare", Said("准备转移", "PREPARE"), "warning"),
)


@dataclass(frozen=True)
class Condition:
    level: str
    tone: Tone
    says: Said
    detail: Said

    def as_json(self) -> dict[str, Any]:
        return {"level": self.level, "tone": self.tone, "says": self.says.as_json(),
                "detail": self.detail.as_json()}


def alarm_cause(alarm: dict[str, Any], names: Names) -> Said:
    """What raised an alarm: gauge, window, amount and threshold, or the hand alarm."""
    name = names.of(alarm["source"])
    if alarm["kind"] == "hand_alarm":
        return Said(f"{name.zh}被按下", f"{name.en} pressed")
    total, threshold = alarm.get("total_mm"), alarm.get("threshold_mm")
    window = alarm.get("window") or ""
    amount_zh = f"{total:.1f}毫米" if total is not None else "—"
    amount_en = f"{total:.1f} mm" if total is not None else "—"
    limit_zh = f"（阈值{threshold:g}毫米）" if threshold is not None else ""
    limit_en = f" (threshold {threshold:g} mm)" if threshold is not None else ""
    return Said(f"{name.zh} {WINDOW_ZH.get(window, window)}雨量{amount_zh}{limit_zh}",
                f"{name.en}: {amount_en} in {WINDOW_EN.get(window, window)}{limit_en}")


def _joined(items: Sequence[Said]) -> Said:
    return Said("；".join(s.zh for s in items), "; ".join(s.en for s in items))


def conditions(*, alarms: Sequence[dict[str, Any]], broadcasts: Sequence[dict[str, Any]],
               devices: Sequence[dict[str, Any]], checkin_waiting: bool,
               names: Names) -> list[Condition]:
    """Everything that holds now, most severe first."""
    found: list[Condition] = []
    open_alarms = [a for a in alarms if a.get("state") != "cleared"]
    for level, says, tone in ALARM_LEVELS:
        hit = [a for a in open_alarms if a.get("level") == level]
        if hit:
            found.append(Condition(level, tone, says,
                                   _joined([alarm_cause(a, names) for a in hit])))
    evacuations = [b for b in broadcasts if b.get("priority") == "evacuation"]
    if evacuations:
        b = evacuations[0]
        playing = b.get("state") == "playing"
        turn = min(b.get("plays", 0) + 1, b.get("repeat", 1))
        zones = names.zones(b.get("zones", []))
        found.append(Condition(
            "evacuating", "critical", Said("转移令播放中", "Evacuation order on air"),
            Said(f"第{turn}/{b.get('repeat', 1)}遍，{zones.zh}" if playing
                 else f"等待播出，{zones.zh}",
                 f"play {turn} of {b.get('repeat', 1)}, {zones.en}" if playing
                 else f"waiting for the air, {zones.en}")))
    faulty = [d for d in devices if d.get("status") == "fault"]
    if faulty:
        found.append(Condition("fault", "critical", Said("设备故障", "Device fault"),
                               _device_list(faulty, names)))
    if checkin_waiting:
        found.append(Condition("checkin", "warning", Said("抽查待应答", "Spot check waiting"),
                               Said("县应急局抽查，请立即应答", "The county asks: answer now")))
    live = [b for b in broadcasts if "live" in b and b.get("state") == "playing"]
    if live:
        zones = names.zones(live[0].get("zones", []))
        found.append(Condition("live", "info", Said("现场喊话中", "Live voice on air"),
                               Said(f"{live[0]['live']}，{zones.zh}",
                                    f"{live[0]['live']}, {zones.en}")))
    impaired = [d for d in devices if d.get("status") not in ("ok", "fault")]
    if impaired:
        found.append(Condition("degraded", "warning", Said("部分设备异常", "Some devices impaired"),
                               _device_list(impaired, names)))
    found.sort(key=lambda c: ORDER.index(c.level))
    return found


def _device_list(devices: Sequence[dict[str, Any]], names: Names) -> Said:
    return _joined([Said(f"{names.of(d['id']).zh}{STATUS[d['status']].zh}",
                         f"{names.of(d['id']).en} {STATUS[d['status']].en.lower()}")
                    for d in devices])


CALM = Condition("ok", "ok", Said("正常", "All normal"), Said("无报警，设备正常", "No alarm, all "
                                                               "devices working"))


def overall(found: Sequence[Condition]) -> dict[str, Any]:
    """The most severe condition, and the others under ``also``."""
    top = found[0] if found else CALM
    return top.as_json() | {"also": [c.as_json() for c in found[1:]]}


def sounding(*, broadcasts: Sequence[dict[str, Any]], sirens: Sequence[str],
             messages: dict[str, Said], names: Names) -> list[Said]:
    """What people hear now: sirens in their cadence, the broadcast on air, and those
    about to be (waiting for the amplifier or their turn: not silence)."""
    heard = []
    if sirens:
        listed = Said("、".join(names.of(s).zh for s in sirens),
                      ", ".join(names.of(s).en for s in sirens))
        heard.append(Said(f"警报器鸣响：{listed.zh}", f"Sirens sounding: {listed.en}"))
    for b in broadcasts:
        what = broadcast_content(b, messages)
        zones = names.zones(b.get("zones", []))
        if b.get("state") == "waiting":
            heard.append(Said(f"即将广播：{what.zh}（{zones.zh}）",
                              f"About to broadcast: {what.en} ({zones.en})"))
        if b.get("state") != "playing":
            continue
        turn = min(b.get("plays", 0) + 1, b.get("repeat", 1))
        heard.append(Said(f"广播：{what.zh}（{zones.zh}，第{turn}/{b.get('repeat', 1)}遍）",
                          f"Broadcast: {what.en} ({zones.en}, play {turn} of "
                          f"{b.get('repeat', 1)})"))
    return heard


def broadcast_content(b: dict[str, Any], messages: dict[str, Said]) -> Said:
    """A broadcast's content in words (a message's text, a siren signal, spoken text)."""
    if "message" in b:
        return messages.get(b["message"], Said(b["message"], b["message"]))
    if "siren" in b:
        pattern = DEFAULT_PATTERNS.get(b["siren"])
        name = pattern.name if pattern is not None else b["siren"]
        return Said(f"{name}信号", f"siren signal {b['siren']}")
    if "text" in b:
        return Said(b["text"], b["text"])
    return Said(f"现场喊话 {b.get('live', '')}", f"live voice {b.get('live', '')}")
