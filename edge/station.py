"""The composition root: builds the station from its configuration and runs it.

Order matters and is the whole point of this module:

1. every output is claimed and driven OFF before anything else happens;
2. the journal and the state store are opened (a corrupt one is moved aside; the station
   still starts);
3. devices report into health, inputs are watched, the parts take back their state,
   background duties start;
4. what was restored carries on (an unacknowledged alarm sounds again) and is journaled;
5. the API listens; then (``edge.daemon``) systemd is told READY.

Stopping runs the same way backwards, with outputs OFF first and what was interrupted
journaled. Each capability (broadcast, rain, satellite phone) plugs in as a part that
the station builds from its config section; see docs/adding-a-device.md.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import shutil
import signal
from collections.abc import Callable, Coroutine, Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from drivers.clock import Clock, iso_utc
from drivers.debounce import DebouncedInput
from drivers.gpio import GpioChip
from drivers.tasks import cancel_and_wait
from edge import auth, journal_archive, restore_plan
from edge.api.sessions import SessionBook
from edge.config import SIM_TOKEN_HASHES, Config
from edge.gpio_outputs import claim_outputs, gpio_latch_path, open_station_gpio
from edge.health import DeviceHealth, Health
from edge.idempotency import IdempotencyBook
from edge.journal import Journal
from edge.lifecycle import Lifecycle
from edge.outputs import Output, Outputs
from edge.parts import StationParts, build_parts
from edge.state_files import make_data_dir
from edge.state_store import STATE_FILE, StateStore
from edge.station_lock import DAEMON, Holder, StationLock
from edge.systemd_notify import notify, watchdog_interval_s

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

log = logging.getLogger(__name__)

VERSION = "0.1.0"
JOURNAL_FILE = "journal.db"
RETENTION_INTERVAL_S = 3600.0
DISK_CHECK_INTERVAL_S = 30.0


class GpioUnavailable(Exception):
    """The station cannot drive (or even reach) its outputs: it does not start."""


class Station:
    """A running station: its config, clock, journal, health, outputs and inputs."""

    def __init__(self, config: Config, clock: Clock) -> None:
        self.config = config
        self.clock = clock
        self.lifecycle = Lifecycle()
        self.health = Health(clock)
        self.generated_tokens: dict[auth.Role, str] = {}
        self.inputs: dict[str, DebouncedInput] = {}
        self.input_handlers: dict[str, list[Callable[[bool, float], None]]] = {}
        self.stopping_details: list[Callable[[], dict[str, Any]]] = []
        self.metric_sources: list[Callable[[], Iterable[Metric]]] = []
        self.started_monotonic = 0.0
        self.version = VERSION
        self.interrupted: list[str] = []
        #: What each part took back from the state store at start, by kind (journaled).
        self.restored: dict[str, list[str]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._stop = asyncio.Event()
        self._stopped = False
        self._stop_reason = "requested"
        self._maintenance_error: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.journal: Journal
        self.state: StateStore
        self.sessions: SessionBook
        self.idempotency: IdempotencyBook
        self.outputs: Outputs
        self.gpio: GpioChip
        self.tokens: auth.TokenBook
        self.parts: StationParts
        self.lock: StationLock

    # -- start -----------------------------------------------------------------------

    async def start(self) -> None:
        """Raises :class:`~edge.station_lock.StationBusy` (before touching any device)
        when another process drives this station's devices."""
        self._loop = asyncio.get_running_loop()
        data_dir = self.config.station.data_dir
        make_data_dir(data_dir)
        self.lock = StationLock(data_dir, Holder(os.getpid(), DAEMON, self.config.api.listen))
        self.lock.acquire()
        try:
            await self._start()
        except BaseException:
            self.lock.release()
            raise

    async def _start(self) -> None:
        data_dir = self.config.station.data_dir
        latched_on = self._latched_on_before_start()
        try:
            self.gpio = open_station_gpio(self.config, self.clock)
        except Exception as exc:  # lgpio and gpiozero raise their own types
            raise GpioUnavailable(f"the GPIO chip cannot be opened (backend "
                                  f"{self.config.gpio.backend!r}): {type(exc).__name__}: "
                                  f"{exc}") from exc
        claimed = claim_outputs(self.config, self.gpio)
        self.started_monotonic = self.clock.monotonic()
        self.journal = Journal(data_dir / JOURNAL_FILE, self.clock)
        report = self.journal.open()
        self.state = StateStore(data_dir / STATE_FILE, self.clock)
        state_problem = self.state.open()
        self.health.register("journal", "journal")
        self.health.register("state", "state_store")
        self.health.register("gpio", "gpio")
        self.health.listen(self._journal_health_change)
        self.journal.on_writable_change = functools.partial(self._writable_changed, "journal")
        self.state.on_writable_change = functools.partial(self._writable_changed, "state")
        self.journal.on_maintenance = self._journal_maintenance_done
        self.outputs = Outputs(self.clock, self.journal, self.health)
        self._register_outputs(claimed)
        self.journal.record("station.started", "station", "system", version=VERSION,
                            simulated=self.config.is_simulated,
                            outputs_driven_off=sorted(claimed), latched_on_before=latched_on)
        if report.problem:
            self.journal.record("fault.journal_corrupt", "journal", "system",
                                detail=report.problem, moved_to=str(report.moved_aside))
            self.health.report("journal", "fault", report.problem)
        else:
            self._report_journal_ok()
        if state_problem:
            self.journal.record("fault.state_corrupt", "state", "system", detail=state_problem)
            self.health.report("state", "fault", state_problem)
        else:
            self.health.report("state", "ok", "writable")
        self.health.report("gpio", "ok", self.config.gpio.backend)
        self._load_tokens()
        self.sessions = SessionBook(self.clock, self.state)
        self.idempotency = IdempotencyBook(self.clock, self.state)
        self.restored["panel_sessions"] = self.sessions.restored
        self.restored["idempotency_keys"] = self.idempotency.restored
        self._watch_inputs()
        self.parts = build_parts(self)
        await self.outputs.confirm_due()  # remote coils OFF (one attempt; then the watch's)
        self._spawn(self.outputs.watch(), "outputs-watch")
        self._spawn(self._maintenance_loop(), "journal-retention")
        self._spawn(self._disk_loop(), "disk-check")
        if (interval := watchdog_interval_s()) is not None:
            self._spawn(self._watchdog_loop(interval), "systemd-watchdog")
        await self.lifecycle.emit("ready")
        self.parts.alarms.carry_on()
        self.journal.record("state.restored", "state", "system",
                            **restore_plan.summary(self.restored))

    def _latched_on_before_start(self) -> list[int]:
        """Mock GPIO only: relays a killed predecessor left ON (the real chip cannot tell)."""
        if self.config.gpio.backend != "mock":
            return []
        from drivers.gpio import PinLatch

        return sorted(p for p, on in PinLatch(gpio_latch_path(self.config)).read().items() if on)

    def _register_outputs(self, claimed: dict[str, tuple[str, Any, float | None]]) -> None:
        guard = self.config.outputs.min_switch_s
        min_switch_s = {"relay": guard.power_relay, "zone": guard.zone,
                        "siren": guard.siren_relay}
        for output_id, (kind, switch, max_on_s) in claimed.items():
            health_id = None
            if kind in ("relay", "zone"):
                health_id = "amplifier"
            elif kind == "siren":
                health_id = output_id
            self.outputs.add(Output(output_id, kind, switch, max_on_s, health_id=health_id,
                                    min_switch_s=min_switch_s.get(kind, 0.0)))
        if self.config.amplifier is not None:
            self.health.register("amplifier", "amplifier")
            self.health.report("amplifier", "ok", "off")
        for siren in self.config.sirens:
            if siren.relay is not None:
                self.health.register(siren.id, "siren")
                self.health.report(siren.id, "ok", "off")

    def _load_tokens(self) -> None:
        """Config tokens and the token file (see :mod:`edge.auth`); the first start of a
        station without an operator or admin token makes them."""
        data_dir = self.config.station.data_dir
        configured = [auth.StoredToken(t.name, t.role, t.sha256) for t in self.config.api.tokens]
        file = auth.TokenFile(data_dir)
        if not self.config.is_simulated:
            try:
                self.generated_tokens = auth.make_missing_tokens(file, configured)
            except auth.TokenFileError as exc:
                log.error("%s: no token was generated", exc)
            if self.generated_tokens:
                self.journal.record("access.tokens_generated", "api", "system",
                                    roles=sorted(self.generated_tokens))
        refused = frozenset() if self.config.is_simulated else frozenset(SIM_TOKEN_HASHES)
        self.tokens = auth.TokenBook(configured, file, refused)
        self.tokens.add_fixed(auth.write_local_cli_token(data_dir))

    def _watch_inputs(self) -> None:
        loop = asyncio.get_running_loop()
        named: dict[str, int] = {}
        for key in ("evacuate_button", "stop_button", "ack_button"):
            pin = getattr(self.config.panel, key)
            if pin is not None:
                named[f"panel.{key}"] = pin
        for alarm in self.config.hand_alarms:
            if alarm.pin is not None:
                named[alarm.id] = alarm.pin
        for gauge in self.config.rain_gauges:
            if gauge.kind == "pulse" and gauge.pin is not None:
                named[gauge.id] = gauge.pin  # a reed contact closing to ground per tip
        for input_id, pin in named.items():
            raw = self.gpio.input(pin, active_low=True)
            self.inputs[input_id] = DebouncedInput(
                raw, self.clock, self.config.gpio.debounce_s,
                functools.partial(self.input_changed, input_id), loop,
            )
        for alarm in self.config.hand_alarms:
            if alarm.pin is not None:
                self.health.register(alarm.id, "hand_alarm")
                self.health.report(alarm.id, "ok", "idle")

    def input_changed(self, input_id: str, active: bool, began: float) -> None:
        """A settled input level (GPIO, or a remote input polled over Modbus)."""
        actor = "panel" if input_id.startswith("panel.") else input_id
        # The event is journaled once the level has settled, a debounce window (and, on a
        # busy CPU, a little more) after the edge; ``since`` is the edge itself, what a
        # hold time is measured from.
        since = self.clock.now() - timedelta(seconds=self.clock.monotonic() - began)
        self.journal.record("input.pressed" if active else "input.released", input_id, actor,
                            since=iso_utc(since))
        for handler in self.input_handlers.get(input_id, []):
            handler(active, began)

    def on_input(self, input_id: str, handler: Callable[[bool, float], None]) -> None:
        self.input_handlers.setdefault(input_id, []).append(handler)

    def unsettled_input(self, input_id: str) -> tuple[float, float] | None:
        """A GPIO input's raw change still in its debounce window (see ``HoldButton``)."""
        watched = self.inputs.get(input_id)
        return None if watched is None else watched.unsettled()

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        self._tasks.append(asyncio.create_task(coro, name=name))

    # -- health of the station itself -------------------------------------------------

    def _journal_health_change(self, current: DeviceHealth, previous: DeviceHealth | None) -> None:
        if self.journal.writable:
            self.journal.record("health.changed", current.id, "system", kind=current.kind,
                                status=current.status, detail=current.detail,
                                previous=previous.status if previous else None)
        self._update_fault_led()

    def _writable_changed(self, device: str, writable: bool, error: str | None) -> None:
        """The journal's or the state store's writer thread says: hop onto the loop."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        if writable:
            loop.call_soon_threadsafe(self._report_writable, device)
        else:
            loop.call_soon_threadsafe(self.health.report, device, "fault",
                                      f"not writable: {error}")

    def _report_writable(self, device: str) -> None:
        if device == "journal":
            self._report_journal_ok()
        else:
            self.health.report(device, "ok", "writable")

    def _journal_maintenance_done(self, error: str | None) -> None:
        """Called on the journal's writer thread after each retention run: hop onto the loop."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._maintenance_result, error)

    def _maintenance_result(self, error: str | None) -> None:
        self._maintenance_error = error
        if self.journal.writable:  # "not writable" says more; it stays until writes succeed
            self._report_journal_ok()

    def _report_journal_ok(self) -> None:
        """The journal records: ``ok``, or a ``fault`` while its retention run fails: old events
        then stay in the live database, which outgrows its budget until the disk fills on a
        night that matters, so a technician must come (the fault LED), not read a log."""
        if self._maintenance_error is None:
            self.health.report("journal", "ok", "writable")
        else:
            self.health.report("journal", "fault",
                               f"writable; retention/archive failed: {self._maintenance_error}")

    def _update_fault_led(self) -> None:
        if "panel.fault_led" not in self.outputs:
            return
        faulty = any(d.status == "fault" for d in self.health.devices())
        led = self.outputs["panel.fault_led"]
        if led.switch.is_on != faulty:
            asyncio.get_running_loop().create_task(
                self.outputs.set("panel.fault_led", faulty, actor="system", reason="fault state")
            )

    def schedule_retention(self) -> None:
        """Archive what is past ``retain_days`` or over the size budget (on the journal's
        writer thread); its outcome reaches health through ``_maintenance_result``."""
        archive_dir = self.config.station.data_dir / "archive"
        cfg = self.config.journal
        now = self.clock.now()
        size = self.journal.size_bytes()

        def job(conn: Any) -> None:
            through = journal_archive.archive_cutoff(
                conn, now, cfg.retain_days, size, cfg.max_db_mb * 1024 * 1024)
            if through:
                path = journal_archive.archive_through(conn, through, archive_dir, now)
                log.info("journal archived through seq %d to %s", through, path)

        self.journal.schedule_maintenance(job)

    async def _maintenance_loop(self) -> None:
        while True:
            self.schedule_retention()
            await self.clock.sleep(RETENTION_INTERVAL_S)

    async def _disk_loop(self) -> None:
        data_dir = self.config.station.data_dir
        min_free = self.config.journal.min_free_mb * 1024 * 1024
        while True:
            free = shutil.disk_usage(data_dir).free
            if free < min_free:
                self.health.report("journal", "fault", f"disk full: {free // 1048576} MiB free")
            elif self.journal.writable:
                self._report_journal_ok()
            await self.clock.sleep(DISK_CHECK_INTERVAL_S)

    async def _watchdog_loop(self, interval_s: float) -> None:
        """Ping systemd only while the station's own checks pass."""
        while True:
            if self.journal.writable:
                notify("WATCHDOG=1")
            else:
                log.error("journal not writable: withholding the systemd watchdog ping")
            await asyncio.sleep(interval_s)

    # -- run and stop ------------------------------------------------------------------

    def install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop, sig.name)

    def request_stop(self, reason: str) -> None:
        """Outputs OFF at once (synchronously), then an orderly stop."""
        if not self.interrupted:
            self.interrupted = self.outputs.energised()
        self.outputs.force_all_off_now()
        self._stop_reason = reason
        self._stop.set()

    async def wait_stopped(self) -> None:
        await self._stop.wait()

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        interrupted = self.interrupted or self.outputs.energised()
        self.outputs.force_all_off_now()
        notify("STOPPING=1")
        extra = await self._stopping_details()
        self.journal.record("station.stopping", "station", "system", reason=self._stop_reason,
                            outputs_interrupted=interrupted, **extra)
        await self.lifecycle.emit("stopping")
        not_off = await self.outputs.all_off(actor="system", reason="station stopping")
        await cancel_and_wait(self._tasks)
        for debounced in self.inputs.values():
            debounced.close()
        await self.lifecycle.emit("stopped")
        try:
            self.gpio.close()
        except Exception:
            log.exception("closing GPIO")
        self.journal.record("station.stopped", "station", "system", outputs_not_off=not_off)
        self.journal.close()
        self.state.close()
        auth.remove_local_cli_token(self.config.station.data_dir)
        self.lock.release()

    async def _stopping_details(self) -> dict[str, Any]:
        details: dict[str, Any] = {}
        for provider in self.stopping_details:
            details.update(provider())
        return details

    def uptime_s(self) -> float:
        return self.clock.monotonic() - self.started_monotonic
