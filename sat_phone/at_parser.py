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
  next line, which is attached to the header line instead of standing alone.

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
    """An information line or a URC; ``pdu`` is the hex line that followed a PDU header."""

    text: str
    pdu: str | None = None


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


class AtParser:
    """Incremental parser: :meth:`feed` bytes as they come, get the events they complete."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._pdu_header: str | None = None

    def feed(self, data: bytes) -> list[AtEvent]:
        buf = self._buf
        buf += data
        events: list[AtEvent] = []
        pos, size = 0, len(buf)
        while pos < size:
            if buf[pos] in _TERMINATORS:
                pos += 1
                continue
            if buf[pos] == 0x3E and self._pdu_header is None:  # ">"
                if pos + 1 >= size:
                    break
                if buf[pos + 1] == 0x20:
                    pos += 2
                    events.append(Prompt())
                    continue
            match = _TERMINATOR.search(buf, pos)
            if match is None:
                if size - pos > MAX_LINE:
                    self._take_line(bytes(buf[pos : pos + MAX_LINE]), events)
                    pos = size
                break
            end = match.start()
            self._take_line(bytes(buf[pos : min(end, pos + MAX_LINE)]), events)
            pos = end + 1
        del buf[:pos]
        return events

    def reset(self) -> None:
        """Forget a partial line (the port was reopened)."""
        self._buf.clear()
        self._pdu_header = None

    def _take_line(self, raw: bytes, events: list[AtEvent]) -> None:
        text = raw.decode("utf-8", errors="replace").replace("\x00", "").strip()
        if not text:
            return
        if self._pdu_header is not None:
            header, self._pdu_header = self._pdu_header, None
            event = classify(text)
            if isinstance(event, Line):
                events.append(Line(header, pdu=text))
                return
            events.append(Line(header))  # the PDU never came: keep the header, then this
            events.append(event)
            return
        event = classify(text)
        if isinstance(event, Line) and text.startswith(PDU_HEADERS):
            self._pdu_header = text
            return
        events.append(event)
