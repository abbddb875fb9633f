"""SMS in PDU mode (3GPP 23.040 / 23.038): SMS-SUBMIT, SMS-DELIVER and SMS-STATUS-REPORT.

Satellite terminals (Iridium, Tiantong) take SMS in PDU mode only, and the station's
messages are Chinese, so most of what we send is UCS2: 70 characters, 67 per part
when concatenated. Things peers got wrong that this module refuses to do:

* UCS2 is UTF-16 **big-endian**; a character outside the BMP is a surrogate pair
  and the pair is never cut between two parts;
* a GSM-7 extension character (``€``, ``[``, ``{``…) is an escape plus a septet and
  the pair is never cut between two parts;
* the septets after a user-data header start on a septet boundary (fill bits).

Everything here is pure: hex strings in, dataclasses out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = {
    0x0A: "\f", 0x14: "^", 0x28: "{", 0x29: "}", 0x2F: "\\",
    0x3C: "[", 0x3D: "~", 0x3E: "]", 0x40: "|", 0x65: "€",
}
ESCAPE = 0x1B
_BASIC_INDEX = {ch: i for i, ch in enumerate(GSM7_BASIC) if i != ESCAPE}
_EXTENSION_INDEX = {ch: code for code, ch in GSM7_EXTENSION.items()}

MAX_PARTS = 255
DEFAULT_VALIDITY = 0xAA
"""Relative validity period: 0xAA is four days, long enough to outlast a storm."""

GSM7 = "gsm7"
UCS2 = "ucs2"
OCTETS = "8bit"

# User data is 140 octets: 160 septets or 70 UCS2 units alone; a concatenation header
# costs 6 octets (8-bit reference) or 7 (16-bit reference).
_SINGLE_CAPACITY = {GSM7: 160, UCS2: 70}
_PART_CAPACITY = {(GSM7, 8): 153, (GSM7, 16): 152, (UCS2, 8): 67, (UCS2, 16): 66}


class PduError(ValueError):
    """A PDU that cannot be decoded (truncated, or fields out of range)."""


@dataclass(frozen=True, slots=True)
class Concat:
    """Where a part sits in a concatenated message (the UDH information element)."""

    reference: int
    total: int
    seq: int
    ref_bits: int = 8


@dataclass(frozen=True, slots=True)
class SmsPart:
    """One decoded PDU.

    ``payload`` is the user data after the header in its own alphabet (septet values
    for GSM-7, octets for UCS2 and 8-bit), so parts are joined before decoding and a
    character split by a careless sender is not lost (:func:`join_parts`).
    """

    address: str
    text: str
    encoding: str
    payload: bytes
    concat: Concat | None


@dataclass(frozen=True, slots=True)
class Deliver(SmsPart):
    """An SMS-DELIVER: a message the terminal received; ``address`` is the sender."""

    timestamp: datetime = field(default=datetime(1970, 1, 1, tzinfo=UTC))
    smsc: str | None = None

    @property
    def sender(self) -> str:
        return self.address


@dataclass(frozen=True, slots=True)
class Submit(SmsPart):
    """An SMS-SUBMIT: a message handed to the terminal; ``address`` is the recipient."""

    message_reference: int = 0
    status_report: bool = False


@dataclass(frozen=True, slots=True)
class SubmitPdu:
    """What ``AT+CMGS=<tpdu_length>`` then the prompt want: length excludes the SMSC octets."""

    hex: str
    tpdu_length: int


# --- alphabets -------------------------------------------------------------------


def gsm7_septets(text: str) -> bytes | None:
    """The text as GSM-7 septet values (escapes included), or None if it needs UCS2."""
    out = bytearray()
    for ch in text:
        if ch in _BASIC_INDEX:
            out.append(_BASIC_INDEX[ch])
        elif ch in _EXTENSION_INDEX:
            out += bytes((ESCAPE, _EXTENSION_INDEX[ch]))
        else:
            return None
    return bytes(out)


def gsm7_text(septets: bytes) -> str:
    out: list[str] = []
    escaped = False
    for s in septets:
        if escaped:
            out.append(GSM7_EXTENSION.get(s, GSM7_BASIC[s] if s != ESCAPE else " "))
            escaped = False
        elif s == ESCAPE:
            escaped = True
        else:
            out.append(GSM7_BASIC[s])
    if escaped:
        out.append(" ")
    return "".join(out)


def pack_septets(septets: bytes, fill_bits: int = 0) -> bytes:
    """Pack 7-bit values LSB first, after ``fill_bits`` zero bits."""
    value = 0
    for i, s in enumerate(septets):
        value |= (s & 0x7F) << (fill_bits + 7 * i)
    nbits = fill_bits + 7 * len(septets)
    return value.to_bytes((nbits + 7) // 8, "little")


def unpack_septets(data: bytes, count: int, fill_bits: int = 0) -> bytes:
    value = int.from_bytes(data, "little") >> fill_bits
    return bytes((value >> (7 * i)) & 0x7F for i in range(count))


# --- splitting -------------------------------------------------------------------


def split_text(text: str, ref_bits: int = 8) -> tuple[str, list[bytes]]:
    """Choose the alphabet and cut the text into per-part payloads.

    Returns the encoding and the payloads (septet values or UTF-16BE octets); a single
    payload means no concatenation header is needed.
    """
    septets = gsm7_septets(text)
    if septets is not None:
        encoding, units, width = GSM7, septets, 1
    else:
        encoding, units, width = UCS2, text.encode("utf-16-be"), 2
    count = len(units) // width
    if count <= _SINGLE_CAPACITY[encoding]:
        return encoding, [units]
    capacity = _PART_CAPACITY[(encoding, ref_bits)]
    parts: list[bytes] = []
    start = 0
    while start < count:
        end = min(start + capacity, count)
        if end < count and _cuts_a_pair(encoding, units, end, width):
            end -= 1
        parts.append(units[start * width : end * width])
        start = end
    if len(parts) > MAX_PARTS:
        raise ValueError(f"text needs {len(parts)} parts, at most {MAX_PARTS} allowed")
    return encoding, parts


def _cuts_a_pair(encoding: str, units: bytes, end: int, width: int) -> bool:
    """Would a cut before unit ``end`` separate an escape or a surrogate from its mate?"""
    if encoding == UCS2:
        last = int.from_bytes(units[(end - 1) * width : end * width], "big")
        return 0xD800 <= last <= 0xDBFF
    escapes = 0
    i = end - 1
    while i >= 0 and units[i] == ESCAPE:
        escapes += 1
        i -= 1
    return escapes % 2 == 1


# --- fields ----------------------------------------------------------------------

_DIGITS = "0123456789*#abc"


def encode_address(number: str) -> bytes:
    """Address field: digit count, type of number, swapped semi-octets."""
    international = number.startswith("+")
    digits = number.lstrip("+")
    if not digits or any(d not in _DIGITS for d in digits):
        raise ValueError(f"not a phone number: {number!r}")
    return bytes((len(digits), 0x91 if international else 0x81)) + _semi_octets(digits)


def _semi_octets(digits: str) -> bytes:
    padded = digits + ("F" if len(digits) % 2 else "")
    nibbles = [_DIGITS.index(d) if d != "F" else 0xF for d in padded]
    return bytes(lo | hi << 4 for lo, hi in zip(nibbles[::2], nibbles[1::2], strict=True))


def _digits(data: bytes) -> str:
    out: list[str] = []
    for b in data:
        for nibble in (b & 0x0F, b >> 4):
            if nibble == 0xF:
                return "".join(out)
            out.append(_DIGITS[nibble] if nibble < len(_DIGITS) else "?")
    return "".join(out)


def _decode_typed_number(type_of_number: int, data: bytes, semi_octets: int) -> str:
    if type_of_number & 0x70 == 0x50:  # alphanumeric, GSM-7 packed
        return gsm7_text(unpack_septets(data, semi_octets * 4 // 7))
    digits = _digits(data)[:semi_octets]
    return "+" + digits if type_of_number & 0x70 == 0x10 else digits


def encode_timestamp(ts: datetime) -> bytes:
    offset = ts.utcoffset() or timedelta(0)
    quarters = int(abs(offset.total_seconds()) // 900)
    fields = "".join(
        f"{v:02d}" for v in (ts.year % 100, ts.month, ts.day, ts.hour, ts.minute, ts.second)
    )
    tz = bytes(((quarters % 10) << 4 | quarters // 10 | (0x08 if offset < timedelta(0) else 0),))
    return _semi_octets(fields) + tz


def decode_timestamp(data: bytes) -> datetime:
    if len(data) != 7:
        raise PduError("timestamp must be 7 octets")
    parts = [int(_digits(bytes((b,)))) if (b & 0x0F) < 10 and b >> 4 < 10 else 0 for b in data[:6]]
    tz = data[6]
    quarters = (tz & 0x07) * 10 + (tz >> 4)
    offset = timedelta(minutes=15 * quarters) * (-1 if tz & 0x08 else 1)
    year, month, day, hour, minute, second = parts
    try:
        return datetime(2000 + year, month, day, hour, minute, second, tzinfo=timezone(offset))
    except ValueError as exc:
        raise PduError(f"bad timestamp: {exc}") from exc


# --- user data -------------------------------------------------------------------


def _udh(concat: Concat | None) -> bytes:
    if concat is None:
        return b""
    if concat.ref_bits == 16:
        reference = concat.reference.to_bytes(2, "big")
        ie = bytes((0x08, 4)) + reference + bytes((concat.total, concat.seq))
    else:
        ie = bytes((0x00, 3, concat.reference & 0xFF, concat.total, concat.seq))
    return bytes((len(ie),)) + ie


def _encode_user_data(encoding: str, payload: bytes, concat: Concat | None) -> tuple[int, bytes]:
    """UDL and UD: the length counts septets for GSM-7, octets otherwise."""
    udh = _udh(concat)
    if encoding != GSM7:
        return len(udh) + len(payload), udh + payload
    header_bits = len(udh) * 8
    fill = (7 - header_bits % 7) % 7
    packed = pack_septets(payload, fill)
    udl = (header_bits + fill) // 7 + len(payload)
    return udl, udh + packed


def _decode_user_data(
    data: bytes, dcs: int, udl: int, has_udh: bool
) -> tuple[str, bytes, Concat | None]:
    encoding = data_coding(dcs)
    concat = None
    header_len = 0
    if has_udh:
        if not data:
            raise PduError("user data header indicated but missing")
        header_len = data[0] + 1
        if header_len > len(data):
            raise PduError("user data header longer than user data")
        concat = _parse_concat(data[1:header_len])
    if encoding == GSM7:
        fill = (7 - header_len * 8 % 7) % 7
        skip = (header_len * 8 + fill) // 7
        count = udl - skip
        if count < 0 or (udl * 7 + 7) // 8 > len(data):
            raise PduError("user data shorter than its length")
        return encoding, unpack_septets(data, count, header_len * 8 + fill), concat
    if udl > len(data):
        raise PduError("user data shorter than its length")
    return encoding, data[header_len:udl], concat


def _parse_concat(udh: bytes) -> Concat | None:
    i = 0
    while i + 2 <= len(udh):
        iei, length = udh[i], udh[i + 1]
        body = udh[i + 2 : i + 2 + length]
        if iei == 0x00 and length == 3 and len(body) == 3 and body[1] >= 1:
            return Concat(body[0], body[1], body[2], 8)
        if iei == 0x08 and length == 4 and len(body) == 4 and body[2] >= 1:
            return Concat(int.from_bytes(body[:2], "big"), body[2], body[3], 16)
        i += 2 + length
    return None


def data_coding(dcs: int) -> str:
    """Alphabet named by a TP-DCS octet (23.038 section 4)."""
    group = dcs >> 4
    if group <= 0x7:  # general data coding (0x4-0x7: marked for automatic deletion)
        alphabet = (dcs >> 2) & 0x03
    elif group == 0xF:
        alphabet = 1 if dcs & 0x04 else 0
    elif group == 0xE:
        alphabet = 2
    else:
        alphabet = 0
    return {0: GSM7, 1: OCTETS, 2: UCS2}.get(alphabet, OCTETS)


def payload_text(encoding: str, payload: bytes) -> str:
    if encoding == GSM7:
        return gsm7_text(payload)
    if encoding == UCS2:
        return payload.decode("utf-16-be", errors="replace")
    return payload.decode("latin-1")


def join_parts(parts: list[SmsPart]) -> str:
    """The text of a concatenated message from its parts in order, joined before decoding."""
    if not parts:
        return ""
    encodings = {p.encoding for p in parts}
    if len(encodings) > 1:
        return "".join(p.text for p in parts)
    return payload_text(parts[0].encoding, b"".join(p.payload for p in parts))


# --- SMS-SUBMIT ------------------------------------------------------------------


def encode_submit(
    number: str,
    text: str,
    *,
    reference: int = 0,
    ref_bits: int = 8,
    status_report: bool = False,
    validity: int = DEFAULT_VALIDITY,
) -> list[SubmitPdu]:
    """The PDUs that send ``text`` to ``number``; ``reference`` ties the parts together."""
    if ref_bits not in (8, 16):
        raise ValueError("ref_bits must be 8 or 16")
    encoding, payloads = split_text(text, ref_bits)
    destination = encode_address(number)
    dcs = 0x08 if encoding == UCS2 else 0x00
    pdus = []
    for seq, payload in enumerate(payloads, start=1):
        concat = Concat(reference % (1 << ref_bits), len(payloads), seq, ref_bits)
        concat_or_none = concat if len(payloads) > 1 else None
        first = 0x01 | 0x10 | (0x40 if concat_or_none else 0) | (0x20 if status_report else 0)
        udl, ud = _encode_user_data(encoding, payload, concat_or_none)
        tpdu = bytes((first, 0x00)) + destination + bytes((0x00, dcs, validity, udl)) + ud
        pdus.append(SubmitPdu(hex=("00" + tpdu.hex()).upper(), tpdu_length=len(tpdu)))
    return pdus


def decode_submit(pdu_hex: str, *, has_smsc: bool = True) -> Submit:
    reader = _Reader(pdu_hex)
    if has_smsc:
        reader.take(reader.byte())
    first = reader.byte()
    if first & 0x03 != 0x01:
        raise PduError(f"not an SMS-SUBMIT (first octet {first:02X})")
    mr = reader.byte()
    number = reader.address()
    reader.byte()  # PID
    dcs = reader.byte()
    vpf = (first >> 3) & 0x03
    reader.take({0: 0, 2: 1}.get(vpf, 7))
    udl = reader.byte()
    encoding, payload, concat = _decode_user_data(reader.rest(), dcs, udl, bool(first & 0x40))
    return Submit(
        address=number, text=payload_text(encoding, payload), encoding=encoding,
        payload=payload, concat=concat, message_reference=mr, status_report=bool(first & 0x20),
    )


# --- SMS-DELIVER -----------------------------------------------------------------


def encode_deliver(
    sender: str,
    text: str,
    timestamp: datetime,
    *,
    smsc: str | None = None,
    reference: int = 0,
    ref_bits: int = 8,
) -> list[str]:
    """The PDUs a terminal would hold for a received message (as ``+CMGR`` shows them)."""
    encoding, payloads = split_text(text, ref_bits)
    smsc_field = b"\x00"
    if smsc:
        address = encode_address(smsc)
        smsc_field = bytes((len(address) - 1,)) + address[1:]
    dcs = 0x08 if encoding == UCS2 else 0x00
    out = []
    for seq, payload in enumerate(payloads, start=1):
        concat = Concat(reference, len(payloads), seq, ref_bits) if len(payloads) > 1 else None
        first = 0x04 | (0x40 if concat else 0)
        udl, ud = _encode_user_data(encoding, payload, concat)
        tpdu = (
            bytes((first,)) + encode_address(sender) + bytes((0x00, dcs))
            + encode_timestamp(timestamp) + bytes((udl,)) + ud
        )
        out.append((smsc_field + tpdu).hex().upper())
    return out


def decode_deliver(pdu_hex: str, *, has_smsc: bool = True) -> Deliver:
    """Decode the PDU of a ``+CMGR``/``+CMGL``/``+CMT`` (which carry the SMSC octets)."""
    reader = _Reader(pdu_hex)
    smsc = reader.smsc() if has_smsc else None
    first = reader.byte()
    if first & 0x03 != 0x00:
        raise PduError(f"not an SMS-DELIVER (first octet {first:02X})")
    sender = reader.address()
    reader.byte()  # PID
    dcs = reader.byte()
    timestamp = decode_timestamp(reader.take(7))
    udl = reader.byte()
    encoding, payload, concat = _decode_user_data(reader.rest(), dcs, udl, bool(first & 0x40))
    return Deliver(
        address=sender, text=payload_text(encoding, payload), encoding=encoding,
        payload=payload, concat=concat, timestamp=timestamp, smsc=smsc,
    )


# --- SMS-STATUS-REPORT -----------------------------------------------------------

DELIVERED, PENDING, FAILED = "delivered", "pending", "failed"


@dataclass(frozen=True, slots=True)
class StatusReport:
    """What the service centre says about a message we sent (23.040 9.2.2.3).

    ``reference`` is the TP-MR the terminal answered ``+CMGS`` with; ``status`` the
    TP-ST octet. Over Iridium a report only says the message reached the SMSC.
    """

    recipient: str
    reference: int
    status: int
    timestamp: datetime  # when the SMSC took the message (TP-SCTS)
    discharged: datetime  # when it was delivered, or the status last changed (TP-DT)
    smsc: str | None = None

    @property
    def outcome(self) -> str:
        """``delivered`` (0x00-0x1F), ``pending`` (0x20-0x3F: the SMSC is still trying)
        or ``failed`` (0x40 and above: a permanent error, or the SMSC gave up)."""
        return status_outcome(self.status)


def status_outcome(status: int) -> str:
    if status < 0x20:
        return DELIVERED
    if status < 0x40:
        return PENDING
    return FAILED


def encode_status_report(
    recipient: str, reference: int, status: int, timestamp: datetime, discharged: datetime,
    *, smsc: str | None = None,
) -> str:
    """The PDU a terminal shows for a status report (``+CDS``, ``+CMGR``), SMSC octets first."""
    smsc_field = b"\x00"
    if smsc:
        address = encode_address(smsc)
        smsc_field = bytes((len(address) - 1,)) + address[1:]
    tpdu = (
        bytes((0x06, reference & 0xFF)) + encode_address(recipient)
        + encode_timestamp(timestamp) + encode_timestamp(discharged) + bytes((status,))
    )
    return (smsc_field + tpdu).hex().upper()


def decode_status_report(pdu_hex: str, *, has_smsc: bool = True) -> StatusReport:
    """Decode the PDU of a ``+CDS`` (or of a stored report read by ``+CMGR``/``+CMGL``)."""
    reader = _Reader(pdu_hex)
    smsc = reader.smsc() if has_smsc else None
    first = reader.byte()
    if first & 0x03 != 0x02:
        raise PduError(f"not an SMS-STATUS-REPORT (first octet {first:02X})")
    reference = reader.byte()
    recipient = reader.address()
    timestamp = decode_timestamp(reader.take(7))
    discharged = decode_timestamp(reader.take(7))
    status = reader.byte()
    return StatusReport(recipient, reference, status, timestamp, discharged, smsc)


def message_type(pdu_hex: str, *, has_smsc: bool = True) -> int:
    """TP-MTI of a received PDU: 0 SMS-DELIVER, 1 SMS-SUBMIT (stored), 2 SMS-STATUS-REPORT."""
    reader = _Reader(pdu_hex)
    if has_smsc:
        reader.smsc()
    return reader.byte() & 0x03


class _Reader:
    def __init__(self, pdu_hex: str) -> None:
        try:
            self._data = bytes.fromhex(pdu_hex.strip())
        except ValueError as exc:
            raise PduError(f"not hex: {exc}") from exc
        self._pos = 0

    def take(self, n: int) -> bytes:
        if self._pos + n > len(self._data):
            raise PduError("PDU truncated")
        chunk = self._data[self._pos : self._pos + n]
        self._pos += n
        return chunk

    def byte(self) -> int:
        return self.take(1)[0]

    def address(self) -> str:
        semi_octets = self.byte()
        type_of_number = self.byte()
        return _decode_typed_number(type_of_number, self.take((semi_octets + 1) // 2), semi_octets)

    def smsc(self) -> str | None:
        """The service-centre field in front of a received TPDU (None when empty)."""
        length = self.byte()
        if not length:
            return None
        type_of_number = self.byte()
        digits = self.take(length - 1)
        return _decode_typed_number(type_of_number, digits, 2 * len(digits))

    def rest(self) -> bytes:
        return self._data[self._pos :]
