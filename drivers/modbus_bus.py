"""One RS-485 Modbus RTU line, shared by every device on it, over pymodbus 3.16.

Why this wrapper exists -- pymodbus 3.16's async serial client has traps that a
station polling several far-away devices falls into:

* A reply that arrives after its timeout is taken as the answer to the next
  request, so every later read can shift by one. Here: one request in flight per
  line (a FIFO lock); after a timeout, or whenever bytes arrive that nobody asked
  for (seen through the client's ``trace_packet`` hook), the line is kept quiet for
  ``quiet_s``; before every request the port is drained through that hook, and
  pymodbus empties its receive buffer as it sends (a test holds it to that: a torn
  reply must not spoil the next answer); and every reply is checked
  against its request (unit, function, register or bit count, echoed address and
  value) -- pymodbus already drops a frame from another unit. What remains is a
  reply later than ``timeout_s + quiet_s`` to the very same request of the same
  unit: it is then that request's true answer, one poll old, never another device's
  or another register's value.
* A serial client whose peer went away (USB adapter unplugged, ``socket://`` peer
  closed) never reconnects by itself: such a client is closed and a new one made
  on the next request.
* Its defaults (3 s timeout, 3 retries) cost 12 s of line time per dead device per
  poll: here ``retries=0`` and a short ``timeout_s``, so a dead device costs at most
  ``timeout_s`` plus, before the next request, ``quiet_s``.
* It logs every miss at ERROR: its WARNING and ERROR records are dropped (kept at
  DEBUG on this module's logger) and this line logs changes of state once -- a
  unit that stops answering, answers again, the port lost and back.

A device that was out of reach may have lost what it was told (a module that browned
out comes back with its power-on coil states): ``on_reconnect`` callbacks hear of a
unit that answers again (its address) and of a port opened again after it was lost or
closed (``None``: every device on the line), so their owners can tell it again.

Only pymodbus's public client API is used: the constructor's parameters, ``connect``,
``connected``, ``close``, ``set_max_no_responses`` and the read/write calls.

``port`` is a device path or any pyserial URL (pymodbus hands it to
``serial.serial_for_url``), e.g. ``socket://127.0.0.1:5020`` for a simulator.
Timeouts and the quiet time are wire time, real seconds at any simulation speed:
the line does not run faster because the station's clock does.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypedDict

from pymodbus.client import AsyncModbusSerialClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException

log = logging.getLogger(__name__)


class BusError(Exception):
    """A request on the line did not get a usable answer."""

    def __init__(self, message: str, unit: int | None = None) -> None:
        super().__init__(message)
        self.unit = unit


class PortUnavailable(BusError):
    """The serial port (or URL) cannot be opened or was lost."""


class NoReply(BusError):
    """Nothing usable came back in time (silence, or a frame with a bad CRC)."""


class BadReply(BusError):
    """A well-formed reply that does not answer the request that was sent."""


class DeviceRefused(BusError):
    """The device answered with a Modbus exception (e.g. 2: illegal data address)."""

    def __init__(self, message: str, unit: int, code: int) -> None:
        super().__init__(message, unit)
        self.code = code


@dataclass
class BusCounters:
    """What the line has done, for metrics and the benchmark."""

    requests: int = 0
    replies: int = 0
    no_reply: int = 0
    bad_reply: int = 0
    refused: int = 0
    stray_frames: int = 0
    opened: int = 0


class _LineSettings(TypedDict):
    """The serial framing, handed to every client this line opens."""

    baudrate: int
    bytesize: int
    parity: str
    stopbits: int


class _QuietPymodbus(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        if log.isEnabledFor(logging.DEBUG):
            log.debug("pymodbus: %s", record.getMessage().split("\n>>>>>", 1)[0])
        return False


_PYMODBUS_FILTER = _QuietPymodbus()


def quiet_pymodbus_logging() -> None:
    """Drop pymodbus's per-request warnings and errors (idempotent)."""
    logger = logging.getLogger("pymodbus.logging")
    if _PYMODBUS_FILTER not in logger.filters:
        logger.addFilter(_PYMODBUS_FILTER)


class ModbusBus:
    """A Modbus RTU master on one line; every device on the line goes through it."""

    def __init__(
        self,
        port: str,
        *,
        baudrate: int = 9600,
        bytesize: int = 8,
        parity: str = "N",
        stopbits: int = 1,
        timeout_s: float = 0.3,
        quiet_s: float = 0.1,
        name: str | None = None,
    ) -> None:
        if timeout_s <= 0 or quiet_s < 0:
            raise ValueError("timeout_s must be > 0 and quiet_s >= 0")
        if parity not in ("N", "E", "O"):
            raise ValueError(f"parity must be N, E or O, got {parity!r}")
        self.port = port
        self.name = name or port
        self.timeout_s = timeout_s
        self.quiet_s = quiet_s
        self.counters = BusCounters()
        self._line = _LineSettings(
            baudrate=baudrate, bytesize=bytesize, parity=parity, stopbits=stopbits
        )
        self._client: AsyncModbusSerialClient | None = None
        self._lock = asyncio.Lock()
        self._awaiting = False
        self._quiet_until = 0.0
        self._port_down = False
        self._silent_units: set[int] = set()
        #: Called (on the loop, inside a request: keep them short) with the address of a
        #: unit that answers again, or None when the port was opened again.
        self.on_reconnect: list[Callable[[int | None], None]] = []
        quiet_pymodbus_logging()

    # ------------------------------------------------------------ operations

    async def read_holding_registers(self, unit: int, address: int, count: int) -> list[int]:
        return await self._read_registers(unit, address, count, holding=True)

    async def read_input_registers(self, unit: int, address: int, count: int) -> list[int]:
        return await self._read_registers(unit, address, count, holding=False)

    async def read_discrete_inputs(self, unit: int, address: int, count: int) -> list[bool]:
        """FC02."""
        return await self._read_bits(unit, address, count, coils=False)

    async def read_coils(self, unit: int, address: int, count: int) -> list[bool]:
        """FC01: what a coil is set to (a remote siren read back)."""
        return await self._read_bits(unit, address, count, coils=True)

    async def write_coil(self, unit: int, address: int, value: bool) -> None:
        """FC05; the echo must repeat the address and the value."""
        reply = await self._transact(
            unit, 5, lambda c: c.write_coil(address, value, device_id=unit)
        )
        if reply.address != address or not reply.bits or bool(reply.bits[0]) != value:
            raise self._bad(unit, f"FC05 echo does not match coil {address}={value}")
        self._answered(unit)

    async def write_register(self, unit: int, address: int, value: int) -> None:
        """FC06; the echo must repeat the address and the value."""
        if not 0 <= value <= 0xFFFF:
            raise ValueError(f"register value must be 0..65535, got {value}")
        reply = await self._transact(
            unit, 6, lambda c: c.write_register(address, value, device_id=unit)
        )
        if reply.address != address or list(reply.registers) != [value]:
            raise self._bad(unit, f"FC06 echo does not match register {address}={value}")
        self._answered(unit)

    def __repr__(self) -> str:
        if self._port_down:
            state = "port down"
        else:
            state = "open" if self._client is not None and self._client.connected else "closed"
        c = self.counters
        silent = sorted(self._silent_units)
        return (f"<ModbusBus {self.name} on {self.port} {state} requests={c.requests}"
                f" replies={c.replies} no_reply={c.no_reply} silent_units={silent}>")

    async def close(self) -> None:
        """Close the port (the next request reopens it); closing again does nothing."""
        async with self._lock:
            self._drop_client()

    # ------------------------------------------------------------ the line

    async def _read_bits(self, unit: int, address: int, count: int, *, coils: bool) -> list[bool]:
        fc = 1 if coils else 2

        def call(c: AsyncModbusSerialClient) -> Awaitable[Any]:
            read = c.read_coils if coils else c.read_discrete_inputs
            return read(address, count=count, device_id=unit)

        reply = await self._transact(unit, fc, call)
        if len(reply.bits) != 8 * ((count + 7) // 8):
            raise self._bad(unit, f"FC{fc:02d} asked {count} bits, got {len(reply.bits)} bits")
        self._answered(unit)
        return list(reply.bits[:count])

    async def _read_registers(
        self, unit: int, address: int, count: int, *, holding: bool
    ) -> list[int]:
        fc = 3 if holding else 4

        def call(c: AsyncModbusSerialClient) -> Awaitable[Any]:
            read = c.read_holding_registers if holding else c.read_input_registers
            return read(address, count=count, device_id=unit)

        reply = await self._transact(unit, fc, call)
        if len(reply.registers) != count:
            raise self._bad(unit, f"FC{fc:02d} asked {count} registers, got {len(reply.registers)}")
        self._answered(unit)
        return list(reply.registers)

    async def _transact(
        self,
        unit: int,
        function: int,
        call: Callable[[AsyncModbusSerialClient], Awaitable[Any]],
    ) -> Any:
        if not 1 <= unit <= 247:
            raise ValueError(f"unit must be 1..247 (broadcasts get no reply), got {unit}")
        cancels_before = _cancels_requested()
        async with self._lock:
            client = await self._ready_client(unit, cancels_before)
            self.counters.requests += 1
            self._awaiting = True
            try:
                reply = await call(client)
            except ModbusIOException:
                self._hush()
                self.counters.no_reply += 1
                self._unit_silent(unit, "no reply")
                raise NoReply(f"{self.name}: unit {unit} did not answer", unit) from None
            except ConnectionException as exc:
                self._port_lost(str(exc))
                raise PortUnavailable(f"{self.name}: {exc}", unit) from None
            except ModbusException as exc:
                self._hush()
                raise self._bad(unit, f"undecodable reply: {exc}") from None
            finally:
                self._awaiting = False
                _honour_cancellation(cancels_before)
        if reply.dev_id != unit or (reply.function_code & 0x7F) != function:
            raise self._bad(unit, f"reply of unit {reply.dev_id} FC{reply.function_code:02d}")
        if reply.isError():
            self.counters.refused += 1
            code = getattr(reply, "exception_code", 0)
            self._answered(unit)
            raise DeviceRefused(
                f"{self.name}: unit {unit} refused FC{function:02d} (exception {code})",
                unit,
                code,
            )
        self.counters.replies += 1
        return reply

    async def _ready_client(self, unit: int, cancels_before: int) -> AsyncModbusSerialClient:
        """A connected client with a quiet, empty input; reopen a lost one."""
        if self._client is not None and not self._client.connected:
            self._drop_client()
        if self._client is None:
            client = AsyncModbusSerialClient(
                self.port,
                **self._line,
                name=self.name,
                timeout=self.timeout_s,
                retries=0,
                reconnect_delay=0,  # we reopen ourselves; no background task
                trace_packet=self._traced,
            )
            client.set_max_no_responses(1 << 30)
            connected = await client.connect()
            _honour_cancellation(cancels_before)
            if not connected:
                client.close()
                self._port_lost("cannot open")
                raise PortUnavailable(f"{self.name}: cannot open {self.port}", unit)
            if self._port_down:
                log.info("%s: port open again", self.name)
                self._port_down = False
            self.counters.opened += 1
            self._client = client
            if self.counters.opened > 1:
                self._reconnected(None)
        await self._keep_quiet()
        return self._client

    async def _keep_quiet(self) -> None:
        """Wait out the quiet time, then drain the port; stray bytes extend it, a few times
        at most.

        Draining: two turns of the event loop, so the client reads whatever the port holds
        and ``_traced`` sees it (a stray byte hushes the line and the wait goes on). What
        was read then never becomes the answer: pymodbus empties its receive buffer as it
        sends each request. Wire time (real seconds), see the module docstring.
        """
        loop = asyncio.get_running_loop()
        for _ in range(3):
            wait = self._quiet_until - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            await _drain_turns()
            if self._quiet_until <= loop.time():
                return

    def _traced(self, sending: bool, data: bytes) -> bytes:
        if not sending and not self._awaiting:
            # Bytes nobody asked for: a late reply. Keep the line quiet a while.
            self.counters.stray_frames += 1
            self._hush()
        return data

    def _hush(self) -> None:
        loop = asyncio.get_running_loop()
        self._quiet_until = max(self._quiet_until, loop.time() + self.quiet_s)

    def _drop_client(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            try:
                client.close()
            except Exception as exc:  # pymodbus on a port without a file number (loop://)
                log.warning("%s: closing %s: %s: %s", self.name, self.port,
                            type(exc).__name__, exc)

    def _bad(self, unit: int, detail: str) -> BadReply:
        self.counters.bad_reply += 1
        self._hush()
        self._unit_silent(unit, detail)
        return BadReply(f"{self.name}: unit {unit}: {detail}", unit)

    def _port_lost(self, detail: str) -> None:
        self._drop_client()
        if not self._port_down:
            log.warning("%s: port %s unavailable (%s)", self.name, self.port, detail)
            self._port_down = True

    def _unit_silent(self, unit: int, detail: str) -> None:
        if unit not in self._silent_units:
            self._silent_units.add(unit)
            log.warning("%s: unit %d stopped answering (%s)", self.name, unit, detail)

    def _answered(self, unit: int) -> None:
        if unit in self._silent_units:
            self._silent_units.discard(unit)
            log.info("%s: unit %d answers again", self.name, unit)
            self._reconnected(unit)

    def _reconnected(self, unit: int | None) -> None:
        for callback in self.on_reconnect:
            try:
                callback(unit)
            except Exception:  # one owner's bug must not fail the request on the line
                log.exception("%s: on_reconnect callback failed", self.name)


async def _drain_turns() -> None:
    """Let the event loop poll the port once and run what it read before we go on.

    The loop runs this task's step first, then the readers of the same turn: the second
    yield comes back only after them.
    """
    await asyncio.sleep(0)
    await asyncio.sleep(0)


def _cancels_requested() -> int:
    task = asyncio.current_task()
    return task.cancelling() if task is not None else 0


def _honour_cancellation(cancels_before: int) -> None:
    """Re-raise a cancellation that ``asyncio.wait_for`` inside pymodbus swallowed.

    On Python 3.11, ``wait_for`` returns the result when the awaited operation finishes
    in the same loop turn as a cancel, and the cancel is lost (CPython gh-86296): a gauge
    task would then never stop. The task still counts the request, so raise it here --
    but only for a cancel that arrived *during* this request. A task that was cancelled
    earlier and now switches a siren OFF in its ``finally`` block must see that write
    succeed: raising here would leave the coil OFF on the wire but ON in our books.
    """
    if _cancels_requested() > cancels_before:
        raise asyncio.CancelledError
