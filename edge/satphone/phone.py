"""The satellite phone, wired: terminal health, SMS in and out, reports, commands, calls.

Builds the parts of ``sat_phone/`` from ``[sat_phone]``: the AT channel on the
terminal's port, the modem on it, the persistent outbox (``data_dir/satphone/
outbox.db``) and the persistent reassembly of incoming parts (``…/parts.db``). The
modem's status is the ``sat_phone`` device in health; its readings and counters are
metrics. Every SMS queued, every attempt and its final result, every status report
(delivered / failed, per part), every message received and every notice the terminal
volunteers is journaled. A received message (or part) is on disk and its events are
journaled before the terminal is told to delete it.

What the station does with the phone lives beside this module: first reports and 叫应
(:mod:`edge.satphone.reports`), SMS commands (:mod:`edge.satphone.commands`) and calls
with the call-in live broadcast (:mod:`edge.satphone.calls`).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from drivers.clock import BEIJING, iso_utc
from edge.exposition import unix_seconds
from edge.satphone.calls import Calls
from edge.satphone.commands import SmsCommands
from edge.satphone.reports import Reports
from sat_phone.at_channel import AtChannel, ChannelSettings, ChannelState
from sat_phone.modem import Modem, ModemSettings, ModemStatus
from sat_phone.outbox import Attempt, Delivery, Outbox, OutboxSettings, OutgoingSms, SmsPriority
from sat_phone.pdu import Deliver, StatusReport
from sat_phone.reassembly import IncomingSms, Reassembly

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

    from edge.alarms import Alarms
    from edge.broadcasting import Broadcasting
    from edge.station import Station

log = logging.getLogger(__name__)

RECENT_MESSAGES = 200


def beijing_hhmm(moment: datetime) -> str:
    """``10:32``: the time a duty officer reads in a report (Beijing time)."""
    return moment.astimezone(BEIJING).strftime("%H:%M")


class SatPhone:
    """The station's satellite phone; ``station.parts.satphone``."""

    def __init__(self, station: Station, *, alarms: Alarms | None,
                 broadcasting: Broadcasting | None) -> None:
        config = station.config.sat_phone
        if config is None:
            raise ValueError("the satellite phone needs a [sat_phone] section")
        self.station = station
        self.config = config
        self.clock = station.clock
        self.name = config.report_name or station.config.station.name
        folder = station.config.station.data_dir / "satphone"
        folder.mkdir(parents=True, exist_ok=True)
        self.channel = AtChannel(config.port, clock=station.clock,
                                 settings=ChannelSettings(baudrate=config.baudrate))
        self.modem = Modem(
            self.channel, clock=station.clock,
            settings=ModemSettings(personality=config.personality,
                                   poll_interval_s=config.poll_interval_s,
                                   sms_timeout_s=config.sms_part_timeout_s,
                                   sweep_interval_s=config.sweep_interval_s,
                                   delivery_reports=config.delivery_reports),
            on_sms=self._on_part, on_report=self._on_report,
            on_undecodable=self._on_undecodable, on_notice=self._on_notice,
        )
        self.outbox = Outbox(folder / "outbox.db", send=self.modem.send_sms, clock=station.clock,
                             settings=OutboxSettings(max_attempts=config.sms_max_attempts),
                             on_attempt=self._on_attempt, on_delivery=self._on_delivery,
                             reports_requested=lambda: self.modem.delivery_reports)
        self.reassembly = Reassembly(folder / "parts.db", clock=station.clock,
                                     on_message=self._on_message)
        self.outbox.open()
        self.reassembly.open()
        self.received: deque[dict[str, Any]] = deque(maxlen=RECENT_MESSAGES)
        self.message_handlers: list[Callable[[IncomingSms], bool]] = []
        self.listeners: list[Callable[[str, dict[str, Any]], None]] = []
        self.last_error: str | None = None
        self.sent_ok = 0
        self.sent_failed = 0
        self.delivery_counts = {"delivered": 0, "pending": 0, "failed": 0, "unmatched": 0}
        self._could_send = False
        station.health.register("sat_phone", "sat_phone", "starting")
        self.modem.add_status_listener(self._on_status)
        station.metric_sources.append(self._metrics)
        station.lifecycle.on("ready", "satphone", self._start)
        station.lifecycle.on("stopping", "satphone", self._stop)

        self.reports = Reports(self, alarms, broadcasting)
        self.commands = SmsCommands(self, alarms, broadcasting)
        self.calls = Calls(self, broadcasting)
        self.message_handlers += [self.reports.take_answer, self.commands.take]

    # -- lifecycle ---------------------------------------------------------------------

    async def _start(self) -> None:
        await self.channel.start()
        await self.modem.start()
        await self.outbox.start()
        await self.reassembly.start()

    async def _stop(self) -> None:
        for name, close in (("calls", self.calls.close), ("commands", self.commands.close),
                            ("reports", self.reports.close),
                            ("modem", self.modem.close), ("outbox", self.outbox.close),
                            ("reassembly", self.reassembly.close),
                            ("channel", self.channel.close)):
            try:
                await close()
            except Exception:
                log.exception("closing the satellite phone's %s failed", name)

    def record(self, kind: str, source: str, actor: str, /, **data: Any) -> None:
        """Journal what the phone did; listeners (the panel, tests) hear it too."""
        self.station.journal.record(kind, source, actor, **data)
        for listener in self.listeners:
            try:
                listener(kind, data)
            except Exception:
                log.exception("satellite phone listener failed on %s", kind)

    # -- SMS out -----------------------------------------------------------------------

    def send(self, number: str, text: str, *, tag: str, actor: str = "system",
             priority: SmsPriority = SmsPriority.ROUTINE) -> int:
        """Queue an SMS durably (journaled); returns its outbox id. First reports and 叫应
        pass ``priority=SmsPriority.REPORT`` and go ahead of everything else."""
        message_id = self.outbox.enqueue(number, text, tag=tag, priority=priority)
        self.record("satphone.sms_queued", "sat_phone", actor, id=message_id,
                    to=number, text=text, tag=tag, priority=priority.name.lower())
        return message_id

    def report_text(self, body: str) -> str:
        """``【沙沟镇应急管理站】<body> 10:32``."""
        return f"【{self.name}】{body} {beijing_hhmm(self.clock.now())}"

    def _on_attempt(self, attempt: Attempt) -> None:
        sms = attempt.sms
        self.record(
            "satphone.sms_attempt", "sat_phone", "system", id=sms.id, to=sms.number,
            tag=sms.tag, attempt=attempt.attempt, ok=attempt.ok, error=attempt.error,
            code=attempt.code, parts=sms.parts, parts_sent=sms.parts_sent)
        if not attempt.ok:
            self.last_error = attempt.error
        if attempt.final:
            kind = "satphone.sms_sent" if attempt.ok else "satphone.sms_failed"
            self.record(kind, "sat_phone", "system", id=sms.id, to=sms.number,
                                        tag=sms.tag, attempts=attempt.attempt,
                                        error=attempt.error, references=list(sms.references))
            if attempt.ok:
                self.sent_ok += 1
            else:
                self.sent_failed += 1

    # -- SMS in ------------------------------------------------------------------------

    async def _on_part(self, part: Deliver) -> None:
        await self.reassembly.add(part)  # the part on disk (or the whole message handled)
        await self._journaled()

    async def _on_undecodable(self, pdu: str, error: str) -> None:
        self.record("satphone.sms_undecodable", "sat_phone", "system", pdu=pdu, error=error)
        await self._journaled()

    async def _journaled(self) -> None:
        """Until what was recorded is on disk: then the terminal may delete the message."""
        journal = self.station.journal
        await journal.durable(journal.last_recorded_seq)

    async def _on_report(self, report: StatusReport) -> None:
        """A status report from the SMS centre: the part it names is delivered or failed."""
        self.outbox.delivery_report(report.recipient, report.reference, report.status,
                                    report.outcome, report.discharged)
        await self._journaled()

    def _on_delivery(self, delivery: Delivery) -> None:
        sms = delivery.sms
        self.delivery_counts[delivery.outcome if sms is not None else "unmatched"] += 1
        self.record("satphone.sms_delivery", "sat_phone", "system",
                    id=sms.id if sms else None, to=sms.number if sms else delivery.number,
                    tag=sms.tag if sms else None, part=delivery.part,
                    parts=sms.parts if sms else None, reference=delivery.reference,
                    status=delivery.outcome, code=delivery.status,
                    message=sms.delivery if sms else None)

    def _on_notice(self, text: str) -> None:
        self.record("satphone.terminal_notice", "sat_phone", "system", text=text)

    def _on_message(self, message: IncomingSms) -> None:
        entry = {
            "from": message.sender, "text": message.text, "complete": message.complete,
            "parts": message.parts, "received": iso_utc(message.received),
            "timestamp": iso_utc(message.timestamp.astimezone(UTC)),
        }
        self.received.append(entry)
        self.record("satphone.sms_received", "sat_phone", message.sender,
                                    **entry)
        for handler in self.message_handlers:
            try:
                if handler(message):
                    return
            except Exception:
                log.exception("SMS handler failed on a message from %s", message.sender)
                self.record("fault.satphone_sms_handler", "sat_phone", "system",
                                            sender=message.sender)
                return
        self.record("satphone.sms_ignored", "sat_phone", message.sender,
                                    reason="neither a callout answer nor a command")

    # -- health and metrics --------------------------------------------------------------

    def _on_status(self, status: ModemStatus) -> None:
        self.station.health.report("sat_phone", status.status, status.detail)
        if status.status in ("fault", "offline"):
            self.last_error = status.detail
        could_send = (self.channel.state is ChannelState.READY
                      and bool(self.modem.readings.registered))
        if could_send and not self._could_send:
            self.outbox.retry_now()  # the terminal is back: do not wait out the backoff
        self._could_send = could_send

    def state_json(self) -> dict[str, Any]:
        r = self.modem.readings
        inbox = self.modem.inbox
        return {
            "state": self.modem.status.status, "detail": self.modem.status.detail,
            "signal": r.signal_bars, "registered": r.registered,
            "battery_percent": r.battery_percent, "last_error": self.last_error,
            "sms_centre": r.smsc,
            "sim": {"used": inbox.storage[0] if inbox.storage else None,
                    "total": inbox.storage[1] if inbox.storage else None,
                    "stuck": len(inbox.stuck)},
            "send_failures": self.modem.send_failures,
            "delivery_reports": self.modem.delivery_reports,
            "notices": [{"at": iso_utc(at), "text": text} for at, text in self.modem.notices],
            "outbox": [outgoing_json(m) for m in self.outbox.messages(limit=50)],
            "outbox_unsaved": self.outbox.unsaved_count,  # kept in memory: the disk refused
            "call": self.calls.as_json(),
        }

    def _metrics(self) -> Iterator[Metric]:
        r = self.modem.readings
        yield GaugeMetricFamily("station_edge_satphone_signal_bars",
                                "Satellite signal, 0-5 bars (NaN: unknown)",
                                value=float("nan") if r.signal_bars is None else r.signal_bars)
        registered = float("nan") if r.registered is None else float(r.registered)
        yield GaugeMetricFamily("station_edge_satphone_registered",
                                "1 if the terminal is registered on the network", value=registered)
        depth = GaugeMetricFamily("station_edge_satphone_outbox_messages",
                                  "SMS in the outbox by state", labels=["state"])
        for state, count in self.outbox.counts().items():
            depth.add_metric([state], count)
        yield depth
        yield GaugeMetricFamily(
            "station_edge_satphone_outbox_oldest_pending_timestamp_seconds",
            "When the oldest SMS not yet sent was queued (0: none waits)",
            value=unix_seconds(self.outbox.oldest_pending()))
        sms = CounterMetricFamily("station_edge_satphone_sms", "SMS since start",
                                  labels=["direction", "result"])
        sms.add_metric(["out", "sent"], self.sent_ok)
        sms.add_metric(["out", "failed"], self.sent_failed)
        sms.add_metric(["in", "received"], self.modem.received_messages)
        yield sms
        delivery = CounterMetricFamily(
            "station_edge_satphone_sms_delivery_reports",
            "Status reports on parts sent, by what they said (unmatched: no part found)",
            labels=["result"])
        for result, count in self.delivery_counts.items():
            delivery.add_metric([result], count)
        yield delivery
        inbox = self.modem.inbox
        yield GaugeMetricFamily("station_edge_satphone_sim_stuck_messages",
                                "Received messages left on the SIM after two sweeps",
                                value=len(inbox.stuck))
        yield GaugeMetricFamily("station_edge_satphone_send_failures",
                                "SMS sends failed in a row", value=self.modem.send_failures)
        inbound = CounterMetricFamily("station_edge_satphone_inbound_problems",
                                      "Torn PDUs (read again from storage) and undecodable SMS",
                                      labels=["kind"])
        inbound.add_metric(["torn"], inbox.torn)
        inbound.add_metric(["undecodable"], inbox.undecodable)
        yield inbound
        yield CounterMetricFamily("station_edge_satphone_terminal_notices",
                                  "Lines the terminal volunteered that the station does not "
                                  "know (HARDWARE FAILURE among them)",
                                  value=self.modem.notice_count)


def outgoing_json(sms: OutgoingSms) -> dict[str, Any]:
    """An outbox entry for the API; ``delivery`` is the message's (pending / delivered /
    failed, null when no report was asked for), ``parts_delivery`` each part's."""
    return {
        "id": sms.id, "to": sms.number, "text": sms.text, "state": sms.state,
        "attempts": sms.attempts, "parts": sms.parts, "parts_sent": sms.parts_sent,
        "tag": sms.tag, "created": iso_utc(sms.created), "last_error": sms.last_error,
        "priority": sms.priority.name.lower(), "delivery": sms.delivery,
        "parts_delivery": [None if p is None else p["status"] for p in sms.parts_delivery],
    }

