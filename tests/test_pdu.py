"""The SMS PDU codec: public vectors, round trips, and where parts may be cut."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sat_phone.pdu import (
    GSM7,
    GSM7_BASIC,
    GSM7_EXTENSION,
    UCS2,
    Concat,
    PduError,
    decode_deliver,
    decode_status_report,
    decode_submit,
    encode_deliver,
    encode_status_report,
    encode_submit,
    join_parts,
    message_type,
    split_text,
)

BEIJING = timezone(timedelta(hours=8))
REPORT = "【沙沟镇应急站】后山雨量站1小时雨量52.3毫米，已达立即转移，警报已启动 10:32"


def test_public_deliver_vector() -> None:
    # The classic "How are you?" SMS-DELIVER (dreamfabric.com SMS PDU tutorial).
    msg = decode_deliver(
        "07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07"
    )
    assert msg.sender == "+31641600986"
    assert msg.smsc == "+31624000000"
    assert msg.text == "How are you?"
    assert msg.encoding == GSM7
    assert msg.concat is None
    assert msg.timestamp.replace(tzinfo=None) == datetime(2002, 8, 26, 19, 37, 41)


def test_public_submit_vector() -> None:
    # "hellohello" to +46708251358, relative validity 0xAA (same tutorial).
    [pdu] = encode_submit("+46708251358", "hellohello")
    assert pdu.hex == "0011000B916407281553F80000AA0AE8329BFD4697D9EC37"
    assert pdu.tpdu_length == 23


def test_chinese_is_ucs2_big_endian() -> None:
    [pdu] = encode_submit("+8613800000000", "你好")
    assert pdu.hex == "0011000D91683108000000F00008AA044F60597D"
    assert decode_submit(pdu.hex).text == "你好"


def test_report_of_120_chinese_characters_is_two_parts_of_67() -> None:
    text = (REPORT * 3)[:120]
    pdus = encode_submit("+8613800000000", text, reference=42)
    parts = [decode_submit(p.hex) for p in pdus]
    assert [len(p.payload) // 2 for p in parts] == [67, 53]
    assert [p.concat for p in parts] == [Concat(42, 2, 1), Concat(42, 2, 2)]
    assert all(p.tpdu_length <= 140 + 13 + 7 for p in pdus)
    assert join_parts(parts) == text


def test_gsm7_parts_hold_153_septets_and_sixteen_bit_references_152() -> None:
    text = "A" * 400
    assert [len(p) for p in split_text(text, 8)[1]] == [153, 153, 94]
    assert [len(p) for p in split_text(text, 16)[1]] == [152, 152, 96]
    pdus = encode_submit("10086", text, reference=0x1234, ref_bits=16)
    parts = [decode_submit(p.hex) for p in pdus]
    assert parts[0].concat == Concat(0x1234, 3, 1, 16)
    assert parts[0].address == "10086"
    assert join_parts(parts) == text


def test_single_part_limits() -> None:
    assert len(split_text("A" * 160)[1]) == 1
    assert len(split_text("A" * 161)[1]) == 2
    assert len(split_text("汉" * 70)[1]) == 1
    assert len(split_text("汉" * 71)[1]) == 2


def test_surrogate_pair_is_never_split() -> None:
    text = "汉" * 66 + "😀" + "汉" * 10
    encoding, payloads = split_text(text)
    assert encoding == UCS2
    for payload in payloads:
        payload.decode("utf-16-be")  # each part decodes alone: no lone surrogate
    assert len(payloads[0]) == 66 * 2


def test_escape_pair_is_never_split() -> None:
    text = "a" * 152 + "€" + "b" * 10
    encoding, payloads = split_text(text)
    assert encoding == GSM7
    assert payloads[0] == b"a" * 152
    assert payloads[1][:2] == bytes((0x1B, 0x65))


def test_alphanumeric_sender_and_negative_timezone() -> None:
    # A DELIVER from "Info" (type D0): built by hand from 23.040 9.1.2.5.
    from sat_phone.pdu import pack_septets

    sender = pack_septets(bytes(GSM7_BASIC.index(c) for c in "Info"))
    ts = bytes.fromhex("62207231000048")  # 2026-02-27 13:00:00, -1:00 (tz sign bit)
    tpdu = bytes((0x04, 7, 0xD0)) + sender + bytes((0, 0)) + ts + bytes((2,)) + pack_septets(b"Hi")
    msg = decode_deliver("00" + tpdu.hex())
    assert msg.sender == "Info"
    assert msg.text == "Hi"
    assert msg.timestamp == datetime(2026, 2, 27, 13, 0, 0, tzinfo=timezone(timedelta(hours=-1)))


gsm7_chars = st.sampled_from([c for c in GSM7_BASIC if c != "\x1b"] + list(GSM7_EXTENSION.values()))
any_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=400
) | st.text(alphabet=gsm7_chars, min_size=1, max_size=500)
numbers = st.from_regex(r"\+?[0-9]{3,15}", fullmatch=True)


@given(numbers, any_text, st.integers(0, 65535), st.sampled_from([8, 16]))
def test_submit_round_trip(number: str, text: str, reference: int, ref_bits: int) -> None:
    pdus = encode_submit(number, text, reference=reference, ref_bits=ref_bits)
    parts = [decode_submit(p.hex) for p in pdus]
    assert join_parts(parts) == text
    assert all(p.address == number for p in parts)
    for p, pdu in zip(parts, pdus, strict=True):
        assert pdu.tpdu_length == len(bytes.fromhex(pdu.hex)) - 1
        if p.encoding == UCS2:
            p.payload.decode("utf-16-be")
            assert len(p.payload) <= 140
        else:
            assert p.payload[-1:] != b"\x1b" or p.concat is None
        assert p.text.encode("utf-16-be", errors="strict")
    if len(parts) > 1:
        assert [p.concat.seq for p in parts if p.concat] == list(range(1, len(parts) + 1))
        assert {p.concat.reference for p in parts if p.concat} == {reference % (1 << ref_bits)}


@given(
    numbers,
    any_text,
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)),
    st.integers(-48, 56).map(lambda q: timezone(timedelta(minutes=15 * q))),
)
def test_deliver_round_trip(number: str, text: str, when: datetime, tz: timezone) -> None:
    ts = when.replace(microsecond=0, tzinfo=tz)
    pdus = encode_deliver(number, text, ts, smsc="+8613800100500", reference=9)
    parts = [decode_deliver(p) for p in pdus]
    assert join_parts(parts) == text
    assert all(p.sender == number and p.timestamp == ts for p in parts)
    assert all(p.smsc == "+8613800100500" for p in parts)


@given(st.binary(max_size=200))
def test_garbage_pdu_raises_only_pdu_error(data: bytes) -> None:
    for decode in (decode_deliver, decode_submit):
        try:
            decode(data.hex())
        except PduError:
            pass


def test_bad_input_is_refused() -> None:
    with pytest.raises(PduError):
        decode_deliver("zz")
    with pytest.raises(ValueError):
        encode_submit("not a number", "x")
    with pytest.raises(ValueError):
        encode_submit("+861", "x" * 153 * 256)


def test_status_report_hand_assembled() -> None:
    pdu = (
        "00"  # no service-centre address
        "06"  # SMS-STATUS-REPORT (TP-MTI 10), TP-MMS set
        "2A"  # TP-MR 42: the +CMGS answer of the part it reports on
        "0D91" "683108000000F1"  # TP-RA +8613800000001
        "62701080005023"  # TP-SCTS 2026-07-01 08:00:05 +08:00
        "62701080201023"  # TP-DT   2026-07-01 08:02:01 +08:00
        "41"  # TP-ST 0x41: permanent error (incompatible destination)
    )
    report = decode_status_report(pdu)
    assert (report.recipient, report.reference, report.status) == ("+8613800000001", 42, 0x41)
    assert report.discharged == datetime(2026, 7, 1, 8, 2, 1, tzinfo=BEIJING)
    assert report.outcome == "failed"
    assert message_type(pdu) == 2
    with pytest.raises(PduError):
        decode_status_report("00" + pdu[2:-2].replace("06", "04", 1))


@given(st.integers(0, 255), st.integers(0, 255))
def test_status_report_round_trip(reference: int, status: int) -> None:
    when = datetime(2026, 7, 1, 8, 0, 5, tzinfo=BEIJING)
    pdu = encode_status_report("+8613800000001", reference, status, when, when, smsc="+86138")
    report = decode_status_report(pdu)
    assert (report.reference, report.status, report.smsc) == (reference, status, "+86138")
    expected = "delivered" if status < 0x20 else "pending" if status < 0x40 else "failed"
    assert report.outcome == expected
