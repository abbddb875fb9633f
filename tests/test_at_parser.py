"""The AT line parser: what a terminal's bytes mean, however they are split."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from sat_phone.at_parser import MAX_LINE, AtParser, Echo, Final, Line, Prompt
from sat_phone.pdu import encode_deliver, encode_status_report, encode_submit

CSQ_REPLY = b"\r\n+CSQ: 17,99\r\n\r\nOK\r\n"
PDU = "07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07"
CMGR_REPLY = b"\r\n+CMGR: 0,,30\r\n" + PDU.encode() + b"\r\n\r\nOK\r\n"


def parse(*chunks: bytes) -> list[object]:
    parser = AtParser()
    events: list[object] = []
    for chunk in chunks:
        events.extend(parser.feed(chunk))
    return events


def test_information_line_then_ok() -> None:
    assert parse(CSQ_REPLY) == [Line("+CSQ: 17,99"), Final("ok", "OK")]


def test_error_codes_carry_their_number() -> None:
    events = parse(
        b"\r\n+CMS ERROR: 500\r\n",
        b"\r\n+CME ERROR: 10\r\n",
        b"\r\n+CME ERROR: SIM not inserted\r\n",
    )
    assert events == [
        Final("cms_error", "+CMS ERROR: 500", 500),
        Final("cme_error", "+CME ERROR: 10", 10),
        Final("cme_error", "+CME ERROR: SIM not inserted", None),
    ]
    assert not any(e.success for e in events if isinstance(e, Final))


def test_call_finals() -> None:
    events = parse(b"\r\nNO CARRIER\r\n\r\nBUSY\r\n\r\nNO ANSWER\r\n\r\nCONNECT 9600\r\n")
    kinds = [e.kind for e in events if isinstance(e, Final)]
    assert kinds == ["no_carrier", "busy", "no_answer", "connect"]


def test_prompt_has_no_line_end() -> None:
    assert parse(b"\r\n> ") == [Prompt()]
    assert parse(b"\r\n>", b" ") == [Prompt()]


def test_echo_is_recognised() -> None:
    assert parse(b"AT+CSQ\r", CSQ_REPLY) == [Echo("AT+CSQ"), Line("+CSQ: 17,99"), Final("ok", "OK")]


def test_cmgr_pdu_is_attached_to_its_header() -> None:
    events = parse(CMGR_REPLY)
    assert events[0] == Line("+CMGR: 0,,30", pdu=PDU)
    assert events[1] == Final("ok", "OK")


def test_cmt_urc_takes_the_next_line_when_it_is_the_announced_pdu() -> None:
    events = parse(b"\r\n+CMT: ,30\r\n", PDU.encode() + b"\r\n", b'\r\n+CMTI: "SM",3\r\n')
    assert events == [Line("+CMT: ,30", pdu=PDU), Line('+CMTI: "SM",3')]
    tpdu_only = PDU[16:]  # some terminals leave out the service-centre octets
    assert parse(b"\r\n+CMT: ,30\r\n" + tpdu_only.encode() + b"\r\n") == [
        Line("+CMT: ,30", pdu=tpdu_only)]


def test_pdu_header_without_pdu_keeps_the_final() -> None:
    assert parse(b"\r\n+CMGL: 1,0,,24\r\n\r\nOK\r\n") == [
        Line("+CMGL: 1,0,,24", torn=True), Final("ok", "OK")]


def test_a_line_that_is_not_the_announced_pdu_is_what_it_is() -> None:
    assert parse(b"\r\n+CMT: ,31\r\n" + PDU.encode() + b"\r\n") == [
        Line("+CMT: ,31", torn=True), Line(PDU)]  # one octet short: not this header's
    assert parse(b"\r\n+CMT: ,30\r\n\r\n+CMGS: 7\r\n\r\nOK\r\n") == [
        Line("+CMT: ,30", torn=True), Line("+CMGS: 7"), Final("ok", "OK")]
    assert parse(b"\r\n+CMT: ,30\r\n\r\n> ") == [Line("+CMT: ,30", torn=True), Prompt()]
    assert parse(b'\r\n+CMT: "+8613800000000","","26/07/01,08:00:00+32"\r\nhi\r\n') == [
        Line('+CMT: "+8613800000000","","26/07/01,08:00:00+32"', torn=True), Line("hi")]


def test_the_echo_of_a_typed_pdu_is_never_taken_for_a_received_one() -> None:
    assert parse(b"\r\n+CMT: ,30\r\n" + PDU.encode() + b"\x1a") == [
        Line("+CMT: ,30", torn=True), Line(PDU)]


def test_pdu_echo_ended_by_ctrl_z_is_a_line() -> None:
    assert parse(b"0011000B91\x1a\r\n+CMGS: 4\r\n\r\nOK\r\n") == [
        Line("0011000B91"), Line("+CMGS: 4"), Final("ok", "OK")
    ]


def test_endless_line_is_cut() -> None:
    parser = AtParser()
    events = parser.feed(b"x" * (MAX_LINE + 10))
    assert events == [Line("x" * MAX_LINE)]
    assert parser.feed(b"\r\nOK\r\n") == [Final("ok", "OK")]


def test_invalid_utf8_is_replaced() -> None:
    assert parse(b"\xff\xfe+CSQ\x00: 1\r\n") == [Line("\ufffd\ufffd+CSQ: 1")]


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


STREAM = (
    b"AT+CMGR=1\r" + CMGR_REPLY + b'\r\n+CMTI: "SM",2\r\n' + b"\r\n> " + CSQ_REPLY
    + b"\r\n+CMS ERROR: 500\r\n"
)
URCS = [b"\r\n+CIEV: 0,3\r\n", b"\r\nRING\r\n", b'\r\n+CMTI: "SM",9\r\n']


@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=40))
def test_any_split_gives_the_same_events(cuts: list[int]) -> None:
    assert parse(*_split(STREAM, cuts)) == parse(STREAM)


@given(
    st.lists(st.sampled_from(URCS), max_size=3),
    st.lists(st.integers(min_value=0, max_value=200), max_size=10),
)
def test_urc_between_data_and_ok_stays_a_separate_line(urcs: list[bytes], cuts: list[int]) -> None:
    stream = b"\r\n+CSQ: 17,99\r\n" + b"".join(urcs) + b"\r\nOK\r\n"
    events = parse(*_split(stream, cuts))
    assert events[0] == Line("+CSQ: 17,99")
    assert events[-1] == Final("ok", "OK")
    assert len(events) == 2 + len(urcs)


@given(st.lists(st.binary(max_size=300), max_size=20))
def test_garbage_never_raises(chunks: list[bytes]) -> None:
    parser = AtParser()
    for chunk in chunks:
        for event in parser.feed(chunk):
            assert isinstance(event, Final | Line | Prompt | Echo)
    assert parser.feed(b"\r\n\r\nOK\r\n")[-1] == Final("ok", "OK")


# --- every interleaving around +CMT / +CMGS ------------------------------------------

_WHEN = datetime(2026, 7, 1, 8, 0, 5, tzinfo=timezone(timedelta(hours=8)))
_EVACUATE = encode_deliver("+8613800000001", "2468 转移", _WHEN, smsc="+8613800100500")[0]
_ANSWER = encode_deliver("+8613800000002", "收到", _WHEN)[0]
_CDS = encode_status_report("+8613800000001", 17, 0, _WHEN, _WHEN, smsc="+8613800100500")
_ECHO = encode_submit("+8613800000001", "hellohello")[0].hex


def _tpdu_octets(pdu: str) -> int:
    return len(pdu) // 2 - 1 - int(pdu[:2], 16)


Unit = tuple[bytes, list[object]]


def _line(text: str) -> Unit:
    return b"\r\n" + text.encode() + b"\r\n", [Line(text)]


def _final(text: str, kind: str, code: int | None = None) -> Unit:
    return b"\r\n" + text.encode() + b"\r\n", [Final(kind, text, code)]


def _pdu_header(header: str, pdu: str) -> tuple[str, str]:
    return f"{header},{_tpdu_octets(pdu)}", pdu


#: What a terminal may put anywhere: URCs, the answer and finals of a send, its prompt,
#: the echo of the PDU we typed, a whole status report.
INTERRUPTIONS: list[Unit] = [
    _line("+CIEV: 0,3"), _line("+CREG: 1"), _line("RING"), _line('+CLIP: "+8613800000001",145'),
    _line('+CMTI: "SM",4'), _line('+CDSI: "SM",2'), _line("HARDWARE FAILURE: 3,1"),
    _line("+CMGS: 17"), _final("OK", "ok"), _final("+CMS ERROR: 500", "cms_error", 500),
    _final("NO CARRIER", "no_carrier"), (b"\r\n> ", [Prompt()]),
    (_ECHO.encode() + b"\x1a", [Line(_ECHO)]),
    (f"\r\n+CDS: {_tpdu_octets(_CDS)}\r\n{_CDS}\r\n".encode(),
     [Line(f"+CDS: {_tpdu_octets(_CDS)}", pdu=_CDS)]),
]
#: Headers with their PDUs, of different lengths so a PDU fits only its own header.
MESSAGES = [_pdu_header("+CMT: ", _EVACUATE), _pdu_header('+CMT: ""', _ANSWER),
            _pdu_header("+CMGL: 3,0,", PDU)]
interruption = st.sampled_from(INTERRUPTIONS)
#: A header, the PDU line that follows it (its own or another's, or none), what came between.
message = st.tuples(st.sampled_from(MESSAGES), st.sampled_from([None, *MESSAGES]),
                    st.lists(interruption, max_size=3))
stream_items = st.lists(st.one_of(interruption.map(lambda u: (u, None)),
                                   message.map(lambda m: (None, m))), max_size=8)
Message = tuple[tuple[str, str], tuple[str, str] | None, list[Unit]]


def _expected(items: list[tuple[Unit | None, Message | None]]) -> tuple[bytes, list[object]]:
    """The wire and the events it must give: a header takes its PDU only when nothing
    came between them; otherwise the header is torn and every line is what it is."""
    wire, events = b"", []
    for alone, item in items:
        if item is None:
            assert alone is not None
            wire += alone[0]
            events += alone[1]
            continue
        (header, own), following, between = item
        pdu = following[1] if following else None
        wire += b"\r\n" + header.encode() + b"\r\n"
        if pdu == own and not between:
            events.append(Line(header, pdu=pdu))
        else:
            events.append(Line(header, torn=True))
        for data, expect in between:
            wire += data
            events += expect
        if pdu is not None:
            wire += pdu.encode() + b"\r\n"
            if pdu != own or between:
                events.append(Line(pdu))
    end, final = _final("OK", "ok")
    return wire + end, events + final


@given(stream_items, st.lists(st.integers(min_value=0, max_value=4000), max_size=30))
def test_every_interleaving_around_cmt_and_cmgs(
    items: list[tuple[Unit | None, Message | None]], cuts: list[int]
) -> None:
    wire, expected = _expected(items)
    assert parse(*_split(wire, cuts)) == expected
