"""Voice over SIP, wired: the endpoint, 叫醒 calls, SIP call-in, the duty-room phone."""
