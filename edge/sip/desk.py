"""The duty-room phone through the satellite phone.

A SIP desk phone (``[sip] desk_phone``) dials ``desk_prefix`` + a number: the station
places that call on the satellite terminal (``ATD``), answers the desk phone and bridges
audio both ways — RTP from the desk phone into the terminal's audio input, the terminal's
audio output into RTP. An incoming satellite call that is not a broadcast call-in
(:mod:`edge.satphone.calls` hands it over) rings the desk phone; when it is picked up
the terminal answers (``ATA``) and the two are bridged; not picked up within
``desk_ring_s`` (or declined), the satellite call is refused. Hang-up on either side
ends both. One bridged call at a time (the terminal has one voice channel).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from drivers.audio_link import AudioLink, make_link
from drivers.sip_ua import CallMedia, CallState, Digit, Incoming
from sat_phone.at_channel import AtError
from voice.addresses import dialled_number

if TYPE_CHECKING:
    from edge.satphone.calls import Call
    from edge.satphone.phone import SatPhone
    from edge.sip.phone import SipPhone


class DeskPhone:
    """``station.parts.sip.desk``: an incoming-call route and the satellite bridge."""

    def __init__(self, phone: SipPhone, satphone: SatPhone) -> None:
        self.phone = phone
        self.satphone = satphone
        self.config = phone.config
        assert self.config.desk_phone is not None
        self.callers = phone.callers([self.config.desk_phone])
        self.bridge: Bridge | None = None
        satphone.calls.desk_route = self.ring_for
        satphone.calls.listeners.append(self._on_satellite)

    def as_json(self) -> dict[str, Any] | None:
        return self.bridge.as_json() if self.bridge else None

    # -- the desk phone dials out -------------------------------------------------------

    def wants(self, event: Incoming) -> bool:
        return self.callers.allows(event.remote)

    def take(self, event: Incoming) -> Bridge:
        number = dialled_number(event.local, self.config.desk_prefix)
        bridge = Bridge(self, event.call, number, outgoing=True)
        if number is None:
            bridge.spawn(bridge.end(f"not {self.config.desk_prefix} + a number", sip_code=404))
        elif self.bridge is not None or self.satphone.calls.call is not None:
            bridge.spawn(bridge.end("the satellite phone is busy", sip_code=486))
        else:
            self.bridge = bridge
            bridge.spawn(bridge.dial_out())
        return bridge

    # -- a satellite call rings the desk phone -------------------------------------------

    def ring_for(self, call: Call) -> bool:
        """A satellite call nobody else takes: ring the desk phone (False: busy)."""
        if self.bridge is not None:
            return False
        bridge = Bridge(self, None, call.number, outgoing=False)
        bridge.satellite = call
        self.bridge = bridge
        bridge.spawn(bridge.ring_desk())
        return True

    def _on_satellite(self, call: Call) -> None:
        bridge = self.bridge
        if bridge is not None and bridge.satellite is call and call.state == "ended":
            bridge.spawn(bridge.end(f"satellite call ended ({call.reason})"))


class Bridge:
    """One desk-phone call and its satellite call, with audio between them."""

    def __init__(self, desk: DeskPhone, handle: int | None, number: str | None,
                 *, outgoing: bool) -> None:
        self.desk = desk
        self.phone = desk.phone
        self.handle = handle
        self.number = number
        self.outgoing = outgoing
        self.state = "dialing" if outgoing else "ringing"
        self.satellite: Call | None = None
        self.media: CallMedia | None = None
        self.link: AudioLink | None = None
        self.reason: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"direction": "out" if self.outgoing else "in", "number": self.number,
                "state": self.state, "reason": self.reason,
                "satellite_call": self.satellite.id if self.satellite else None}

    def record(self, kind: str, **data: Any) -> None:
        self.phone.record(kind, "sip.desk", "desk phone", number=self.number,
                          direction="out" if self.outgoing else "in", **data)

    def spawn(self, coro: Any) -> None:
        self.phone.background.spawn(coro)

    async def dial_out(self) -> None:
        assert self.number is not None and self.handle is not None
        self.record("sip.desk_dialled")
        calls = self.desk.satphone.calls
        call = await calls.place(self.number, actor="desk phone")
        self.satellite = call
        if call.state == "ended":
            await self.end(f"satellite dial failed: {call.reason}", sip_code=503)
            return
        self.media = await self.phone.answer(self.handle)
        await self._bridge()

    async def ring_desk(self) -> None:
        desk = self.desk
        assert desk.config.desk_phone is not None
        self.record("sip.desk_ringing")
        self.handle, self.media = await self.phone.place(desk.config.desk_phone, self)
        await desk.phone.station.clock.sleep(desk.config.desk_ring_s)
        if self.state == "ringing":
            await self.end("the desk phone did not answer")

    async def _answer_satellite(self) -> None:
        calls = self.desk.satphone.calls
        assert self.satellite is not None
        try:
            await calls.answer_for_desk(self.satellite)
        except AtError as exc:
            await self.end(f"satellite answer failed: {exc}")
            return
        await self._bridge()

    async def _bridge(self) -> None:
        """Audio both ways until either side ends."""
        link = make_link(self.desk.satphone.calls.audio_settings)
        try:
            await link.open()
        except OSError as exc:
            self.phone.record("fault.satphone_audio_input", "sat_phone", "system",
                              error=str(exc))
            await self.end("no satellite call audio")
            return
        if self.state == "ended":
            await link.close()
            return
        self.link = link
        self.state = "bridged"
        assert self.media is not None
        self.media.on_audio = link.write
        self.record("sip.desk_bridged", satellite_call=self.satellite.id
                    if self.satellite else None)
        media = self.media
        while (block := await link.read()) is not None and self.state == "bridged":
            media.outgoing.push(block)
        await self.end("satellite audio ended")

    def on_state(self, event: CallState) -> None:
        if event.state == "connected" and not self.outgoing and self.state == "ringing":
            self.state = "answering"
            self.spawn(self._answer_satellite())
        elif event.state == "ended":
            self.handle = None
            self.spawn(self.end(f"desk phone hung up ({event.code} {event.reason})"))

    def on_digit(self, event: Digit) -> None:
        """Keys on the desk phone during a call go nowhere (no DTMF over the satellite)."""

    async def end(self, reason: str, *, sip_code: int = 603) -> None:
        if self.state == "ended":
            return
        self.state, self.reason = "ended", reason
        if self.desk.bridge is self:
            self.desk.bridge = None
        if self.media is not None:
            self.media.on_audio = None
        link, self.link = self.link, None
        calls = self.desk.satphone.calls
        try:
            if link is not None:
                await link.close()
            if self.satellite is not None and calls.call is self.satellite:
                await calls.hang_up(actor="desk phone")
            if self.handle is not None:
                await self.phone.hang_up(self.handle, sip_code)
        finally:  # journaled once both sides are down (or failed to go down)
            self.record("sip.desk_ended", reason=reason)
            self.phone.count("desk", "bridged" if link is not None else "ended")
