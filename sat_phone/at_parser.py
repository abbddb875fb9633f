"""Turn the bytes a 27.007/27.005 terminal sends into events, one chunk at a time.

The parser is pure: it keeps only the bytes of an unfinished line and never looks at
the clock or the port, so it is tested (and fuzzed) without an event loop. It does not
decide whether a line answers the command in flight or is unsolicited; that needs to
know the command, which is the channel's job. What it does decide:

* a line is terminated by CR, LF or Ctrl-Z (the echo of an SMS PDU ends in Ctrl-Z);
  empty lines are skipped, so ``\\r\\n`` split anywhere is harmless;
* ``"> "`` at the start of a line is the SMS prompt, which has no line end;
* final result codes (``OK``, ``ERROR``, ``+CME ERROR: n``, ``+CMS ERROR: n``,
  ``NO CARRIER``, ``BUSY``, ``NO ANSWER``, ``NO DIALTONE``, ``CONNECT [..]``);
* a line starting with ``AT`` is the terminal echoing our command (echo back on after
  a reset), never a response;
* ``+CMT:``/``+CDS:`` URCs and ``+CMGR:``/``+CMGL:`` responses carry their PDU on the
  next line, which is attached to the header line instead of standing alone, but only
  when it *is* that PDU: hex of the length the header announced (its last field, the
  TPDU octets, with or without the service-centre octets in front). Terminals put other
  URCs, the ``+CMGS:`` answer of a send in progress or the ``> `` prompt between a
  header and its PDU; such a line is never swallowed. The header then stands alone
  marked ``torn`` (the message is still in the terminal's storage, where a sweep finds
  it), and the line is what it is. A line ended by Ctrl-Z is the echo of a PDU we typed,
  never a PDU the terminal sends.

Garbage (invalid UTF-8, NULs, endless lines) becomes text with replacement characters
or is cut at :data:`MAX_LINE`; nothing raises.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_LINE = 4096
"""Longest line kept; a 176-octet PDU is 352 hex digits, a +CMGL header far less."""

PDU_HEADERS = ("+CMT:", "+CDS:", "+CMGR:", "+CMGL:")
_TERMINATORS = b"\r\n\x1a"
_TERMINATOR = re.compile(rb"[\r\n\x1a]")
_HEX = re.compile(r"[0-9A-Fa-f]+")
CTRL_Z = 0x1A
_PLAIN_FINALS = {
    "OK": "ok",
    "ERROR": "error",
    "NO CARRIER": "no_carrier",
    "BUSY": "busy",
    "NO ANSWER": "no_answer",
    "NO DIALTONE": "no_dialtone",
}


@dataclass(frozen=True, slots=True)
class Final:
    """A final result code: the command it answers is over.

    ``kind`` is one of ``ok``, ``connect``, ``error``, ``cme_error``, ``cms_error``,
    ``no_carrier``, ``busy``, ``no_answer``, ``no_dialtone``; ``code`` is the number
    of a ``+CME``/``+CMS ERROR`` (``None`` when the terminal gave text instead).
    """

    kind: str
    line: str
    code: int | None = None

    @property
    def success(self) -> bool:
        return self.kind in ("ok", "connect")


@dataclass(frozen=True, slots=True)
class Line:
    """An information line or a URC; ``pdu`` is the hex line that followed a PDU header.

    ``torn``: a PDU header whose PDU did not follow (another line came first, or a line
    that is not hex of the announced length); the message must be read from storage.
    """

    text: str
    pdu: str | None = None
    torn: bool = False


@dataclass(frozen=True, slots=True)
class Prompt:
    """The ``"> "`` that invites the PDU of ``+CMGS``."""


@dataclass(frozen=True, slots=True)
class Echo:
    """The terminal repeating a command line we sent: echo is on."""

    text: str


AtEvent = Final | Line | Prompt | Echo


def classify(text: str) -> Final | Line | Echo:
    """What one complete, non-empty line is (PDU pairing aside)."""
    if text in _PLAIN_FINALS:
        return Final(_PLAIN_FINALS[text], text)
    if text == "CONNECT" or text.startswith("CONNECT "):
        return Final("connect", text)
    for prefix, kind in (("+CME ERROR:", "cme_error"), ("+CMS ERROR:", "cms_error")):
        if text.startswith(prefix):
            detail = text[len(prefix):].strip()
            return Final(kind, text, int(detail) if detail.isdecimal() else None)
    if text[:2].upper() == "AT":
        return Echo(text)
    return Line(text)


def announced_length(header: str) -> int | None:
    """The TPDU length a PDU header announces: its last field (``+CMT: ,24``,
    ``+CMGL: 1,0,,24``, ``+CDS: 25``), or None when it names none (text mode)."""
    _, _, value = header.partition(":")
    last = value.rsplit(",", 1)[-1].strip()
    return int(last) if last.isdecimal() else None


def has_smsc(pdu: str, length: int) -> bool | None:
    """Does ``pdu`` (hex) carry the service-centre octets before a TPDU of ``length``
    octets? None when it is not hex of that length either way."""
    if len(pdu) % 2 or not _HEX.fullmatch(pdu):
        return None
    octets = len(pdu) // 2
    if octets == 1 + int(pdu[:2], 16) + length:
        return True
    if octets == length:
        return False
    return None


class AtParser:
    """Incremental parser: :meth:`feed` bytes as they come, get the events they complete."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._pdu_header: str | None = None
        self._pdu_length = 0

    def feed(self, data: bytes) -> list[AtEvent]:
        buf = self._buf
        buf += data
        events: list[AtEvent] = []
        pos, size = 0, len(buf)
        while pos < size:
            if buf[pos] in _TERMINATORS:
                pos += 1
                continue
            if buf[pos] == 0x3E:  # ">": the prompt, whatever is pending
                if pos + 1 >= size:
                    break
                if buf[pos + 1] == 0x20:
                    pos += 2
                    self._tear(events)
                    events.append(Prompt())
                    continue
            match = _TERMINATOR.search(buf, pos)
            if match is None:
                if size - pos > MAX_LINE:
                    self._take_line(bytes(buf[pos : pos + MAX_LINE]), events, echo=False)
                    pos = size
                break
            end = match.start()
            self._take_line(bytes(buf[pos : min(end, pos + MAX_LINE)]), events,
                            echo=buf[end] == CTRL_Z)
            pos = end + 1
        del buf[:pos]
        return events

    def reset(self) -> None:
        """Forget a partial line (the port was reopened)."""
        self._buf.clear()
        self._pdu_header = None

    def _take_line(self, raw: bytes, events: list[AtEvent], *, echo: bool) -> None:
        text = raw.decode("utf-8", errors="replace").replace("\x00", "").strip()
        if not text:
            return
        header = self._pdu_header
        if header is not None:
            if not echo and has_smsc(text, self._pdu_length) is not None:
                self._pdu_header = None
                events.append(Line(header, pdu=text))
                return
            self._tear(events)  # then this line is what it is
        event = classify(text)
        if isinstance(event, Line) and text.startswith(PDU_HEADERS):
            length = announced_length(text)
            if length is None:
                events.append(Line(text, torn=True))
            else:
                self._pdu_header, self._pdu_length = text, length
            return
        events.append(event)

    def _tear(self, events: list[AtEvent]) -> None:
        """The pending header's PDU did not come: the header stands alone, torn."""
        if self._pdu_header is not None:
            events.append(Line(self._pdu_header, torn=True))
            self._pdu_header = None
