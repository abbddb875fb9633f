"""The AT line parser: what a terminal's bytes mean, however they are split."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from sat_phone.at_parser import MAX_LINE, AtParser, Echo, Final, Line, Prompt

CSQ_REPLY = b"\r\n+CSQ: 17,99\r\n\r\nOK\r\n"
PDU = "07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07"
CMGR_REPLY = b"\r\n+CMGR: 0,,24\r\n" + PDU.encode() + b"\r\n\r\nOK\r\n"


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
    assert events[0] == Line("+CMGR: 0,,24", pdu=PDU)
    assert events[1] == Final("ok", "OK")


def test_cmt_urc_takes_the_next_line() -> None:
    events = parse(b'\r\n+CMT: ,24\r\n', b"0791ABCD\r\n", b'\r\n+CMTI: "SM",3\r\n')
    assert events == [Line("+CMT: ,24", pdu="0791ABCD"), Line('+CMTI: "SM",3')]


def test_pdu_header_without_pdu_keeps_the_final() -> None:
    assert parse(b"\r\n+CMGL: 1,0,,24\r\n\r\nOK\r\n") == [Line("+CMGL: 1,0,,24"), Final("ok", "OK")]


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
