"""One journal event as a duty officer reads it: a title, a sentence, and where it folds.

``JournalWords(config).describe(event)`` gives, in Simplified Chinese and English, the
event's title (its kind in words, or more exact: 立即转移预警 rather than "alarm raised")
and a sentence built from its data with the configured names (村委会警报器, not
siren-1) and units in words (1小时, 毫米). Internal ids stay in ``ids`` for a details
line.

It also says where the event goes in a readable journal: its filter ``category``, and
for *chatter* (an output switching, an audio session, a broadcast repeating, an SMS
attempt) the ``group`` of the action it belongs to (``alarm:<id>``, ``broadcast:<id>``,
or ``alarm:*`` for "the latest alarm"), under which the panel and the 值班记录 fold it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from edge.config import Config
from edge.device_words import ON_OFF, STATUS, detail_words
from edge.journal_kinds import KindWords, words_for
from edge.names import Names, Said, message_names
from edge.station_state import WINDOW_EN, WINDOW_ZH, alarm_cause, broadcast_content

#: Data keys shown in the generic sentence, in this order, with their labels.
KEY_LABELS: dict[str, Said] = {
    "reason": Said("原因", "reason"),
    "detail": Said("说明", "detail"),
    "why": Said("原因", "why"),
    "text": Said("内容", "text"),
    "to": Said("发往", "to"),
    "number": Said("号码", "number"),
    "numbers": Said("号码", "numbers"),
    "targets": Said("号码", "targets"),
    "target": Said("号码", "target"),
    "tier": Said("梯队", "tier"),
    "tiers": Said("梯队数", "tiers"),
    "state": Said("状态", "state"),
    "status": Said("状态", "status"),
    "outcome": Said("结果", "outcome"),
    "error": Said("错误", "error"),
    "role": Said("角色", "role"),
    "client": Said("来自", "from"),
    "path": Said("路径", "path"),
    "command": Said("指令", "command"),
    "test": Said("项目", "test"),
    "seconds": Said("秒数", "seconds"),
    "response_s": Said("用时（秒）", "took (s)"),
    "answer_within_s": Said("应答时限（秒）", "answer within (s)"),
    "max_on_s": Said("最长接通（秒）", "maximum (s)"),
    "on_for_s": Said("已接通（秒）", "on for (s)"),
    "span_s": Said("时长（秒）", "span (s)"),
    "mm": Said("雨量（毫米）", "rain (mm)"),
    "version": Said("版本", "version"),
    "digit": Said("按键", "key"),
    "registered": Said("已注册", "registered"),
    "attempts": Said("尝试次数", "attempts"),
}
SHOWN_MAX = 4
STATE_WORDS = {
    "on": Said("打开", "on"), "off": Said("关闭", "off"), "warming": Said("预热", "warming up"),
    "holding": Said("保持通电", "holding"), "answered": Said("已回复", "answered"),
    "unanswered": Said("无人回复", "unanswered"), "calling": Said("呼叫中", "calling"),
    "delivered": Said("已送达", "delivered"), "pending": Said("待回执", "pending"),
    "failed": Said("失败", "failed"),
}
ROLE_WORDS = {"viewer": Said("查看员", "viewer"), "operator": Said("值班员", "operator"),
              "admin": Said("管理员", "admin")}

Render = Callable[["JournalWords", dict[str, Any], dict[str, Any]], Said]


def _value(value: Any) -> Said:
    if isinstance(value, bool):
        return Said("是" if value else "否", "yes" if value else "no")
    if isinstance(value, list):
        parts = [_value(v) for v in value]
        return Said("、".join(p.zh for p in parts), ", ".join(p.en for p in parts))
    if isinstance(value, float):
        return Said(f"{value:g}", f"{value:g}")
    if isinstance(value, str):
        return STATE_WORDS.get(value) or STATUS.get(value) or detail_words(value)
    return Said(str(value), str(value))


def generic(data: dict[str, Any]) -> Said:
    """The labelled values of the data keys a person reads (at most a few)."""
    shown = [(KEY_LABELS[k], _value(data[k])) for k in KEY_LABELS
             if data.get(k) not in (None, "", [])][:SHOWN_MAX]
    return Said("，".join(f"{label.zh}：{value.zh}" for label, value in shown),
                ", ".join(f"{label.en}: {value.en}" for label, value in shown))


class JournalWords:
    """Describes events with one station's names and message texts."""

    def __init__(self, config: Config, names: Names | None = None) -> None:
        self.names = names or Names(config)
        self.messages = message_names(config)

    def describe(self, event: dict[str, Any]) -> dict[str, Any]:
        kind, data = event["kind"], event.get("data") or {}
        words = words_for(kind)
        title = self._title(kind, words, data)
        render = RENDER.get(kind) or RENDER.get(kind.split(".")[0] + ".*")
        text = render(self, event, data) if render is not None else generic(data)
        return {"title": title.as_json(), "text": text.as_json(), "category": words.category,
                "tone": tone_of(kind, words, data), "chatter": self._chatter(kind, words, data),
                "group": group_of(event), "actor_words": self.names.actor(event["actor"]).as_json(),
                "ids": f"{kind} · {event['source']} · {event['actor']}"}

    def _title(self, kind: str, words: KindWords, data: dict[str, Any]) -> Said:
        alarm = data.get("alarm") if isinstance(data.get("alarm"), dict) else None
        if alarm is not None and kind.startswith("alarm."):
            return alarm_title(kind, alarm) or Said(words.zh, words.en)
        if kind == "health.changed":
            return HEALTH_TITLES.get(str(data.get("status")), Said(words.zh, words.en))
        return Said(words.zh, words.en)

    @staticmethod
    def _chatter(kind: str, words: KindWords, data: dict[str, Any]) -> bool:
        broadcast = data.get("broadcast")
        if kind.startswith("broadcast.") and isinstance(broadcast, dict) \
                and (broadcast.get("labels") or {}).get("alarm"):
            return True  # an alarm's siren and speech, over and over: folded under it
        if kind.startswith("satphone.sms_") and str(data.get("tag", "")).startswith(
                ("report:", "callout:")):
            return True
        if kind.startswith("buzzer.") and str(data.get("key", "")).startswith(
                ("alarm:", "checkin:")):
            return True  # the buzzer sounding for an alarm goes with the alarm
        if kind == "health.changed" and data.get("status") == "ok" \
                and data.get("previous") in (None, "unknown"):
            return True  # a device ready at start: nothing went wrong
        return words.chatter

    def name(self, thing: str | None) -> Said:
        return self.names.of(thing or "")


HEALTH_TITLES = {
    "ok": Said("设备恢复正常", "Device back to normal"),
    "fault": Said("设备故障", "Device fault"),
    "offline": Said("设备离线", "Device offline"),
    "degraded": Said("设备部分异常", "Device impaired"),
    "unknown": Said("设备状态未知", "Device state unknown"),
}


def tone_of(kind: str, words: KindWords, data: dict[str, Any]) -> str:
    """How the line is coloured: ``bad`` (a fault, something offline), ``good`` (back to
    normal), ``alarm``, or ``plain``."""
    if kind == "health.changed":
        return "good" if data.get("status") == "ok" else "bad"
    if words.category == "faults" and kind not in ("fault.cleared", "output.recovered"):
        return "bad"
    if kind in ("fault.cleared", "output.recovered"):
        return "good"
    if words.category == "alarms":
        return "alarm"
    return "plain"


def alarm_title(kind: str, alarm: dict[str, Any]) -> Said | None:
    """预警 for rain thresholds, 报警 for a hand alarm, with the level in words."""
    what = kind.split(".")[1]
    level = {"prepare": Said("准备转移", "PREPARE"), "evacuate": Said("立即转移", "EVACUATE")}.get(
        alarm.get("level") or "", Said("", ""))
    if alarm.get("kind") == "hand_alarm":
        noun = Said("手动报警", "Hand alarm")
        titles = {"raised": noun, "acknowledged": Said("手动报警已收到", "Hand alarm acknowledged"),
                  "cleared": Said("手动报警解除", "Hand alarm cleared"),
                  "restored": Said("重启后恢复手动报警", "Hand alarm restored")}
        return titles.get(what)
    titles = {
        "raised": Said(f"{level.zh}预警", f"Rain warning: {level.en}"),
        "escalated": Said(f"预警升级：{level.zh}", f"Rain warning raised to {level.en}"),
        "lowered": Said(f"预警降为：{level.zh}", f"Rain warning lowered to {level.en}"),
        "acknowledged": Said(f"{level.zh}预警已收到", f"Rain warning acknowledged ({level.en})"),
        "cleared": Said("雨量预警解除", "Rain warning cleared"),
        "restored": Said(f"重启后恢复{level.zh}预警", f"Rain warning restored ({level.en})"),
    }
    return titles.get(what)


def group_of(event: dict[str, Any]) -> str | None:
    """The action an event belongs to, for folding (see the module's docstring)."""
    kind, source, actor = event["kind"], event["source"], event["actor"]
    data = event.get("data") or {}
    head = kind.split(".")[0]
    if head == "alarm" or kind.startswith(("satphone.callout_", "sip.wakeup", "sip.dtmf")):
        return f"alarm:{source}"
    if kind == "rain.window" and data.get("alarm"):
        return f"alarm:{data['alarm']}"
    if head == "broadcast":
        broadcast = data.get("broadcast")
        labels = broadcast.get("labels") if isinstance(broadcast, dict) else None
        alarm = (labels or {}).get("alarm")
        return f"alarm:{alarm}" if alarm else f"broadcast:{source}"
    if head == "checkin":
        return f"checkin:{source}"
    if kind.startswith("satphone.sms_") or kind == "satphone.report":
        tag = str(data.get("tag") or "")
        subject = tag.split(":")[1] if tag.startswith(("report:", "callout:")) else None
        if kind == "satphone.report":
            subject = source
        if subject:
            return f"alarm:{subject}" if subject.startswith("a") else f"broadcast:{subject}"
        return None
    if head in ("amplifier", "audio"):
        return "broadcast:*"
    if head == "buzzer":
        key = str(data.get("key") or "")
        return key if key.startswith(("alarm:", "checkin:")) else None
    if head == "output":
        return {"alarm": "alarm:*", "broadcast": "broadcast:*", "checkin": "checkin:*",
                "buzzer": "alarm:*"}.get(actor)
    if head == "input" and source.startswith("panel."):
        return None
    return None


# -- renderers of the kinds whose data deserve a sentence ---------------------------------


def _alarm(w: JournalWords, event: dict[str, Any], data: dict[str, Any]) -> Said:
    alarm = data.get("alarm")
    if not isinstance(alarm, dict):
        return generic(data)
    cause = alarm_cause(alarm, w.names)
    if event["kind"] == "alarm.acknowledged":
        who = event["actor"]
        return Said(f"{cause.zh}。由 {who} 确认收到，警报停止",
                    f"{cause.en}. Acknowledged by {who}; sirens stopped")
    return cause


def _health(w: JournalWords, event: dict[str, Any], data: dict[str, Any]) -> Said:
    name = w.name(event["source"])
    status = STATUS.get(str(data.get("status")), Said(str(data.get("status")),
                                                     str(data.get("status"))))
    detail = detail_words(str(data.get("detail") or ""))
    return Said(f"{name.zh}：{status.zh}（{detail.zh}）", f"{name.en}: {status.en} ({detail.en})")


def _output(w: JournalWords, event: dict[str, Any], data: dict[str, Any]) -> Said:
    name = w.name(event["source"])
    to = ON_OFF.get(str(data.get("to") or data.get("state") or ""), Said("", ""))
    extra = generic({k: v for k, v in data.items() if k in ("reason", "error")})
    tail_zh = f"（{extra.zh}）" if extra.zh else ""
    tail_en = f" ({extra.en})" if extra.en else ""
    return Said(f"{name.zh} {to.zh}{tail_zh}", f"{name.en} {to.en}{tail_en}")


def _broadcast(w: JournalWords, event: dict[str, Any], data: dict[str, Any]) -> Said:
    b = data.get("broadcast")
    if not isinstance(b, dict):
        return generic(data)
    what = broadcast_content(b, w.messages)
    zones = w.names.zones(b.get("zones") or [])
    by = b.get("actor") or event["actor"]
    repeat = b.get("repeat", 1)
    reason = generic({k: data[k] for k in ("reason", "by") if k in data and k != "by"})
    extra_zh = f"，{reason.zh}" if reason.zh else ""
    extra_en = f", {reason.en}" if reason.en else ""
    return Said(f"“{what.zh}” {zones.zh}，{repeat}遍，{by}{extra_zh}",
                f"“{what.en}” to {zones.en}, {repeat}×, by {by}{extra_en}")


def _input(w: JournalWords, event: dict[str, Any], data: dict[str, Any]) -> Said:
    name = w.name(event["source"])
    return Said(name.zh, name.en)


def _signed_in(w: JournalWords, event: dict[str, Any], data: dict[str, Any]) -> Said:
    role = ROLE_WORDS.get(str(data.get("role")), Said("", ""))
    return Said(f"{event['actor']}（{role.zh}）", f"{event['actor']} ({role.en})")


def _rain_gap(w: JournalWords, event: dict[str, Any], data: dict[str, Any]) -> Said:
    name = w.name(event["source"])
    detail = detail_words(str(data.get("detail") or ""))
    return Said(f"{name.zh}：计数中断，期间雨量不作猜测（{detail.zh}）",
                f"{name.en}: counter gap, its rain not guessed ({detail.en})")


def _rain_window(w: JournalWords, event: dict[str, Any], data: dict[str, Any]) -> Said:
    name = w.name(event["source"])
    window = str(data.get("window") or "")
    level = {"none": Said("无", "none"), "prepare": Said("准备转移", "prepare"),
             "evacuate": Said("立即转移", "evacuate")}.get(str(data.get("level")), Said("", ""))
    total = data.get("total_mm")
    amount = f"{total:.1f}" if isinstance(total, int | float) else "—"
    return Said(f"{name.zh} {WINDOW_ZH.get(window, window)}雨量{amount}毫米 → {level.zh}",
                f"{name.en} {WINDOW_EN.get(window, window)}: {amount} mm → {level.en}")


def _max_on(w: JournalWords, event: dict[str, Any], data: dict[str, Any]) -> Said:
    name = w.name(event["source"])
    on_for, limit = data.get("on_for_s", 0), data.get("max_on_s", 0)
    return Said(f"{name.zh}连续接通{on_for:.0f}秒，超过最长{limit:.0f}秒，已自动切断",
                f"{name.en} on for {on_for:.0f} s, over its maximum {limit:.0f} s: cut")


def _cleared(w: JournalWords, event: dict[str, Any], data: dict[str, Any]) -> Said:
    name = w.name(event["source"])
    return Said(f"{name.zh}的故障已由 {event['actor']} 清除",
                f"{name.en}: fault cleared by {event['actor']}")


def _note(w: JournalWords, event: dict[str, Any], data: dict[str, Any]) -> Said:
    text = str(data.get("text") or "")
    return Said(f"{event['actor']}：{text}", f"{event['actor']}: {text}")


def _checkin(w: JournalWords, event: dict[str, Any], data: dict[str, Any]) -> Said:
    if event["kind"] == "checkin.answered":
        took = data.get("response_s", 0)
        return Said(f"{event['actor']} 在{took:.0f}秒内应答", f"answered by {event['actor']} "
                                                              f"in {took:.0f} s")
    if event["kind"] == "checkin.missed":
        return Said(f"{data.get('answer_within_s', 0):.0f}秒内无人应答",
                    f"nobody answered within {data.get('answer_within_s', 0):.0f} s")
    return Said(f"请在{data.get('answer_within_s', 0):.0f}秒内应答（{event['actor']}）",
                f"answer within {data.get('answer_within_s', 0):.0f} s ({event['actor']})")


def _callout(w: JournalWords, event: dict[str, Any], data: dict[str, Any]) -> Said:
    numbers = _value(data.get("numbers") or data.get("targets") or [])
    tier = data.get("tier")
    if event["kind"].endswith("_answered"):
        return Said(f"{event['actor']} 已回复收到（第{tier}梯队）",
                    f"{event['actor']} answered (tier {tier})")
    if event["kind"].endswith("_unanswered"):
        return Said(f"全部{data.get('tiers', '')}个梯队均未回复，请电话逐一联系",
                    f"no tier answered ({data.get('tiers', '')}): phone them")
    if tier is not None:
        return Said(f"第{tier}梯队：{numbers.zh}", f"tier {tier}: {numbers.en}")
    return generic(data)


def _sms(w: JournalWords, event: dict[str, Any], data: dict[str, Any]) -> Said:
    to = str(data.get("to") or data.get("number") or "")
    text = str(data.get("text") or "")
    state = generic({k: data[k] for k in ("status", "error", "attempts") if k in data})
    bits_zh = [b for b in (f"发往 {to}" if to else "", text, state.zh) if b]
    bits_en = [b for b in (f"to {to}" if to else "", text, state.en) if b]
    return Said("，".join(bits_zh), ", ".join(bits_en))


def _report(w: JournalWords, event: dict[str, Any], data: dict[str, Any]) -> Said:
    to = _value(data.get("to") or [])
    return Said(f"{data.get('text', '')}（发往 {to.zh}）", f"{data.get('text', '')} (to {to.en})")


def _station(w: JournalWords, event: dict[str, Any], data: dict[str, Any]) -> Said:
    if event["kind"] == "station.stopping":
        cut = [w.name(o) for o in data.get("outputs_interrupted") or []]
        names = Said("、".join(c.zh for c in cut), ", ".join(c.en for c in cut))
        reason = str(data.get("reason") or "")
        return Said(f"原因：{reason}" + (f"；已关闭：{names.zh}" if cut else ""),
                    f"reason: {reason}" + (f"; switched off: {names.en}" if cut else ""))
    if event["kind"] == "station.started":
        return Said(f"版本 {data.get('version', '')}，全部输出已关闭",
                    f"version {data.get('version', '')}, every output OFF")
    return generic(data)


def _buzzer(w: JournalWords, event: dict[str, Any], data: dict[str, Any]) -> Said:
    key = str(data.get("key") or "")
    if key.startswith("alarm:"):
        return Said("有未收到的报警", "an alarm is not acknowledged")
    if key.startswith("checkin:"):
        return Said("抽查等待应答", "a spot check is waiting")
    return generic(data)


RENDER: dict[str, Render] = {
    "alarm.*": _alarm, "health.changed": _health, "output.*": _output,
    "broadcast.*": _broadcast, "input.*": _input, "panel.signed_in": _signed_in,
    "rain.data_gap": _rain_gap, "rain.window": _rain_window, "fault.max_on_time": _max_on,
    "fault.cleared": _cleared, "duty.handover_note": _note, "checkin.*": _checkin,
    "satphone.callout_started": _callout, "satphone.callout_escalated": _callout,
    "satphone.callout_answered": _callout, "satphone.callout_unanswered": _callout,
    "sip.wakeup_started": _callout, "sip.wakeup_escalated": _callout,
    "sip.wakeup_answered": _callout, "sip.wakeup_unanswered": _callout,
    "satphone.sms_queued": _sms, "satphone.sms_attempt": _sms, "satphone.sms_sent": _sms,
    "satphone.sms_failed": _sms, "satphone.sms_delivery": _sms, "satphone.sms_received": _sms,
    "satphone.report": _report, "station.*": _station, "buzzer.*": _buzzer,
}
