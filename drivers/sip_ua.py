"""A SIP user agent: one pjsua2 endpoint on its own thread, driven from the event loop.

PJSIP's threading rules, kept here so no caller has to know them:

* one ``Endpoint`` per process, created, polled and destroyed on one thread of ours
  (``threadCnt = 0``, ``mainThreadOnly``): that thread runs every pjsua2 call the event
  loop asks for (a job queue) and ``libHandleEvents`` between them, so PJSIP's callbacks
  (registration, calls, DTMF) run there too and hop onto the loop with
  ``call_soon_threadsafe``;
* audio goes through our own frames (``AudioMediaPort``) on PJSIP's media clock thread
  (the null sound device: the station never opens a second owner of a sound card), from
  and into a thread-safe :class:`~drivers.audio_feed.Feed` — nothing else runs there.

pjsua2 is an optional dependency (``pip install 'station-edge[sip]'``); :func:`unavailable`
says why it cannot be used, and :class:`SipUa` raises :class:`SipUnavailable` at start.
The pjsua2 types themselves stay in :mod:`drivers.sip_engine`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from drivers.audio_feed import Feed

if TYPE_CHECKING:
    import numpy as np

T = TypeVar("T")

#: The media clock: G.711 narrowband, 20 ms frames (what every PBX and desk phone speaks).
CLOCK_RATE = 8000
FRAME_MS = 20
POLL_MS = 10
#: With no call and no job just run, the thread waits this long for the next job (PJSIP
#: itself wakes it for a packet or a due timer): a quiet station's SIP thread wakes ten
#: times a second, not a hundred (it was the largest share of its idle CPU).
IDLE_POLL_MS = 100
STOP_WAIT_S = 1.5


class SipUnavailable(RuntimeError):
    """pjsua2 is not installed or the endpoint cannot start; ``str()`` says why."""


class SipCallError(RuntimeError):
    """A call cannot be placed, answered or ended (no such call, PJSIP refused)."""


def unavailable() -> str | None:
    """Why pjsua2 cannot be used here, or None when it can."""
    try:
        import pjsua2  # type: ignore[import-untyped, import-not-found, unused-ignore]  # noqa: F401
    except ImportError as exc:
        return f"pjsua2 is not installed ({exc}); install the 'sip' extra"
    return None


@dataclass(frozen=True)
class SipSettings:
    bind: str = "127.0.0.1"
    port: int = 5060  # UDP and TCP
    transports: tuple[Literal["udp", "tcp"], ...] = ("udp", "tcp")
    public_address: str | None = None  # what goes into Contact/SDP, when not ``bind``
    user: str = "station"
    domain: str | None = None  # the account's domain (the registrar's by default)
    registrar: str | None = None  # "host:port", None: no registration (direct calls)
    registrar_transport: Literal["udp", "tcp"] = "udp"
    username: str | None = None  # digest auth
    password: str | None = None
    password_ha1: str | None = None  # MD5 of username:realm:password (hex), instead of password
    realm: str = "*"
    register_every_s: int = 300
    retry_after_s: int = 30
    #: RTP/RTCP ports, [low, high): each call's taken at random, so RTP still flowing to a
    #: port from an earlier call (a far end that missed its BYE, another UA on this host)
    #: does not land in the next call there, where PJSIP would switch to its sender.
    rtp_ports: tuple[int, int] = (10000, 20000)
    log_level: int = 1  # PJSIP's own log (stderr): 0 silent .. 5 verbose

    @property
    def account_uri(self) -> str:
        host = self.domain or (self.registrar.split(":")[0] if self.registrar else None)
        return f"sip:{self.user}@{host or self.public_address or self.bind}"


# -- what the endpoint reports (on the event loop) -----------------------------------------

@dataclass(frozen=True, slots=True)
class Registration:
    registered: bool
    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class Incoming:
    call: int
    remote: str  # the caller's URI (From), e.g. '"Chief" <sip:+8613800000001@pbx>'
    local: str  # whom they called (To), e.g. '<sip:9013800000002@station>'


@dataclass(frozen=True, slots=True)
class CallState:
    call: int
    state: Literal["calling", "ringing", "connected", "ended"]
    code: int = 0  # the last SIP status (e.g. 486 busy, 408 timeout, 503 unreachable)
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Digit:
    call: int
    digit: str
    method: Literal["rfc4733", "sip_info", "other"]


SipEvent = Registration | Incoming | CallState | Digit

#: How far apart the two reports of one key (RFC 4733 and SIP INFO) may arrive: they are
#: sent together, but an INFO lost once comes again 0.5 s later (SIP timer T1), twice 1.5 s.
ECHO_WINDOW_S = 2.0


class KeyPresses:
    """One call's DTMF keys, each counted once even when the phone sends it both ways.

    Many phones send a key as RFC 4733 telephone-events *and* as SIP INFO, and PJSIP
    reports both: counted twice, a PIN ``2468`` would arrive as ``22446688``. A report
    is the echo of an earlier one when that one came by the other method, with the same
    digit, less than ``window_s`` before, and was not paired yet (the oldest such).
    Two presses of a key by one method are always two presses.
    """

    def __init__(self, window_s: float = ECHO_WINDOW_S) -> None:
        self.window_s = window_s
        self._unpaired: deque[tuple[float, str, str]] = deque()  # (at, digit, method)

    def is_new(self, digit: str, method: str, at: float) -> bool:
        while self._unpaired and at - self._unpaired[0][0] >= self.window_s:
            self._unpaired.popleft()
        for report in self._unpaired:
            if report[1] == digit and report[2] != method:
                self._unpaired.remove(report)
                return False
        self._unpaired.append((at, digit, method))
        return True


@dataclass
class CallMedia:
    """One call's audio, as mono float32 frames at :data:`CLOCK_RATE`.

    ``outgoing`` is what the far end hears (push into it; PJSIP's media clock takes a frame
    every 20 ms, silence when it runs dry); ``on_audio`` hears what the far end says (on
    the event loop; None: dropped).
    """

    outgoing: Feed = field(default_factory=lambda: Feed(time.monotonic))
    on_audio: Callable[[np.ndarray], None] | None = None
    received_frames: int = 0

    def deliver(self, pcm: np.ndarray) -> None:
        self.received_frames += len(pcm)
        if self.on_audio is not None:
            self.on_audio(pcm)


EventSink = Callable[[SipEvent], None]


class SipUa:
    """The station's SIP endpoint. ``start`` on the loop, then place/answer/hang up calls."""

    def __init__(self, settings: SipSettings, on_event: EventSink) -> None:
        self.settings = settings
        self.on_event = on_event
        self.media: dict[int, CallMedia] = {}
        self._jobs: queue.SimpleQueue[tuple[Callable[[Any], Any], concurrent.futures.Future[Any]]]
        self._jobs = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = threading.Event()
        self._ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._keys: dict[int, KeyPresses] = {}  # the endpoint's thread only

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    async def start(self) -> None:
        """Start the endpoint's thread; raises :class:`SipUnavailable` if it cannot run."""
        reason = unavailable()
        if reason is not None:
            raise SipUnavailable(reason)
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name="sip-endpoint", daemon=True)
        self._thread.start()
        try:
            await asyncio.wrap_future(self._ready)
        except Exception as exc:
            await asyncio.to_thread(self._thread.join)
            self._thread = None
            raise SipUnavailable(f"the SIP endpoint did not start: {exc}") from exc

    async def close(self) -> None:
        """Hang up, unregister, destroy the endpoint and end its thread."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stopping.set()
        await asyncio.to_thread(thread.join)

    # -- calls (each a job on the endpoint's thread) ---------------------------------------

    async def place(self, uri: str) -> int:
        """Send an INVITE to ``uri``; the call's handle (its events name it)."""
        media = CallMedia()
        handle: int = await self._do(lambda engine: engine.place(uri, media))
        self.media[handle] = media
        return handle

    async def answer(self, call: int, code: int = 200) -> None:
        """180 (ringing) or 200 (answer, audio flows) to an incoming call."""
        if code == 200 and call not in self.media:
            self.media[call] = CallMedia()
        media = self.media.get(call)
        await self._do(lambda engine: engine.answer(call, code, media))

    async def hang_up(self, call: int, code: int = 603) -> None:
        """End a call (BYE, CANCEL, or ``code`` to an incoming call not answered yet)."""
        await self._do(lambda engine: engine.hang_up(call, code))

    async def register(self, on: bool = True) -> None:
        """Register again now (or unregister); the outcome comes as :class:`Registration`."""
        await self._do(lambda engine: engine.register(on))

    async def _do(self, job: Callable[[Any], T]) -> T:
        if not self.running:
            raise SipCallError("the SIP endpoint is not running")
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._jobs.put((job, future))
        return await asyncio.wrap_future(future)

    # -- the endpoint's thread -------------------------------------------------------------

    def _emit(self, event: SipEvent) -> None:
        if isinstance(event, Digit):
            keys = self._keys.setdefault(event.call, KeyPresses(ECHO_WINDOW_S))
            if not keys.is_new(event.digit, event.method, time.monotonic()):
                return  # the same key again by the other method
        elif isinstance(event, CallState) and event.state == "ended":
            self._keys.pop(event.call, None)
        loop = self._loop
        if loop is not None and not loop.is_closed():
            if isinstance(event, CallState) and event.state == "ended":
                loop.call_soon_threadsafe(self._ended, event)
            else:
                loop.call_soon_threadsafe(self.on_event, event)

    def _ended(self, event: CallState) -> None:
        media = self.media.pop(event.call, None)
        if media is not None:
            media.on_audio = None
        self.on_event(event)

    def _audio(self, call: int, pcm: np.ndarray) -> None:
        """From PJSIP's media thread: hand a received frame to the loop, nothing else."""
        loop = self._loop
        media = self.media.get(call)
        if loop is not None and media is not None and not loop.is_closed():
            loop.call_soon_threadsafe(media.deliver, pcm)

    def _run(self) -> None:
        from drivers.sip_engine import Engine

        try:
            engine = Engine(self.settings, self._emit, self._audio)
        except Exception as exc:
            self._ready.set_exception(bare(exc))
            return
        self._ready.set_result(None)
        try:
            while not self._stopping.is_set():
                busy = self._run_jobs(engine) or bool(engine.calls)
                engine.poll(POLL_MS if busy else IDLE_POLL_MS)
            self._run_jobs(engine)
        finally:
            engine.close(STOP_WAIT_S)

    def _run_jobs(self, engine: Any) -> int:
        """Run every job queued; returns how many there were."""
        ran = 0
        while True:
            try:
                job, future = self._jobs.get_nowait()
            except queue.Empty:
                return ran
            ran += 1
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(job(engine))
            except Exception as exc:
                future.set_exception(bare(exc))


def bare(exc: BaseException) -> BaseException:
    """``exc`` without its traceback and chained errors, to send to another thread.

    The frames of an error raised in the engine hold the engine and its pjsua2 calls:
    carried to the event loop they would be freed there, by whichever thread drops the
    error last, perhaps after the library is gone (see :mod:`drivers.sip_engine`).
    """
    exc.__traceback__ = None
    exc.__context__ = None
    exc.__cause__ = None
    return exc
