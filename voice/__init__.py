"""Voice calls over SIP, as the station's domain sees them: 叫醒 wake-up calls, who may call
in, what the duty-room phone dialled. Plain data and decisions; the SIP user agent is
:mod:`drivers.sip_ua` and the wiring is :mod:`edge.sip`."""
