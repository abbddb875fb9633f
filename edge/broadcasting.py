"""The station's broadcast capability, wired: amplifier, audio, messages, scheduler, panel.

Builds the parts of ``broadcast/`` from the configuration, journals what they report,
keeps the amplifier's health and the broadcast LED, and turns panel presses into
broadcasts. Rules elsewhere in ``edge/`` (rain, hand alarms, SMS, CAP) start
broadcasts through :attr:`Broadcasting.service`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, get_args

from broadcast.amplifier import Amplifier, AmplifierState, RelayBank
from broadcast.library import DEFAULT_MESSAGES, MessageLibrary, MessageText, UploadLimits
from broadcast.priority import Priority
from broadcast.program import MessageContent, Program, Repertoire
from broadcast.record import FINAL_STATES, Broadcast, BroadcastSource
from broadcast.service import BroadcastService, EventSink
from broadcast.tts import Speech, Voice
from drivers.audio import AudioOutput, AudioSession, AudioSettings, SessionCallback, make_output
from drivers.clock import Clock, iso_utc
from edge.background import Background
from edge.config import Config
from edge.evacuation import evacuate_once
from edge.panel_buttons import HoldButton

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

    from edge.station import Station

log = logging.getLogger(__name__)

AMPLIFIER_DETAIL = {"off": "off", "warming": "warming up", "on": "on air", "holding": "holding"}


def zone_relays(config: Config) -> dict[str, list[str]]:
    amp = config.amplifier
    assert amp is not None
    return {name: [f"amplifier.zone-{pin}" for pin in pins] for name, pins in amp.zones.items()}


def message_texts(config: Config) -> list[MessageText]:
    configured = {m.id: MessageText(m.id, m.text, m.gloss) for m in config.messages.texts}
    defaults = [configured.pop(m.id, m) for m in DEFAULT_MESSAGES]
    return defaults + list(configured.values())


@dataclass
class BroadcastChain:
    """Audio output, messages and the amplifier, built from config the same way for the
    daemon and for ``station-edge test audio`` (which runs while the daemon is stopped)."""

    output: AudioOutput
    speech: Speech
    library: MessageLibrary
    repertoire: Repertoire
    amplifier: Amplifier
    service: BroadcastService


def build_chain(
    config: Config, clock: Clock, relays: RelayBank, *,
    on_session: SessionCallback | None, on_state: Callable[[AmplifierState], None] | None,
    on_event: EventSink,
) -> BroadcastChain:
    """The relays are the station's output registry (``amplifier.power``, ``amplifier.zone-N``)."""
    amp = config.amplifier
    if amp is None:
        raise ValueError("broadcasting needs an [amplifier] section")
    data_dir = config.station.data_dir
    settings = AudioSettings(
        backend=config.audio.backend, rate=config.audio.sample_rate,
        device=config.audio.device, block_s=config.audio.block_s,
        out_dir=data_dir / "audio-out",
    )
    output = make_output(settings, clock, on_session)
    speech = Speech(data_dir / "tts", settings.rate,
                    Voice(config.tts.voice, config.tts.words_per_minute))
    limits = UploadLimits(max_bytes=int(config.messages.max_upload_mb * 1_000_000),
                          max_duration_s=config.messages.max_duration_s)
    library = MessageLibrary(data_dir / "messages", speech, message_texts(config), limits)
    repertoire = Repertoire(library, speech, block_s=config.broadcast.block_s)
    amplifier = Amplifier(
        relays, clock, power_relay="amplifier.power", zones=zone_relays(config),
        warmup_s=amp.warmup_s, hold_s=amp.hold_s, on_state=on_state,
    )
    service = BroadcastService(clock, amplifier, output, repertoire, on_event=on_event,
                               max_on_s=amp.max_on_s)
    return BroadcastChain(output, speech, library, repertoire, amplifier, service)


class Broadcasting:
    def __init__(self, station: Station) -> None:
        config = station.config
        self.station = station
        chain = build_chain(config, station.clock, station.outputs,
                            on_session=self._audio_session, on_state=self._amplifier_state,
                            on_event=self._broadcast_event)
        self.output = chain.output
        self.speech = chain.speech
        self.library = chain.library
        self.repertoire = chain.repertoire
        self.amplifier = chain.amplifier
        self.service = chain.service
        self.first_sound: dict[str, float] = {}
        self.listeners: list[Callable[[str, Broadcast], None]] = []
        self._buttons: list[HoldButton] = []
        self._background = Background(station.journal, "broadcast")
        for output in station.outputs.all():
            if output.kind in ("relay", "zone"):
                output.on_cut.append(lambda _o: self._spawn(
                    self.service.fault_stop(reason="amplifier relay cut at maximum on-time")))
        self._wire_panel()
        station.metric_sources.append(self._metrics)
        station.lifecycle.on("ready", "messages", lambda: self._spawn(self._prepare_messages()))
        station.lifecycle.on("stopping", "broadcasts", self._shutdown)
        station.stopping_details.append(self._stopping_details)

    # -- panel -------------------------------------------------------------------------

    def _wire_panel(self) -> None:
        station, hold_s = self.station, self.station.config.panel.hold_s
        if station.config.panel.evacuate_button is not None:
            evacuate = HoldButton(station.clock, hold_s, self._panel_evacuate, unsettled=(
                lambda: station.unsettled_input("panel.evacuate_button")))
            station.on_input("panel.evacuate_button", evacuate.changed)
            self._buttons.append(evacuate)
        if station.config.panel.stop_button is not None:
            stop = HoldButton(station.clock, hold_s, on_hold=self._panel_stop_all,
                              on_short=self._panel_stop, unsettled=(
                                  lambda: station.unsettled_input("panel.stop_button")))
            station.on_input("panel.stop_button", stop.changed)
            self._buttons.append(stop)

    def _panel_evacuate(self) -> None:
        self.station.journal.record("panel.evacuate", "panel.evacuate_button", "panel")
        self._spawn(self.evacuate(source="panel", actor="panel"))

    def _panel_stop(self) -> None:
        self.station.journal.record("panel.stop", "panel.stop_button", "panel")
        self._spawn(self.service.stop_current(actor="panel"))

    def _panel_stop_all(self) -> None:
        self.station.journal.record("panel.stop_all", "panel.stop_button", "panel")
        self._spawn(self.service.stop_all(actor="panel"))

    async def evacuate(
        self, *, source: BroadcastSource, actor: str, **labels: Any
    ) -> Broadcast:
        """The configured evacuation order on every zone (panel, SMS, rules). One already
        active is restarted from its first play, never queued behind (edge.evacuation)."""
        cfg = self.station.config.broadcast
        program = Program(MessageContent(cfg.evacuate_message), repeat=cfg.evacuate_repeat,
                          gap_s=cfg.gap_s)

        async def start() -> Broadcast:
            return await self.service.submit(
                program, zones=sorted(self.amplifier.zones), priority=Priority.EVACUATION,
                type="emergency", source=source, actor=actor, labels=labels,
            )

        broadcast, _ = await evacuate_once(self.service, start, if_active="restart",
                                           actor=actor)
        return broadcast

    # -- reports -----------------------------------------------------------------------

    def _broadcast_event(self, kind: str, broadcast: Broadcast, data: dict[str, Any]) -> None:
        self.station.journal.record(f"broadcast.{kind}", broadcast.id, broadcast.actor,
                                    broadcast=broadcast.as_json(iso_utc), **data)
        if kind in ("started", "playing"):
            self.first_sound.setdefault(broadcast.id, self.station.clock.monotonic())
        self._update_broadcast_led()
        for listener in self.listeners:
            listener(kind, broadcast)

    def _audio_session(self, kind: str, session: AudioSession) -> None:
        self.station.journal.record(f"audio.session_{kind}", "audio", "broadcast",
                                    label=session.label,
                                    path=str(session.path) if session.path else None,
                                    frames=session.frames, underruns=session.underruns)

    def _amplifier_state(self, state: AmplifierState) -> None:
        self.station.journal.record("amplifier.state", "amplifier", "broadcast", state=state)
        health = self.station.health.get("amplifier")
        if health.status != "fault":
            self.station.health.report("amplifier", "ok", AMPLIFIER_DETAIL[state])
        self._update_broadcast_led()

    def _update_broadcast_led(self) -> None:
        if "panel.broadcast_led" not in self.station.outputs:
            return
        on = self.service.on_air is not None
        if self.station.outputs["panel.broadcast_led"].switch.is_on != on:
            self._spawn(self.station.outputs.set("panel.broadcast_led", on, actor="broadcast",
                                                 reason="broadcast on air" if on else "quiet"))

    async def _prepare_messages(self) -> None:
        problems = await self.library.prepare()
        for message_id, problem in problems.items():
            self.station.journal.record("fault.message_speech", message_id, "system",
                                        detail=problem)
        self.station.health.register("messages", "message_library")
        if problems:
            self.station.health.report("messages", "degraded",
                                       f"no speech for {sorted(problems)}")
        else:
            self.station.health.report("messages", "ok", f"{len(self.library.ids)} messages")

    def _metrics(self) -> list[Metric]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        on_air = GaugeMetricFamily("station_edge_broadcast_on_air",
                                   "Priority of the broadcast on air (0: none)")
        current = self.service.on_air
        on_air.add_metric([], int(current.priority) if current else 0)
        underruns = CounterMetricFamily("station_edge_audio_underruns",
                                        "Audio output underruns since start")
        underruns.add_metric([], self.output.underruns)
        finished = CounterMetricFamily("station_edge_broadcasts",
                                       "Finished broadcasts by source and final state",
                                       labels=["source", "state"])
        counts = {(source, state): 0 for source in get_args(BroadcastSource)
                  for state in sorted(FINAL_STATES)}
        for b in self.service.list():
            if b.state in FINAL_STATES:
                counts[(b.source, b.state)] = counts.get((b.source, b.state), 0) + 1
        for (source, state), count in counts.items():
            finished.add_metric([source, state], count)
        return [on_air, underruns, finished]

    def _stopping_details(self) -> dict[str, Any]:
        return {"broadcasts_interrupted": [b.id for b in self.service.list(active=True)]}

    async def _shutdown(self) -> None:
        for button in self._buttons:
            button.close()
        await self.service.shutdown(reason="station stopping")
        await self._background.cancel_all()

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        self._background.spawn(coro)
