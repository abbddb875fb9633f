"""What the duty officer reads for a device, an output, an input, a zone or a gauge.

The station's ids (``siren-1``, ``amplifier.zone-24``, ``rg-1``) are for the journal and
the county's scripts; a person under stress reads the names the configuration gives
(村委会警报器, 后山雨量站) or, for the station's own parts, plain words. Every name comes
in Simplified Chinese and English; an id nobody named is shown as it is.
"""

from __future__ import annotations

from typing import NamedTuple

from edge.config import Config


class Said(NamedTuple):
    """One thing said in both languages of the panel."""

    zh: str
    en: str

    def as_json(self) -> dict[str, str]:
        return {"zh": self.zh, "en": self.en}


#: The station's own parts (health ids, output ids, input ids) in plain words.
PARTS = {
    "amplifier": Said("广播功放", "Amplifier"),
    "amplifier.power": Said("功放电源", "Amplifier power"),
    "journal": Said("值班日志存储", "Journal storage"),
    "state": Said("状态存储", "State storage"),
    "rain_archive": Said("雨量数据存储", "Rain archive"),
    "cap": Said("县级预警接收（CAP）", "County alerts (CAP)"),
    "gpio": Said("控制接口（GPIO）", "GPIO"),
    "messages": Said("广播语音库", "Message library"),
    "self_test": Said("设备自检", "Self-test"),
    "sat_phone": Said("卫星电话", "Satellite phone"),
    "sip": Said("网络电话（叫醒）", "SIP phone (wake-up calls)"),
    "panel.fault_led": Said("故障指示灯", "Fault LED"),
    "panel.broadcast_led": Said("广播指示灯", "Broadcast LED"),
    "panel.alarm_led": Said("报警指示灯", "Alarm LED"),
    "panel.buzzer": Said("值班室蜂鸣器", "Duty-room buzzer"),
    "panel.evacuate_button": Said("立即转移按钮", "EVACUATE button"),
    "panel.stop_button": Said("停止按钮", "STOP button"),
    "panel.ack_button": Said("收到（确认）按钮", "ACK button"),
    "panel": Said("值班面板", "Panel"),
    "api": Said("接口", "API"),
    "station": Said("站点", "Station"),
    "audio": Said("音频输出", "Audio output"),
}
#: Who did it, when it was the station itself (a person is their token's name).
ACTORS = {
    "system": Said("站点（自动）", "station (automatic)"),
    "panel": Said("值班室实体按钮", "duty-room buttons"),
    "alarm": Said("报警联动", "alarm actions"),
    "broadcast": Said("广播系统", "broadcast system"),
    "buzzer": Said("值班室蜂鸣器", "duty-room buzzer"),
    "checkin": Said("抽查", "spot check"),
    "self_test": Said("设备自检", "self-test"),
    "cli": Said("现场调试命令", "technician's command line"),
}
ALL_ZONES = Said("全部区域", "all zones")
#: The library's fixed messages by what they are (their full text is long to read).
MESSAGES = {
    "evacuate": Said("立即转移令", "evacuation order"),
    "prepare": Said("准备转移通知", "prepare-to-evacuate notice"),
    "all_clear": Said("解除通知", "all-clear notice"),
    "test": Said("测试广播", "test message"),
}
SHORT = 24


def message_names(config: Config) -> dict[str, Said]:
    """Every message id in words: the fixed ones by name, the others by their text."""
    named = dict(MESSAGES)
    for message in config.messages.texts:
        if message.id not in MESSAGES:
            text = message.text if len(message.text) <= SHORT else message.text[:SHORT] + "…"
            gloss = message.gloss or text
            named[message.id] = Said(text, gloss if len(gloss) <= 40 else gloss[:40] + "…")
    return named


class Names:
    """Names from one configuration (``Names(config).of("siren-1")``)."""

    def __init__(self, config: Config) -> None:
        self._named: dict[str, Said] = dict(PARTS)
        for siren in config.sirens:
            self._named[siren.id] = Said(siren.name or f"警报器 {siren.id}",
                                         siren.name or f"Siren {siren.id}")
        for alarm in config.hand_alarms:
            self._named[alarm.id] = Said(alarm.name or f"手动报警 {alarm.id}",
                                         alarm.name or f"Hand alarm {alarm.id}")
        for gauge in config.rain_gauges:
            self._named[gauge.id] = Said(gauge.name or f"雨量计 {gauge.id}",
                                         gauge.name or f"Rain gauge {gauge.id}")
        self._zones: dict[str, Said] = {"all": ALL_ZONES}
        amp = config.amplifier
        if amp is not None:
            for zone, name in amp.zone_names.items():
                self._zones[zone] = Said(name, name)
            for pin in sorted({p for pins in amp.zones.values() for p in pins}):
                served = [z for z, pins in amp.zones.items() if pin in pins and z != "all"]
                zh = "、".join(self.zone(z).zh for z in served) or "全部区域"
                en = ", ".join(self.zone(z).en for z in served) or "all zones"
                self._named[f"amplifier.zone-{pin}"] = Said(f"广播分区继电器（{zh}）",
                                                            f"Zone relay ({en})")

    def of(self, thing_id: str) -> Said:
        """The name of any device, output, input or gauge id (the id itself if unnamed)."""
        return self._named.get(thing_id, Said(thing_id, thing_id))

    def actor(self, actor: str) -> Said:
        """Who did something: the station's own parts and devices in words, a person as
        their token's name."""
        return ACTORS.get(actor) or self.of(actor)

    def zone(self, zone: str) -> Said:
        return self._zones.get(zone, Said(zone, zone))

    def zones(self, zones: list[str]) -> Said:
        """Zones in words; a list with ``all`` is just 全部区域."""
        said = [ALL_ZONES] if "all" in zones else [self.zone(z) for z in zones]
        return Said("、".join(s.zh for s in said), ", ".join(s.en for s in said))

    def as_json(self) -> dict[str, dict[str, str]]:
        return {key: said.as_json() for key, said in self._named.items()}

    def zones_json(self) -> dict[str, dict[str, str]]:
        return {key: said.as_json() for key, said in self._zones.items()}
