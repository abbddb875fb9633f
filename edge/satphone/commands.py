"""SMS commands to the station (grammar in :mod:`sat_phone.commands`).

Only from ``whitelist`` numbers, only with ``pin``. A sender who is not on the
whitelist gets no reply (a stranger learns nothing); a wrong PIN gets a short refusal,
and after ``pin_max_failures`` wrong PINs the sender is locked out for
``pin_lockout_s`` (silently). Every command, its result and every refusal is journaled.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from drivers.tasks import cancel_and_wait
from sat_phone.commands import USAGE_ZH, CommandKind, PinGuard, SmsCommand, parse_command
from sat_phone.numbers import NumberList
from sat_phone.reassembly import IncomingSms

if TYPE_CHECKING:
    from edge.alarms import Alarms
    from edge.broadcasting import Broadcasting
    from edge.satphone.phone import SatPhone

log = logging.getLogger(__name__)

STATUS_ZH = {"ok": "正常", "degraded": "部分异常", "fault": "故障"}
DEVICE_ZH = {"offline": "离线", "fault": "故障", "degraded": "异常", "unknown": "未知"}


class SmsCommands:
    def __init__(self, phone: SatPhone, alarms: Alarms | None,
                 broadcasting: Broadcasting | None) -> None:
        self.phone = phone
        self.station = phone.station
        self.alarms = alarms
        self.broadcasting = broadcasting
        config = phone.config
        self.whitelist = NumberList(config.whitelist)
        self.pin = config.pin
        self.guard = PinGuard(config.pin_max_failures, window_s=config.pin_lockout_s,
                              lockout_s=config.pin_lockout_s)
        self._tasks: set[asyncio.Task[Any]] = set()

    def take(self, message: IncomingSms) -> bool:
        command = parse_command(message.text)
        if command is None:
            return False
        sender = message.sender
        refusal = self._refusal(sender, command)
        if refusal is not None:
            reason, reply = refusal
            self.phone.record("satphone.command_refused", "sat_phone", sender,
                                        reason=reason, word=command.word)
            if reply:
                self.phone.send(sender, self.phone.report_text(reply), tag="command-reply")
            return True
        self.guard.succeeded(sender)
        self.phone.record("satphone.command", "sat_phone", sender,
                                    command=command.kind.value, argument=command.argument)
        task = asyncio.get_running_loop().create_task(self._run(sender, command))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    def _refusal(self, sender: str, command: SmsCommand) -> tuple[str, str | None] | None:
        """(reason, reply or None) when the command must not run."""
        if sender not in self.whitelist or self.pin is None:
            return "not whitelisted", None
        now = self.station.clock.monotonic()
        if self.guard.locked(sender, now):
            return "locked out", None
        if command.pin != self.pin:
            if self.guard.failed(sender, now):
                minutes = round(self.guard.lockout_s / 60)
                return "wrong pin", f"密码错误次数过多，{minutes}分钟内不再受理"
            return "wrong pin", "密码错误"
        if command.kind is CommandKind.UNKNOWN:
            return "unknown command", f"无法识别的指令。{USAGE_ZH}"
        return None

    async def _run(self, sender: str, command: SmsCommand) -> None:
        try:
            reply = await self._execute(sender, command)
            result = "done"
        except Exception as exc:
            log.exception("SMS command %s from %s failed", command.kind, sender)
            reply, result = f"指令执行失败：{type(exc).__name__}", f"failed: {exc}"
        self.phone.record("satphone.command_result", "sat_phone", sender,
                                    command=command.kind.value, result=result, reply=reply)
        self.phone.send(sender, self.phone.report_text(reply), tag="command-reply")

    async def _execute(self, sender: str, command: SmsCommand) -> str:
        kind = command.kind
        if kind is CommandKind.STATUS:
            return self.status_summary()
        if kind is CommandKind.EVACUATE:
            if self.broadcasting is None:
                return "本站无广播设备"
            broadcast = await self.broadcasting.evacuate(source="sms", actor=sender)
            return f"已启动转移广播 {broadcast.id}"
        if kind is CommandKind.STOP:
            if self.broadcasting is None:
                return "本站无广播设备"
            stopped = await self.broadcasting.service.stop_all(actor=sender, reason="SMS stop")
            return f"已停止广播{len(stopped)}个"
        assert kind is CommandKind.ACKNOWLEDGE
        if self.alarms is None:
            return "本站无告警"
        actor = f"sms:{sender}"
        if command.argument:
            try:
                alarm = self.alarms.acknowledge(command.argument, actor=actor)
            except KeyError:
                return f"无此告警 {command.argument}"
            return f"已确认告警 {alarm.id}"
        acknowledged = self.alarms.acknowledge_all(actor=actor)
        return f"已确认告警{len(acknowledged)}条"

    def status_summary(self) -> str:
        """A short health summary, as a duty officer reads it on a phone."""
        health = self.station.health
        parts = [f"状态{STATUS_ZH[health.status()]}"]
        bad = [d for d in health.devices() if d.status != "ok"]
        if bad:
            parts.append("异常：" + "、".join(f"{d.id}{DEVICE_ZH.get(d.status, d.status)}"
                                            for d in bad[:4]) + ("等" if len(bad) > 4 else ""))
        if self.alarms is not None:
            active = self.alarms.list(open_only=True)
            first = f"（{active[0].summary_zh()}）" if active else ""
            parts.append(f"告警{len(active)}条{first}")
        if self.broadcasting is not None:
            on_air = self.broadcasting.service.on_air
            parts.append("广播播出中" if on_air is not None else "广播空闲")
        bars = self.phone.modem.readings.signal_bars
        parts.append(f"卫星信号{bars if bars is not None else '?'}/5")
        return "；".join(parts)

    async def close(self) -> None:
        await cancel_and_wait(self._tasks)
