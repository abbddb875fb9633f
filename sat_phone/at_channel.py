"""The AT command channel to the satellite terminal: one reader, one command in flight.

The structure is AOSP's ``atchannel`` and ModemManager's port handling, because the
peers that did otherwise (python-gsmmodem, gammu, chan_dongle) met the same bugs:

* One reader owns the port. Every line that does not answer the command in flight
  (wrong prefix, or nothing in flight) goes to the URC listeners; a ``+CMT``/``+CDS``
  URC arrives with its PDU attached by the parser.
* One command in flight, from a queue (a lock), each with its expected prefix and
  timeout_s. A final result that arrives when nothing is in flight (an ``OK`` that lost
  a race with a URC, a late ``OK`` after a timeout) is dropped, never credited to the
  next command.
* After a timeout (or a command abandoned by its caller, whose answer is still to come)
  the channel is *unsynchronised*: no command is sent until a fresh ``AT`` and a probe
  whose answer has an information line (``AT+CMEE?`` → ``+CMEE:``) come back in order.
  A late ``OK`` cannot pass for the probe's answer, because the terminal answers in
  order and the probe's ``OK`` must follow its ``+CMEE:`` line.
* When the probe keeps failing: reopen the port (by its stable path, e.g.
  ``/dev/serial/by-id/…``, since a reset re-enumerates the device), then ``AT+CFUN=1,1``,
  then report a fault and keep probing, first after seconds and then backing off to a
  minute (a terminal that comes back is in use again at once, not a minute later).
  A vanished port is reopened with backoff.

The channel never re-initialises the terminal itself; it counts :attr:`generation`
(bumped when the port is (re)opened, after a reset, or when echo comes back on — a
sign the terminal rebooted) so the modem knows to run its init sequence again.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import serial

from drivers.clock import Clock
from drivers.serial_line import SerialLine
from drivers.tasks import cancel_and_wait
from sat_phone.at_parser import AtEvent, AtParser, Echo, Final, Line, Prompt
from sat_phone.waiting import event_or_timeout, first_of

log = logging.getLogger(__name__)

CTRL_Z = b"\x1a"
ESC = b"\x1b"
UNSOLICITED_PREFIXES = (
    "+CMTI:", "+CMT:", "+CDS:", "+CDSI:", "RING", "+CRING:", "+CLIP:", "+CIEV:", "+CUSD:",
    "+CBM:", "+SBDRING", "+CCWA:", "HARDWARE FAILURE",
)
CALL_FINALS = ("no_carrier", "busy", "no_answer", "connect")


class ChannelState(enum.StrEnum):
    CLOSED = "closed"
    OFFLINE = "offline"  # the port cannot be opened or has vanished
    UNSYNCED = "unsynced"  # the port is open but responses cannot be trusted yet
    READY = "ready"
    FAULT = "fault"  # the terminal does not answer even after a reopen and a reset


class AtError(Exception):
    """Base of what a command can raise."""


class AtUnavailable(AtError):
    """The channel cannot carry a command now (port gone, terminal wedged, closed)."""


class AtTimeout(AtError):
    """No final result in time; the channel is now unsynchronised."""


class AtCommandError(AtError):
    """The terminal answered with an error final (``ERROR``, ``+CME``/``+CMS ERROR``, …)."""

    def __init__(self, command: str, final: Final) -> None:
        super().__init__(f"{command}: {final.line}")
        self.command = command
        self.final = final

    @property
    def kind(self) -> str:
        return self.final.kind

    @property
    def code(self) -> int | None:
        return self.final.code


@dataclass(frozen=True, slots=True)
class ChannelSettings:
    """Timing and escalation; the defaults suit a geostationary (Tiantong) link.

    ``sms_timeout_s`` is per part (one ``+CMGS``): the terminal's relay layer gives up on
    the network's answer after TR1M, 35-45 s (3GPP TS 24.011 clause 10), and answers
    ``+CMS ERROR``; 60 s adds the radio connection set-up of a satellite link (a few
    seconds on Tiantong's geostationary hop, up to ~15 s while an Iridium terminal
    acquires). A terminal silent longer than that is stuck, not slow.
    """

    baudrate: int = 19200
    command_timeout_s: float = 20.0
    prompt_timeout_s: float = 20.0
    sms_timeout_s: float = 60.0
    sync_timeout_s: float = 5.0
    sync_probe: tuple[str, str] = ("AT+CMEE?", "+CMEE:")
    reopen_after: int = 2  # failed syncs before the port is closed and reopened
    reset_after: int = 3  # … before the terminal is reset
    fault_after: int = 4  # … before the channel reports a fault
    reset_command: str = "AT+CFUN=1,1"
    reset_wait_s: float = 15.0
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 60.0

    def fault_probe_delay_s(self, probe: int) -> float:
        """How long a faulted channel waits before its ``probe``-th try (0 first):
        seconds at first, doubling to ``backoff_max_s``."""
        doubled: float = self.backoff_initial_s * 2 ** min(probe, 16)
        return min(doubled, self.backoff_max_s)


@dataclass(frozen=True, slots=True)
class AtResponse:
    """The lines that answered a command (those with its prefix) and its final result."""

    final: Final
    lines: tuple[Line, ...]
    prefix: str | None = None

    @property
    def values(self) -> list[str]:
        """Each line with the prefix and the space after it removed."""
        if not self.prefix:
            return [line.text for line in self.lines]
        return [line.text[len(self.prefix):].strip() for line in self.lines]


@dataclass(frozen=True, slots=True)
class _Request:
    command: str
    timeout_s: float
    prefix: str | None = None
    capture_all: bool = False
    body: str | None = None  # sent after the "> " prompt, ended by Ctrl-Z
    require_line: bool = False  # a final before a prefixed line is stale (the sync probe)


@dataclass
class _InFlight:
    request: _Request
    done: asyncio.Future[Final]
    prompt: asyncio.Future[None]
    lines: list[Line] = field(default_factory=list)

    @property
    def body(self) -> str | None:
        return self.request.body

    def wants(self, line: Line) -> bool:
        if self.request.prefix is not None:
            return line.text.startswith(self.request.prefix)
        return self.request.capture_all and not line.text.startswith(UNSOLICITED_PREFIXES)


class AtChannel:
    """Commands to one terminal on ``port`` (a stable device path or a pyserial URL)."""

    def __init__(self, port: str, *, clock: Clock, settings: ChannelSettings | None = None) -> None:
        self.port = port
        self.settings = settings or ChannelSettings()
        self._clock = clock
        self._parser = AtParser()
        self._line: SerialLine | None = None
        self._inflight: _InFlight | None = None
        self._lock = asyncio.Lock()
        self._ready = asyncio.Event()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._urc_listeners: list[Callable[[Line], None]] = []
        self._state_listeners: list[Callable[[ChannelState], None]] = []
        self._echo_on = False
        self.state = ChannelState.CLOSED
        self.detail = "not started"
        self.since = clock.now()
        self.generation = 0
        self.stale_finals = 0

    # --- lifecycle ---------------------------------------------------------------

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._supervise(), name=f"at-channel {self.port}")

    def __repr__(self) -> str:
        detail = f" ({self.detail})" if self.detail else ""
        return f"<AtChannel {self.port} {self.state.value}{detail} generation={self.generation}>"

    async def close(self) -> None:
        """Stop the channel and close the port; closing again does nothing."""
        task, self._task = self._task, None
        await cancel_and_wait([task])
        self._drop_line(AtUnavailable("channel closed"))
        self._set_state(ChannelState.CLOSED, "closed")

    def add_urc_listener(self, listener: Callable[[Line], None]) -> None:
        """``listener`` gets every unsolicited line; it must not block (schedule work)."""
        self._urc_listeners.append(listener)

    def add_state_listener(self, listener: Callable[[ChannelState], None]) -> None:
        self._state_listeners.append(listener)

    # --- commands ----------------------------------------------------------------

    async def command(
        self,
        command: str,
        *,
        prefix: str | None = None,
        capture_all: bool = False,
        timeout_s: float | None = None,
    ) -> AtResponse:
        """Send ``command`` and return the lines starting with ``prefix``.

        ``capture_all`` keeps every non-URC line instead (``AT+CGSN`` answers a bare
        number). Raises :class:`AtCommandError`, :class:`AtTimeout`, :class:`AtUnavailable`.
        """
        timeout_s = self.settings.command_timeout_s if timeout_s is None else timeout_s
        return await self._queued(_Request(command, timeout_s, prefix, capture_all))

    async def command_with_body(
        self, command: str, body: str, *, prefix: str | None, timeout_s: float | None = None
    ) -> AtResponse:
        """``AT+CMGS=<n>``: await the ``> `` prompt, send ``body`` and Ctrl-Z, await the final."""
        timeout_s = self.settings.sms_timeout_s if timeout_s is None else timeout_s
        return await self._queued(_Request(command, timeout_s, prefix, body=body))

    async def _queued(self, request: _Request) -> AtResponse:
        while True:
            await self._until_ready(request.timeout_s)
            async with self._lock:
                if self.state is ChannelState.READY:
                    try:
                        response = await self._transact(request)
                    except AtTimeout as exc:
                        self._desync(str(exc))
                        raise
                    except asyncio.CancelledError:  # its answer is still to come
                        self._desync(f"{request.command}: abandoned by its caller")
                        raise
                    break
                if self.state is not ChannelState.UNSYNCED:
                    raise AtUnavailable(f"{self.state}: {self.detail}")
            # the command ahead of this one timed out: wait for the resync, not fail
        if request.command.upper() == "ATE0":
            self._echo_on = False
        return response

    async def _until_ready(self, timeout_s: float) -> None:
        if self.state is ChannelState.READY:
            return
        if self.state is not ChannelState.UNSYNCED:
            raise AtUnavailable(f"{self.state}: {self.detail}")
        if not await event_or_timeout(self._clock, self._ready, timeout_s):
            raise AtUnavailable(f"{self.state}: {self.detail}")

    async def _transact(self, request: _Request) -> AtResponse:
        line = self._line
        if line is None:
            raise AtUnavailable(f"{self.state}: {self.detail}")
        loop = asyncio.get_running_loop()
        inflight = _InFlight(request, done=loop.create_future(), prompt=loop.create_future())
        command, timeout_s = request.command, request.timeout_s
        self._inflight = inflight
        try:
            line.write(command.encode("ascii") + b"\r")
            if request.body is not None:
                await self._await_prompt(inflight, line)
            final = await first_of(self._clock, [inflight.done], timeout_s)
        except TimeoutError:
            line.discard_output()
            raise AtTimeout(f"{command}: no final result in {timeout_s:g} s") from None
        except ConnectionError as exc:
            raise AtUnavailable(f"{command}: {exc}") from exc
        finally:
            self._inflight = None
            for future in (inflight.done, inflight.prompt):
                if not future.done():
                    future.cancel()
        if not final.success:
            raise AtCommandError(command, final)
        return AtResponse(final, tuple(inflight.lines), request.prefix)

    async def _await_prompt(self, inflight: _InFlight, line: SerialLine) -> None:
        try:
            waits: list[asyncio.Future[Any]] = [inflight.prompt, inflight.done]
            await first_of(self._clock, waits, self.settings.prompt_timeout_s)
        except TimeoutError:
            line.write(ESC)  # abandon the message so the terminal leaves text entry
            raise
        if inflight.done.done():
            return  # an error final instead of the prompt
        assert inflight.body is not None
        line.write(inflight.body.encode("ascii") + CTRL_Z)

    # --- reading -----------------------------------------------------------------

    def _on_data(self, data: bytes) -> None:
        for event in self._parser.feed(data):
            self._dispatch(event)

    def _dispatch(self, event: AtEvent) -> None:
        inflight = self._inflight
        if isinstance(event, Echo):
            if not self._echo_on:
                log.info("%s: echo is on (the terminal may have restarted)", self.port)
                self._echo_on = True
                self.generation += 1
                self._notify_state()
        elif isinstance(event, Prompt):
            if inflight is not None and inflight.body is not None and not inflight.prompt.done():
                inflight.prompt.set_result(None)
        elif isinstance(event, Final):
            self._on_final(event, inflight)
        elif inflight is not None and inflight.body is not None and event.text == inflight.body:
            pass  # the terminal echoing the PDU we typed after the prompt
        elif inflight is not None and not inflight.done.done() and inflight.wants(event):
            inflight.lines.append(event)
        else:
            self._emit_urc(event)

    def _on_final(self, final: Final, inflight: _InFlight | None) -> None:
        if inflight is None or inflight.done.done():
            if final.kind in CALL_FINALS:
                self._emit_urc(Line(final.line))
            else:
                self.stale_finals += 1
                log.debug("%s: dropped stale %r", self.port, final.line)
            return
        if inflight.request.require_line and not inflight.lines:
            self.stale_finals += 1
            log.debug("%s: dropped %r that came before the probe's line", self.port, final.line)
            return
        inflight.done.set_result(final)

    def _emit_urc(self, line: Line) -> None:
        for listener in self._urc_listeners:
            try:
                listener(line)
            except Exception:
                log.exception("URC listener failed on %r", line.text)

    def _on_lost(self, exc: Exception | None) -> None:
        log.warning("%s: port lost (%s)", self.port, exc or "end of file")
        self._line = None
        self._parser.reset()
        self._fail_inflight(AtUnavailable(f"port lost: {exc or 'end of file'}"))
        self._set_state(ChannelState.OFFLINE, f"port lost: {exc or 'end of file'}")
        self._wake.set()

    # --- supervision -------------------------------------------------------------

    async def _supervise(self) -> None:
        failures = 0
        backoff = self.settings.backoff_initial_s
        while True:
            if self._line is None:
                try:
                    self._line = await SerialLine.open(
                        self.port, baudrate=self.settings.baudrate,
                        on_data=self._on_data, on_lost=self._on_lost,
                    )
                except (OSError, serial.SerialException) as exc:
                    if self.state is not ChannelState.FAULT:
                        self._set_state(ChannelState.OFFLINE, f"cannot open {self.port}: {exc}")
                    await self._clock.sleep(backoff)
                    backoff = min(backoff * 2, self.settings.backoff_max_s)
                    continue
                backoff = self.settings.backoff_initial_s
                self.generation += 1
                if self.state is not ChannelState.FAULT:
                    self._set_state(ChannelState.UNSYNCED, "port opened")
            if self.state is not ChannelState.READY:
                if await self._sync():
                    failures = 0
                    self._set_state(ChannelState.READY, "")
                    self._ready.set()
                else:
                    failures += 1
                    await self._escalate(failures)
                continue
            self._wake.clear()
            await self._wake.wait()

    async def _sync(self) -> bool:
        timeout_s = self.settings.sync_timeout_s
        probe, prefix = self.settings.sync_probe
        async with self._lock:
            try:
                with contextlib.suppress(AtCommandError):
                    await self._transact(_Request("AT", timeout_s))
                await self._transact(_Request(probe, timeout_s, prefix, require_line=True))
            except AtError as exc:
                log.debug("%s: sync failed: %s", self.port, exc)
                return False
        return True

    async def _escalate(self, failures: int) -> None:
        s = self.settings
        if self._line is None:
            return
        if failures >= s.fault_after:
            self._set_state(ChannelState.FAULT, f"no answer after reopen and {s.reset_command}")
            self._drop_line(AtUnavailable("terminal does not answer"))
            await self._clock.sleep(s.fault_probe_delay_s(failures - s.fault_after))
        elif failures == s.reset_after:
            log.warning("%s: no answer after reopening; sending %s", self.port, s.reset_command)
            with contextlib.suppress(ConnectionError):
                self._line.write(s.reset_command.encode("ascii") + b"\r")
            self.generation += 1
            await self._clock.sleep(s.reset_wait_s)
        elif failures == s.reopen_after:
            log.warning("%s: no answer; reopening the port", self.port)
            self._drop_line(AtUnavailable("reopening the port"))
        else:
            await self._clock.sleep(min(s.backoff_initial_s * failures, s.backoff_max_s))

    def _desync(self, reason: str) -> None:
        log.warning("%s: unsynchronised: %s", self.port, reason)
        self._set_state(ChannelState.UNSYNCED, reason)
        self._wake.set()

    def _drop_line(self, exc: AtError) -> None:
        line, self._line = self._line, None
        if line is not None:
            line.close()
        self._parser.reset()
        self._fail_inflight(exc)

    def _fail_inflight(self, exc: AtError) -> None:
        inflight = self._inflight
        if inflight is not None and not inflight.done.done():
            inflight.done.set_exception(exc)

    def _set_state(self, state: ChannelState, detail: str) -> None:
        if state is not ChannelState.READY:
            self._ready.clear()
        if state is self.state and detail == self.detail:
            return
        changed = state is not self.state
        self.state, self.detail = state, detail
        if changed:
            self.since = self._clock.now()
            log.info("%s: %s %s", self.port, state, detail)
            self._notify_state()

    def _notify_state(self) -> None:
        for listener in self._state_listeners:
            try:
                listener(self.state)
            except Exception:
                log.exception("state listener failed")
