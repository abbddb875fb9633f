"""The pjsua2 side of :mod:`drivers.sip_ua`: everything that touches PJSIP's objects.

Runs only on the endpoint's thread (built, polled and closed there), except the audio
port's two frame callbacks, which PJSIP's media clock calls on its own thread. pjsua2 has
no type information: its classes are ``Any`` to mypy, so the subclasses below carry a
documented ``type: ignore[misc]`` (subclassing ``Any``) and nothing of pjsua2 leaves this
module — callers get plain handles, events and numpy frames.

pjsua2 quirks this module works around:

* the wheel's ``ByteVector`` has no buffer copy helpers: a frame is built with
  ``ByteVector(bytes)`` and read with ``bytes(vector)`` (about 0.2 ms per 20 ms frame);
* ``libDestroy`` sleeps a second "for unregistrations" unless told not to receive:
  :meth:`Engine.close` unregisters and hangs up itself first, then destroys with
  ``PJSUA_DESTROY_NO_RX_MSG``;
* a pjsua2 object must never be freed by Python's garbage collection: when its Python
  side dies, SWIG deletes the C++ side *during* the deallocation, with the GIL released,
  and PJSIP's media clock can still call the port's frame callbacks on that half-freed
  Python object (its attributes gone, then freed twice: a segfault). So every ``Call``
  and audio port is freed explicitly here, on this thread, while its Python object is
  whole (:meth:`Engine.dispose`): a call one poll after its DISCONNECTED state (never
  inside the callback, PJSIP still uses it), its port first; at close every call left,
  then the account, then ``libDestroy`` once, then the endpoint — nothing of PJSIP's
  outlives the library;
* nothing pjsua2 leaves this thread, not even inside an exception: a traceback's frames
  hold the engine and its calls (the user agent sends errors on without them).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pjsua2 as pj  # type: ignore[import-untyped, import-not-found, unused-ignore]

from drivers.audio_wav import to_int16
from drivers.sip_ua import (
    CLOCK_RATE,
    FRAME_MS,
    CallMedia,
    CallState,
    Digit,
    Incoming,
    Registration,
    SipCallError,
    SipEvent,
    SipSettings,
)

if TYPE_CHECKING:
    import numpy as np

FRAME = CLOCK_RATE * FRAME_MS // 1000
DTMF_METHODS = {0: "rfc4733", 1: "sip_info"}


class _Port(pj.AudioMediaPort):  # type: ignore[misc]  # pjsua2 has no types
    """Our frames in and out of PJSIP's conference bridge (media clock thread)."""

    def __init__(self, call: int, media: CallMedia,
                 on_audio: Callable[[int, np.ndarray], None]) -> None:
        super().__init__()
        self.call = call
        self.media = media
        self.on_audio = on_audio
        fmt = pj.MediaFormatAudio()
        fmt.type = pj.PJMEDIA_TYPE_AUDIO
        fmt.clockRate = CLOCK_RATE
        fmt.channelCount = 1
        fmt.bitsPerSample = 16
        fmt.frameTimeUsec = FRAME_MS * 1000
        self.createPort(f"call-{call}", fmt)

    def free(self) -> None:
        """Leave the conference bridge and free the C++ port now, while this object is
        whole: a frame callback the media clock is in meanwhile still finds everything."""
        pj.AudioMediaPort.__swig_destroy__(self)

    def onFrameRequested(self, frame: Any) -> None:
        pcm = to_int16(self.media.outgoing.take(FRAME)).astype("<i2").tobytes()
        frame.type = pj.PJMEDIA_TYPE_AUDIO
        frame.buf = pj.ByteVector(pcm)
        frame.size = len(pcm)

    def onFrameReceived(self, frame: Any) -> None:
        import numpy as np
        data = bytes(frame.buf)
        if data:
            self.on_audio(self.call, np.frombuffer(data, "<i2").astype(np.float32) / 32768.0)


class _Call(pj.Call):  # type: ignore[misc]  # pjsua2 has no types
    def __init__(self, engine: Engine, handle: int, account: Any, call_id: int = -1) -> None:
        if call_id >= 0:
            super().__init__(account, call_id)
        else:
            super().__init__(account)
        self.engine = engine
        self.handle = handle
        self.media: CallMedia | None = None
        self.port: _Port | None = None
        self.ringing = False

    def onCallState(self, prm: Any) -> None:
        info = self.getInfo()
        state = info.state
        if state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.engine.ended(self, info.lastStatusCode, info.lastReason)
        elif state == pj.PJSIP_INV_STATE_CONFIRMED:
            self.engine.emit(CallState(self.handle, "connected", info.lastStatusCode))
        elif state == pj.PJSIP_INV_STATE_EARLY and not self.ringing:
            self.ringing = True
            self.engine.emit(CallState(self.handle, "ringing", info.lastStatusCode))

    def onCallMediaState(self, prm: Any) -> None:
        info = self.getInfo()
        for index, media in enumerate(info.media):
            if (media.type == pj.PJMEDIA_TYPE_AUDIO
                    and media.status == pj.PJSUA_CALL_MEDIA_ACTIVE and self.media is not None):
                audio = self.getAudioMedia(index)
                if self.port is None:
                    self.port = _Port(self.handle, self.media, self.engine.on_audio)
                audio.startTransmit(self.port)
                self.port.startTransmit(audio)

    def onDtmfDigit(self, prm: Any) -> None:
        method = DTMF_METHODS.get(int(prm.method), "other")
        self.engine.emit(Digit(self.handle, str(prm.digit), method))  # type: ignore[arg-type]


class _Account(pj.Account):  # type: ignore[misc]  # pjsua2 has no types
    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.engine = engine

    def onRegState(self, prm: Any) -> None:
        info = self.getInfo()
        self.engine.emit(Registration(bool(info.regIsActive), int(prm.code), str(prm.reason)))

    def onIncomingCall(self, prm: Any) -> None:
        self.engine.incoming(self, prm.callId)


class Engine:
    """The endpoint with its transports and one account (registering or not)."""

    def __init__(self, settings: SipSettings, emit: Callable[[SipEvent], None],
                 on_audio: Callable[[int, np.ndarray], None]) -> None:
        self.settings = settings
        self.emit = emit
        self.on_audio = on_audio
        self.calls: dict[int, _Call] = {}
        self._gone: list[_Call] = []
        self._handles = itertools.count(1)
        self.endpoint = pj.Endpoint()
        self.endpoint.libCreate()
        try:
            self._init()
        except Exception:
            account = getattr(self, "account", None)
            if account is not None:
                pj.Account.__swig_destroy__(account)
                del self.account
            self.endpoint.libDestroy(pj.PJSUA_DESTROY_NO_RX_MSG)
            del self.endpoint
            raise

    def _init(self) -> None:
        s = self.settings
        config = pj.EpConfig()
        config.uaConfig.threadCnt = 0
        config.uaConfig.mainThreadOnly = True
        config.uaConfig.userAgent = "StationEdge"
        config.logConfig.level = s.log_level
        config.logConfig.consoleLevel = s.log_level
        config.medConfig.clockRate = CLOCK_RATE
        config.medConfig.sndClockRate = CLOCK_RATE
        config.medConfig.audioFramePtime = FRAME_MS
        config.medConfig.ecTailLen = 0  # no echo canceller: nothing of ours loops back
        config.medConfig.noVad = True  # RTP keeps flowing in silence (PBX RTP timeouts)
        self.endpoint.libInit(config)
        for kind in s.transports:
            transport = pj.TransportConfig()
            transport.port = s.port
            transport.boundAddress = s.bind
            transport.publicAddress = s.public_address or s.bind
            self.endpoint.transportCreate(
                pj.PJSIP_TRANSPORT_UDP if kind == "udp" else pj.PJSIP_TRANSPORT_TCP, transport)
        self.endpoint.libStart()
        self.endpoint.audDevManager().setNullDev()
        account = pj.AccountConfig()
        account.idUri = s.account_uri
        account.mediaConfig.transportConfig.boundAddress = s.bind
        account.mediaConfig.transportConfig.publicAddress = s.public_address or s.bind
        account.mediaConfig.transportConfig.port = s.rtp_ports[0]
        account.mediaConfig.transportConfig.portRange = s.rtp_ports[1] - s.rtp_ports[0]
        account.mediaConfig.transportConfig.randomizePort = True
        if s.registrar is not None:
            route = f"sip:{s.registrar};transport={s.registrar_transport}"
            account.regConfig.registrarUri = route
            account.regConfig.timeoutSec = s.register_every_s
            account.regConfig.retryIntervalSec = s.retry_after_s
            account.regConfig.firstRetryIntervalSec = s.retry_after_s
            # PJSIP adds up to 10 s at random to each retry (herds of phones after a PBX
            # restart); a station is one phone, and a short retry is meant short.
            account.regConfig.randomRetryIntervalSec = min(10, s.retry_after_s // 4)
            account.sipConfig.proxies.append(route + ";lr")
        else:
            account.regConfig.registerOnAdd = False
        if s.username is not None:
            if s.password_ha1 is not None:  # PJSIP takes the HA1 as the digest's secret
                secret = (pj.PJSIP_CRED_DATA_DIGEST, s.password_ha1.lower())
            else:
                secret = (pj.PJSIP_CRED_DATA_PLAIN_PASSWD, s.password or "")
            account.sipConfig.authCreds.append(
                pj.AuthCredInfo("digest", s.realm, s.username, *secret))
        self.account = _Account(self)
        self.account.create(account)

    # -- jobs --------------------------------------------------------------------------

    def place(self, uri: str, media: CallMedia) -> int:
        handle = next(self._handles)
        call = _Call(self, handle, self.account)
        call.media = media
        try:
            call.makeCall(uri, pj.CallOpParam(True))
        except pj.Error as exc:
            why = exc.info()
            self.dispose(call)
            raise SipCallError(f"cannot call {uri}: {why}") from None
        self.calls[handle] = call
        return handle

    def answer(self, handle: int, code: int, media: CallMedia | None) -> None:
        call = self._call(handle)
        if media is not None:
            call.media = media
        param = pj.CallOpParam(True)
        param.statusCode = code
        try:
            call.answer(param)
        except pj.Error as exc:
            raise SipCallError(f"cannot answer call {handle}: {exc.info()}") from None

    def hang_up(self, handle: int, code: int) -> None:
        call = self.calls.get(handle)
        if call is None:
            return  # already over: nothing to end
        param = pj.CallOpParam(True)
        param.statusCode = code
        try:
            call.hangup(param)
        except pj.Error as exc:
            raise SipCallError(f"cannot hang up call {handle}: {exc.info()}") from None

    def _call(self, handle: int) -> _Call:
        call = self.calls.get(handle)
        if call is None:
            raise SipCallError(f"no call {handle} (it ended)")
        return call

    def register(self, on: bool) -> None:
        if self.settings.registrar is not None:
            self.account.setRegistration(on)

    # -- callbacks (this thread, during poll) -----------------------------------------

    def incoming(self, account: _Account, call_id: int) -> None:
        handle = next(self._handles)
        call = _Call(self, handle, account, call_id)
        self.calls[handle] = call
        info = call.getInfo()
        self.emit(Incoming(handle, str(info.remoteUri), str(info.localUri)))

    def ended(self, call: _Call, code: int, reason: str) -> None:
        self.calls.pop(call.handle, None)
        self._gone.append(call)  # dropped after this callback returns
        self.emit(CallState(call.handle, "ended", int(code), str(reason)))

    # -- the loop ----------------------------------------------------------------------

    def poll(self, ms: int) -> None:
        self.endpoint.libHandleEvents(ms)
        while self._gone:
            self.dispose(self._gone.pop())

    def dispose(self, call: _Call) -> None:
        """Free a call's pjsua2 objects now, its port first (see the module's notes).

        After DISCONNECTED PJSIP no longer knows the call; before it (at close), freeing
        the ``Call`` hangs it up."""
        if call.port is not None:
            call.port.free()
            call.port = None
        pj.Call.__swig_destroy__(call)

    def close(self, wait_s: float) -> None:
        """Hang up every call and unregister (briefly waiting for both), then destroy."""
        try:
            if self.calls:
                self.endpoint.hangupAllCalls()
            registered = (self.settings.registrar is not None
                          and self.account.getInfo().regIsActive)
            if registered:
                self.account.setRegistration(False)
            deadline = time.monotonic() + wait_s
            while time.monotonic() < deadline and (
                    self.calls or (registered and self.account.getInfo().regIsActive)):
                self.poll(20)
        finally:
            for call in [*self._gone, *self.calls.values()]:  # still up: hung up as freed
                self.dispose(call)
            self.calls.clear()
            self._gone.clear()
            self.account.shutdown()
            pj.Account.__swig_destroy__(self.account)
            del self.account
            self.endpoint.libDestroy(pj.PJSUA_DESTROY_NO_RX_MSG)
            del self.endpoint  # its destructor (a no-op now) runs here, not elsewhere later
