"""The station's SIP phone, wired: the endpoint, registration, health, metrics, call routing.

Builds :class:`drivers.sip_ua.SipUa` from ``[sip]`` and starts it when the station is
ready. Without pjsua2 (the ``sip`` extra not installed) or when the endpoint cannot start,
the station runs on: the ``sip`` device says why in health and 叫应 uses the satellite
tiers. With a registrar, ``sip`` is ok while registered and degraded while not (the
county network is down: wake-ups fall back at once).

Every call belongs to one owner (a 叫醒 call, a call-in, the desk bridge), which hears its
state changes and keys; an incoming call is routed by who calls: the duty-room phone
dialling out, a whitelisted caller going on air, anyone else refused (journaled).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol, get_args

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from drivers.sip_ua import (
    CallMedia,
    CallState,
    Digit,
    Incoming,
    Registration,
    SipCallError,
    SipEvent,
    SipSettings,
    SipUa,
    SipUnavailable,
    unavailable,
)
from edge.background import Background
from sat_phone.numbers import number_key
from voice.addresses import Callers, dial_uri
from voice.wakeup import CallOutcome

if TYPE_CHECKING:
    from edge.alarms import Alarms
    from edge.broadcasting import Broadcasting
    from edge.config import SipConfig
    from edge.satphone.phone import SatPhone
    from edge.station import Station

log = logging.getLogger(__name__)

#: Every (direction, outcome) a call is counted under, each a metric series from the start
#: (docs/county.md): call-ins on the air or ended or refused, 叫醒 calls placed (by how they
#: ended), the desk phone's calls bridged to the satellite terminal or not.
CALL_OUTCOMES = (
    [("in", o) for o in ("live", "ended", "refused")]
    + [("out", o) for o in ("failed", *get_args(CallOutcome))
       if o not in ("dialing", "ringing", "talking")]
    + [("desk", o) for o in ("bridged", "ended")])


class CallOwner(Protocol):
    """Whoever placed or took a call hears what happens to it."""

    def on_state(self, event: CallState) -> None: ...

    def on_digit(self, event: Digit) -> None: ...


class IncomingRoute(Protocol):
    def wants(self, event: Incoming) -> bool: ...

    def take(self, event: Incoming) -> CallOwner: ...


def settings_of(config: SipConfig) -> SipSettings:
    host, _, port = config.listen.rpartition(":")
    return SipSettings(
        bind=host, port=int(port), transports=tuple(config.transports),
        public_address=config.public_address, user=config.user, domain=config.domain,
        registrar=config.registrar, registrar_transport=config.registrar_transport,
        username=config.username, password=config.password,
        password_ha1=config.password_ha1, realm=config.realm,
        register_every_s=config.register_every_s, retry_after_s=config.retry_after_s,
        rtp_ports=(config.rtp_ports[0], config.rtp_ports[1]))


class SipPhone:
    """``station.parts.sip``."""

    def __init__(self, station: Station, *, alarms: Alarms, broadcasting: Broadcasting | None,
                 satphone: SatPhone | None) -> None:
        config = station.config.sip
        if config is None:
            raise ValueError("the SIP phone needs a [sip] section")
        self.station = station
        self.config = config
        self.settings = settings_of(config)
        self.ua = SipUa(self.settings, self._on_event)
        self.registered: bool | None = None  # None: no registrar
        self._reg_reported = False
        #: Events of a call placed but not yet handed to its owner (its job still on the
        #: way back from the endpoint's thread): replayed once the owner is known.
        self._early: dict[int, list[SipEvent]] = {}
        self.owners: dict[int, CallOwner] = {}
        self.routes: list[IncomingRoute] = []
        self.listeners: list[Callable[[str, dict[str, Any]], None]] = []
        self.calls = Counter[tuple[str, str]](dict.fromkeys(CALL_OUTCOMES, 0))
        self.failures = 0
        self.why_not: str | None = unavailable()
        self.background = Background(station.journal, "sip")
        station.health.register("sip", "sip", "starting")
        if self.why_not is not None:
            station.health.report("sip", "degraded", self.why_not)
        station.metric_sources.append(self._metrics)
        station.lifecycle.on("ready", "sip", self._start)
        station.lifecycle.on("stopping", "sip", self._stop)

        from edge.sip.callin import SipCallIn
        from edge.sip.desk import DeskPhone
        from edge.sip.wakeup import WakeUps

        self.wakeups = WakeUps(self, alarms, satphone.reports if satphone else None)
        self.callin = None
        if config.callin_whitelist and broadcasting is not None:
            self.callin = SipCallIn(self, broadcasting, satphone)
            self.routes.append(self.callin)
        self.desk = None
        if config.desk_phone is not None and satphone is not None:
            self.desk = DeskPhone(self, satphone)
            self.routes.insert(0, self.desk)

    @property
    def reachable(self) -> bool:
        """Calls can go out now: the endpoint runs and, with a registrar, is registered."""
        return self.ua.running and self.registered is not False

    def callers(self, entries: list[str]) -> Callers:
        return Callers(entries, number_key)

    def uri(self, target: str) -> str:
        return dial_uri(target, self.settings.domain or (
            self.settings.registrar.split(":")[0] if self.settings.registrar else None))

    def record(self, kind: str, source: str, actor: str, /, **data: Any) -> None:
        """Journal what the phone did; listeners (tests, the panel) hear it too."""
        self.station.journal.record(kind, source, actor, **data)
        for listener in self.listeners:
            try:
                listener(kind, data)
            except Exception:
                log.exception("SIP listener failed on %s", kind)

    # -- lifecycle ---------------------------------------------------------------------

    async def _start(self) -> None:
        if self.why_not is not None:
            self.record("sip.unavailable", "sip", "system", reason=self.why_not)
            return
        if self.config.registrar is not None:
            self.registered = False
            self.station.health.report("sip", "degraded",
                                       f"registering with {self.config.registrar}")
        try:
            await self.ua.start()
        except SipUnavailable as exc:
            self.why_not = str(exc)
            self.station.health.report("sip", "fault", self.why_not)
            self.record("fault.sip_start", "sip", "system", error=self.why_not)
            return
        self.record("sip.started", "sip", "system", listen=self.config.listen,
                    transports=list(self.config.transports), account=self.settings.account_uri,
                    registrar=self.config.registrar)
        if self.config.registrar is None:
            self.station.health.report("sip", "ok", "direct calls (no registrar)")

    async def _stop(self) -> None:
        for name, close in (("wake-ups", self.wakeups.close), ("background",
                                                               self.background.cancel_all),
                            ("endpoint", self.ua.close)):
            try:
                await close()
            except Exception:
                log.exception("closing the SIP phone's %s failed", name)

    # -- calls -------------------------------------------------------------------------

    async def place(self, target: str, owner: CallOwner) -> tuple[int, CallMedia]:
        """Ring ``target`` (a number or a URI) for ``owner``; raises SipCallError."""
        handle = await self.ua.place(self.uri(target))
        self.owners[handle] = owner
        early = self._early.pop(handle, [])
        if early:  # a quick phone answered before the INVITE's job came back to us
            asyncio.get_running_loop().call_soon(self._replay, early)
        return handle, self.ua.media[handle]

    def _replay(self, events: list[SipEvent]) -> None:
        for event in events:
            self._on_event(event)

    async def hang_up(self, handle: int, code: int = 603) -> None:
        try:
            await self.ua.hang_up(handle, code)
        except SipCallError as exc:
            log.warning("hanging up SIP call %d: %s", handle, exc)

    async def answer(self, handle: int) -> CallMedia:
        await self.ua.answer(handle, 200)
        return self.ua.media[handle]

    # -- what the endpoint says ---------------------------------------------------------

    def _on_event(self, event: SipEvent) -> None:
        if isinstance(event, Registration):
            self._registration(event)
        elif isinstance(event, Incoming):
            self._incoming(event)
        elif isinstance(event, CallState | Digit):
            owner = self.owners.get(event.call)
            if owner is None:
                self._early.setdefault(event.call, []).append(event)
                return
            if isinstance(event, Digit):
                owner.on_digit(event)
                return
            if event.state == "ended":
                self.owners.pop(event.call, None)
            owner.on_state(event)

    def _registration(self, event: Registration) -> None:
        if self.config.registrar is None or (event.registered == self.registered
                                             and self._reg_reported):
            return
        self.registered = event.registered
        self._reg_reported = True
        self.record("sip.registration", "sip", "system", registered=event.registered,
                    code=event.code, reason=event.reason, registrar=self.config.registrar)
        if event.registered:
            self.station.health.report("sip", "ok", f"registered with {self.config.registrar}")
        else:
            self.failures += 1
            self.station.health.report(
                "sip", "degraded", f"not registered with {self.config.registrar}: "
                f"{event.code} {event.reason}")

    def _incoming(self, event: Incoming) -> None:
        for route in self.routes:
            if route.wants(event):
                self.owners[event.call] = route.take(event)
                return
        self.record("sip.call_refused", "sip", event.remote, to=event.local,
                    reason="not a known caller")
        self.count("in", "refused")
        self.background.spawn(self.hang_up(event.call, 403))

    def count(self, direction: str, outcome: str) -> None:
        self.calls[(direction, outcome)] += 1

    # -- health and metrics --------------------------------------------------------------

    def state_json(self) -> dict[str, Any]:
        return {"available": self.why_not is None, "why_not": self.why_not,
                "running": self.ua.running, "account": self.settings.account_uri,
                "registrar": self.config.registrar, "registered": self.registered,
                "calls": [{"direction": d, "outcome": o, "count": n}
                          for (d, o), n in sorted(self.calls.items()) if n],
                "wakeups": self.wakeups.as_json(),
                "callin": self.callin.as_json() if self.callin else None,
                "desk": self.desk.as_json() if self.desk else None}

    def _metrics(self) -> Iterator[Any]:
        yield GaugeMetricFamily("station_edge_sip_up", "1 if the SIP endpoint runs",
                                value=1.0 if self.ua.running else 0.0)
        registered = float("nan") if self.registered is None else float(self.registered)
        yield GaugeMetricFamily("station_edge_sip_registered",
                                "1 if registered with the PBX (NaN: no registrar)",
                                value=registered)
        calls = CounterMetricFamily("station_edge_sip_calls", "SIP calls since start",
                                    labels=["direction", "outcome"])
        for (direction, outcome), count in sorted(self.calls.items()):
            calls.add_metric([direction, outcome], count)
        yield calls
        yield CounterMetricFamily("station_edge_sip_registration_failures",
                                  "Registrations lost or refused since start",
                                  value=self.failures)
        wakeups = GaugeMetricFamily("station_edge_sip_wakeups", "叫醒 wake-ups by state",
                                    labels=["state"])
        for state, count in sorted(self.wakeups.counts().items()):
            wakeups.add_metric([state], count)
        yield wakeups
