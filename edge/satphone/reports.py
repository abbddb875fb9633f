"""First reports (首报) and 叫应 over the satellite phone.

* Every alarm raised or escalated (rain, hand alarm) and every evacuation broadcast
  that starts sends a first report in Chinese to each of ``report_numbers``, queued in
  the persistent outbox at once, ahead of routine SMS (it goes out when the network
  lets it), e.g.
  ``【沙沟镇应急管理站】后山雨量站1小时雨量52.3毫米，已达立即转移，警报已启动 10:32``.
* With ``[[sat_phone.callout]]`` tiers, an alarm also starts a callout (its SMS also
  ahead of routine ones): the first tier
  is asked to answer ``1`` or ``收到``; when nobody has within the tier's time, the next
  tier is asked as well. Who answered and when is journaled and shown on the alarm
  (``alarm.callout``); a callout nobody answered is journaled as unanswered.
* A callout is kept in the state store at every step (tier, wall-clock deadline, who
  answered), so after a restart it goes on at its tier and deadline, and the first
  report of an alarm carried over is not sent again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from broadcast.priority import Priority
from drivers.clock import iso_utc
from drivers.tasks import cancel_and_wait
from edge.exposition import ResponseTimes, histogram_family
from sat_phone.callout import Callout, CalloutStep, Tier
from sat_phone.commands import is_callout_answer
from sat_phone.outbox import SmsPriority
from sat_phone.reassembly import IncomingSms

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

    from broadcast.record import Broadcast
    from edge.alarms import Alarm, Alarms
    from edge.broadcasting import Broadcasting
    from edge.satphone.phone import SatPhone

log = logging.getLogger(__name__)

KIND = "callout"
SOURCE_ZH = {"panel": "值班员按键", "sms": "短信指令", "api": "平台指令", "cap": "预警信息",
             "phone": "卫星电话", "rain_rule": "雨量预警", "hand_alarm": "手动报警"}
ANSWER_HINT = "请回复1或“收到”"


def alarm_report(alarm: Alarm, what: str) -> str:
    """The body of a first report on an alarm (without station name and time)."""
    if alarm.level == "evacuate":
        action = "警报已启动，正在广播立即转移指令，请立即组织群众转移"
    else:
        action = "已广播准备转移提醒，请做好转移准备"
    prefix = "升级：" if what == "escalated" else ""
    threshold = f"（阈值{alarm.threshold_mm:.1f}毫米）" if alarm.threshold_mm is not None else ""
    return f"{prefix}{alarm.summary_zh()}{threshold}，{action}"


def broadcast_report(broadcast: Broadcast) -> str:
    source = SOURCE_ZH.get(broadcast.source, broadcast.source)
    if broadcast.source == "sms":
        source += f" {broadcast.actor}"
    return f"已启动紧急转移广播（{source}）"


class Reports:
    def __init__(self, phone: SatPhone, alarms: Alarms | None,
                 broadcasting: Broadcasting | None) -> None:
        self.phone = phone
        self.station = phone.station
        self.alarms = alarms
        self.tiers = [Tier(tuple(t.numbers), t.answer_within_s) for t in phone.config.callout]
        self.callouts: dict[str, tuple[Alarm, Callout]] = {}
        self._saved = self._saved_callouts()
        #: Set by a voice 叫醒 (edge.sip.wakeup) that rings people first; it calls
        #: :meth:`start_callout` itself when SIP cannot reach them.
        self.defer_callout: Callable[[Alarm], bool] | None = None
        self._timers: dict[str, asyncio.Task[None]] = {}
        self.outcomes = {"answered": 0, "unanswered": 0}
        self.answer_times = ResponseTimes()
        self.station.metric_sources.append(self._metrics)
        if alarms is not None:
            alarms.listeners.append(self._on_alarm)
        if broadcasting is not None:
            broadcasting.listeners.append(self._on_broadcast)

    # -- first reports ---------------------------------------------------------------------

    def _on_alarm(self, what: str, alarm: Alarm) -> None:
        if what in ("raised", "escalated"):
            self.report(alarm_report(alarm, what), subject=alarm.id)
            if self.tiers and not (self.defer_callout and self.defer_callout(alarm)):
                self.start_callout(alarm)
        elif what == "restored":
            self._resume(alarm)
        elif what == "cleared":
            self._stop_timer(alarm.id)
            if alarm.id in self.callouts:
                self.station.state.delete(KIND, alarm.id)  # nothing to carry over any more

    def _on_broadcast(self, kind: str, broadcast: Broadcast) -> None:
        if kind == "started" and broadcast.priority == Priority.EVACUATION:
            self.report(broadcast_report(broadcast), subject=broadcast.id)

    def report(self, body: str, *, subject: str) -> list[int]:
        text = self.phone.report_text(body)
        ids = [self.phone.send(number, text, tag=f"report:{subject}",
                               priority=SmsPriority.REPORT)
               for number in self.phone.config.report_numbers]
        self.phone.record("satphone.report", subject, "system", text=text,
                                    to=list(self.phone.config.report_numbers), sms=ids)
        return ids

    # -- 叫应 --------------------------------------------------------------------------------

    def start_callout(self, alarm: Alarm) -> None:
        if not self.tiers:
            return
        self._stop_timer(alarm.id)
        callout = Callout(alarm.id, self.tiers)
        self.callouts[alarm.id] = (alarm, callout)
        step = callout.start(self.station.clock.monotonic(), self.station.clock.now())
        self._message(alarm, callout, step)
        task = asyncio.get_running_loop().create_task(self._follow(alarm, callout),
                                                      name=f"callout-{alarm.id}")
        self._timers[alarm.id] = task

    def _saved_callouts(self) -> dict[str, Callout]:
        """Callouts of alarms carried over from before a restart."""
        clock = self.station.clock
        carried = [a.id for a in self.alarms.list(open_only=True)] if self.alarms else []
        return self.station.state.carried(KIND, carried, lambda data: Callout.from_record(
            data, datetime.fromisoformat, clock.monotonic(), clock.now()))

    def _resume(self, alarm: Alarm) -> None:
        """An alarm carried over a restart: its callout goes on at its tier and deadline."""
        callout = self._saved.pop(alarm.id, None)
        if callout is None:
            return
        self.callouts[alarm.id] = (alarm, callout)
        self.station.restored.setdefault("callouts", []).append(alarm.id)
        self.phone.record("satphone.callout_resumed", alarm.id, "system", tier=callout.tier,
                          state=callout.state, deadline=iso_utc(callout.deadline_at)
                          if callout.deadline_at else None)
        if callout.calling:
            self._timers[alarm.id] = asyncio.get_running_loop().create_task(
                self._follow(alarm, callout), name=f"callout-{alarm.id}")
        self._show(alarm, callout)

    def _message(self, alarm: Alarm, callout: Callout, step: CalloutStep) -> None:
        if step.tier == 1:
            body = f"叫应：{alarm.summary_zh()}。{ANSWER_HINT}"
        else:
            minutes = round(self.tiers[step.tier - 2].answer_within_s / 60)
            body = (f"叫应（第{step.tier}梯队，前一梯队{minutes}分钟未回复）："
                    f"{alarm.summary_zh()}。{ANSWER_HINT}")
        text = self.phone.report_text(body)
        for number in step.numbers:
            self.phone.send(number, text, tag=f"callout:{alarm.id}:{step.tier}",
                            priority=SmsPriority.REPORT)
        kind = "satphone.callout_started" if step.tier == 1 else "satphone.callout_escalated"
        self.phone.record(kind, alarm.id, "system", tier=step.tier,
                                    numbers=list(step.numbers))
        self._show(alarm, callout)

    async def _follow(self, alarm: Alarm, callout: Callout) -> None:
        clock = self.station.clock
        while callout.calling and callout.deadline is not None:
            await clock.sleep(max(0.0, callout.deadline - clock.monotonic()))
            step = callout.expire(clock.monotonic(), clock.now())
            if step is not None:
                self._message(alarm, callout, step)
            elif callout.state == "unanswered":
                self.outcomes["unanswered"] += 1
                self.phone.record("satphone.callout_unanswered", alarm.id, "system",
                                            tiers=len(self.tiers))
                self._show(alarm, callout)

    def take_answer(self, message: IncomingSms) -> bool:
        """``1`` / ``收到`` from someone a callout reached: the callout is answered."""
        if not is_callout_answer(message.text):
            return False
        settled = []
        now = self.station.clock.now()
        for alarm_id, (alarm, callout) in self.callouts.items():
            if callout.answer(message.sender, now):
                settled.append(alarm_id)
                self._stop_timer(alarm_id)
                self._count_answer(callout)
                self.phone.record("satphone.callout_answered", alarm_id,
                                            message.sender, tier=callout.tier,
                                            answered_at=iso_utc(now))
                self._show(alarm, callout)
        if not settled:
            return False
        self.phone.send(message.sender, self.phone.report_text("已收到您的叫应回复"),
                        tag="callout-thanks")
        return True

    def _count_answer(self, callout: Callout) -> None:
        self.outcomes["answered"] += 1
        if callout.answered_at is not None and callout.messaged:
            first = callout.messaged[0]["at"]
            self.answer_times.observe((callout.answered_at - first).total_seconds())

    def _metrics(self) -> list[Metric]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        outcomes = CounterMetricFamily("station_edge_callouts",
                                       "叫应 call-outs by how they ended", labels=["result"])
        for result, count in self.outcomes.items():
            outcomes.add_metric([result], count)
        calling = sum(1 for _, c in self.callouts.values() if c.state == "calling")
        waiting = GaugeMetricFamily("station_edge_callouts_calling",
                                    "叫应 call-outs still waiting for an answer", value=calling)
        times = histogram_family("station_edge_callout_answer_seconds",
                                 "Seconds from a 叫应 call-out's first message to its answer",
                                 [], {(): self.answer_times})
        return [outcomes, waiting, times]

    def _show(self, alarm: Alarm, callout: Callout) -> None:
        alarm.callout = callout.as_json(iso_utc)
        self.station.state.put(KIND, alarm.id, callout.record(iso_utc))
        if self.alarms is not None:
            self.alarms.save(alarm)

    def _stop_timer(self, alarm_id: str) -> None:
        task = self._timers.pop(alarm_id, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    async def close(self) -> None:
        tasks: set[asyncio.Task[Any]] = set(self._timers.values())
        self._timers.clear()
        await cancel_and_wait(tasks)
