"""Voice calls as the terminal announces them, and the PIN a caller keys in.

27.007 reports an incoming call by ``RING`` (or ``+CRING: VOICE``) and, with
``+CLIP=1``, the caller's number by ``+CLIP: "<number>",<type>``; its end by ``NO
CARRIER`` (also ``BUSY``/``NO ANSWER`` for a call we placed). ``+CLCC`` lists the calls
the terminal holds, which is how the station notices an end it missed (a ``NO
CARRIER`` that arrived while a command was in flight is taken as that command's
final result). Plain functions; the station decides what to do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

CallSignal = Literal["ring", "caller", "ended"]
_CLIP = re.compile(r'^\+CLIP:\s*"([^"]*)"')
_CLCC = re.compile(r'^\+CLCC:\s*(\d+),(\d),(\d),(\d),(\d)(?:,"([^"]*)")?')
ENDINGS = {"NO CARRIER": "no_carrier", "BUSY": "busy", "NO ANSWER": "no_answer"}
CLCC_STATES = {0: "active", 1: "held", 2: "dialing", 3: "alerting", 4: "incoming", 5: "waiting"}


@dataclass(frozen=True, slots=True)
class CallUrc:
    signal: CallSignal
    value: str | None = None  # the caller's number, or why the call ended


def call_urc(text: str) -> CallUrc | None:
    """What a URC line says about a call, if anything."""
    if text == "RING" or text.startswith("+CRING:"):
        return CallUrc("ring")
    match = _CLIP.match(text)
    if match:
        return CallUrc("caller", match.group(1) or None)
    if text in ENDINGS:
        return CallUrc("ended", ENDINGS[text])
    return None


@dataclass(frozen=True, slots=True)
class ListedCall:
    index: int
    incoming: bool
    state: str
    number: str | None


def parse_clcc(line: str) -> ListedCall | None:
    match = _CLCC.match(line)
    if match is None or match.group(4) != "0":  # mode 0: voice
        return None
    return ListedCall(int(match.group(1)), match.group(2) == "1",
                      CLCC_STATES.get(int(match.group(3)), "unknown"), match.group(6))


class PinEntry:
    """Keys pressed by a caller: the PIN, optionally ended by ``#``; ``*`` starts again."""

    def __init__(self, pin: str) -> None:
        if not pin.isdigit():
            raise ValueError("a PIN is digits")
        self.pin = pin
        self.keyed = ""

    def press(self, key: str) -> bool | None:
        """True: the PIN is right; False: it is wrong; None: keep listening."""
        if key == "*":
            self.keyed = ""
            return None
        if key == "#":
            return self.keyed == self.pin if self.keyed else None
        self.keyed += key
        if self.keyed == self.pin:
            return True
        if len(self.keyed) >= len(self.pin):
            return False
        return None
