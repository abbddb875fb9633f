"""CAP 1.2 alerts from the county, carried out as a real broadcast terminal would.

Parsing, validation and the decision are pure (``broadcast.cap``); this module does
what the decision says: journal it, remember the alert (so a copy from a second county
server plays once, even after a restart), stop what a Cancel or an Update refers to,
and air what must be aired: the embedded audio when there is one (after a spoken drill
prefix for an Exercise), else the text spoken by TTS, never past its ``expires``.
A refused alert (malformed, unsigned where signing is required, a signature that does
not verify with the county's certificates) is journaled with its reason and moves nothing.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from broadcast.cap_area import StationArea
from broadcast.cap_decide import CapDecision, decide
from broadcast.cap_model import CapRejected
from broadcast.cap_seen import SeenAlerts
from broadcast.program import LiveContent, Program, TextContent
from drivers.audio_wav import WavRejected, decode_wav
from edge.cap_trust import read_trust
from edge.durability import on_disk

if TYPE_CHECKING:
    import numpy as np

    from broadcast.record import Broadcast
    from edge.broadcasting import Broadcasting
    from edge.station import Station

log = logging.getLogger(__name__)
SEEN_FILE = "cap-seen.json"
EMBEDDED_AUDIO_BLOCK_S = 0.1


class RecordedAudio:
    """An embedded CAP audio resource as a live source (it plays once, as it is)."""

    def __init__(self, samples: np.ndarray, rate: int) -> None:
        self.samples = samples
        self.rate = rate

    async def blocks(self) -> AsyncIterator[np.ndarray]:
        step = max(1, round(self.rate * EMBEDDED_AUDIO_BLOCK_S))
        for start in range(0, len(self.samples), step):
            yield self.samples[start:start + step]


class CapIntake:
    def __init__(self, station: Station, broadcasting: Broadcasting | None) -> None:
        cfg = station.config.cap
        assert cfg is not None
        self.station = station
        self.broadcasting = broadcasting
        self.config = cfg
        point = (cfg.latitude, cfg.longitude) if cfg.latitude is not None and \
            cfg.longitude is not None else None
        self.area = StationArea(frozenset(cfg.area_codes), point, cfg.accept_unlocated)
        self.seen_path = station.config.station.data_dir / SEEN_FILE
        self.seen = self._load_seen()
        self.trust = read_trust(cfg)
        self.checks_signatures = bool(cfg.trusted_certificates) or cfg.require_signature
        if self.checks_signatures:
            station.health.register("cap", "cap_intake")
            self._report_trust()

    def _report_trust(self) -> None:
        """The ``cap`` device: fault while no certificate could verify an alert."""
        if self.checks_signatures:
            status, detail = self.trust.health(self.station.clock.now())
            self.station.health.report("cap", "ok" if status == "ok" else "fault", detail)

    def _load_seen(self) -> SeenAlerts:
        try:
            return SeenAlerts.restore(json.loads(self.seen_path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return SeenAlerts()
        except (ValueError, KeyError, TypeError) as exc:
            self.station.journal.record("fault.cap_seen_unreadable", "cap", "system",
                                        error=str(exc))
            return SeenAlerts()

    def _save_seen(self) -> None:
        tmp = self.seen_path.with_suffix(".tmp")
        try:
            tmp.write_text(json.dumps(self.seen.export(), ensure_ascii=False), encoding="utf-8")
            os.replace(tmp, self.seen_path)
        except OSError as exc:  # a full disk must not keep an alert off the air
            log.error("CAP alerts seen not saved: %s", exc)

    async def receive(self, xml: bytes, *, actor: str) -> dict[str, Any]:
        """Parse (raises ``CapRejected``, journaled), decide, and carry out; returns what
        was done. A refused alert moves nothing."""
        from broadcast.cap_parse import parse_alert  # lxml, the XSD, signxml: when one comes

        now = self.station.clock.now()
        self._report_trust()
        try:
            alert = parse_alert(xml, require_signature=self.config.require_signature,
                                trusted=self.trust.pinned, now=now,
                                require_china_profile=self.config.require_china_profile,
                                max_bytes=self.config.max_alert_kb * 1024)
        except CapRejected as exc:
            seq = self.station.journal.record("cap.rejected", "cap", actor, code=exc.code,
                                              reason=exc.reason, bytes=len(xml))
            await self.station.journal.durable(seq)
            raise
        decision = decide(alert, now=now, area=self.area, seen=self.seen)
        self.seen.remember(alert, now=now)
        self.seen.prune(now)
        self._save_seen()
        stopped = await self._stop_referenced(decision, actor)
        started = await self._air(decision, actor) if decision.sounds else []
        seq = self.station.journal.record(
            f"cap.{decision.action}", alert.identifier, actor, sender=alert.sender,
            status=alert.status, msg_type=alert.msg_type, signed=alert.signed,
            reason=decision.reason,
            area_match=decision.area_match, stopped=stopped, broadcasts=started,
            text_shortened=decision.text_shortened)
        await on_disk(self.station, journal_seq=seq)
        return {"identifier": alert.identifier, "action": decision.action,
                "reason": decision.reason, "stopped": stopped, "broadcasts": started}

    async def _stop_referenced(self, decision: CapDecision, actor: str) -> list[str]:
        if self.broadcasting is None or not decision.stops:
            return []
        keys = {ref.key for ref in decision.stops}
        service = self.broadcasting.service
        stopped = []
        for broadcast in service.list(active=True):
            if broadcast.labels.get("cap") in keys:
                await service.cancel(broadcast.id, actor=actor, reason="CAP cancel/update")
                stopped.append(broadcast.id)
        return stopped

    async def _air(self, decision: CapDecision, actor: str) -> list[str]:
        if self.broadcasting is None:
            return []
        if decision.priority is None or decision.type is None:
            raise ValueError(f"a {decision.action} decision without priority or type")
        programs = self._programs(decision)
        ttl = None
        if decision.expires is not None:
            ttl = max(0.0, (decision.expires - self.station.clock.now()).total_seconds())
        started: list[Broadcast] = []
        for program in programs:
            started.append(await self.broadcasting.service.submit(
                program, zones=sorted(self.broadcasting.amplifier.zones),
                priority=decision.priority, type=decision.type,
                level=decision.level, source="cap", actor=actor, ttl_s=ttl,
                labels={"cap": decision.alert_key}))
        return [b.id for b in started]

    def _programs(self, decision: CapDecision) -> list[Program]:
        if decision.audio is not None:
            try:
                audio = decode_wav(decision.audio.data, max_duration_s=1800)
            except WavRejected as exc:
                log.warning("CAP audio unusable (%s); speaking the text instead", exc)
            else:
                source = RecordedAudio(audio.samples, audio.rate)
                recorded = Program(LiveContent(f"cap:{decision.alert_key}", source))
                if decision.drill_prefix:
                    return [Program(TextContent(decision.drill_prefix)), recorded]
                return [recorded]
        return [Program(TextContent(decision.text or ""))]
