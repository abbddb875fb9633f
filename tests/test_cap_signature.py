"""XML-DSig on CAP alerts: only a signature by a pinned county certificate moves anything.

Keys and certificates are made in the test (tests/cap_signing.py): a test CA issues the
county's signing certificate, which the station pins. Refused: unsigned (where required),
tampered after signing, signed by another key, by another certificate of the same CA
(pinning, not a chain), by an expired certificate, with SHA-1.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from signxml.algorithms import SignatureMethod

from broadcast.cap import CapRejected, parse_alert
from broadcast.cap_signature import PinnedCertificates, read_certificates
from tests.cap_examples import example
from tests.cap_signing import (
    Signer,
    county,
    expired_county,
    forger,
    other_department,
    province_ca,
)

MORNING = datetime(2025, 7, 15, 0, 30, tzinfo=UTC)
ALERT = "cn_rainstorm_red.xml"


def trusting(*signers: Signer) -> PinnedCertificates:
    return PinnedCertificates(tuple(s.certificate for s in signers))


def refused(xml: bytes, trusted: PinnedCertificates | None, *,
            require_signature: bool = True) -> str:
    with pytest.raises(CapRejected) as e:
        parse_alert(xml, require_signature=require_signature, trusted=trusted, now=MORNING)
    assert e.value.code == "signature", e.value
    return e.value.reason


def test_an_alert_signed_by_the_county_is_taken() -> None:
    signed = county().sign(example(ALERT))
    alert = parse_alert(signed, require_signature=True, trusted=trusting(county()), now=MORNING)
    assert alert.signed and alert.identifier == parse_alert(example(ALERT)).identifier
    assert alert.infos[0].level == "I"
    ecdsa = other_department().sign(example(ALERT))
    assert parse_alert(ecdsa, trusted=trusting(county(), other_department()), now=MORNING,
                       require_signature=True).signed, "ECDSA, with a second pinned key"


def test_an_alert_changed_after_signing_is_refused() -> None:
    signed = county().sign(example(ALERT))
    for old, new in (("红色".encode(), "蓝色".encode()), (b"<severity>Extreme", b"<severity>Minor"),
                     (b"<expires>2025-07-15", b"<expires>2025-07-19")):
        assert old in signed
        why = refused(signed.replace(old, new, 1), trusting(county()))
        assert why.startswith("tampered") and "Test County Emergency Alerts" in why


def test_an_altered_signature_is_refused() -> None:
    signed = county().sign(example(ALERT))
    start = signed.index(b"<ds:DigestValue>") + len(b"<ds:DigestValue>")
    flipped = signed[:start] + (b"B" if signed[start:start + 1] != b"B" else b"C") \
        + signed[start + 1:]
    assert "does not verify with any trusted certificate" in refused(flipped, trusting(county()))


@pytest.mark.parametrize("signer", [forger, other_department, province_ca],
                         ids=["own key, look-alike name", "same CA, not pinned", "the CA"])
def test_a_signature_by_any_other_key_is_refused(signer: Callable[[], Signer]) -> None:
    who = signer()
    why = refused(who.sign(example(ALERT)), trusting(county()))
    assert why.startswith("signed by a certificate this station does not trust")
    assert who.certificate.subject.rfc4514_string() in why


def test_unsigned_and_unverifiable_alerts() -> None:
    body = example(ALERT)
    assert "unsigned" in refused(body, trusting(county()))
    assert not parse_alert(body, trusted=trusting(county()), now=MORNING).signed, \
        "not required: an unsigned alert is taken, as unsigned"
    forged = forger().sign(body)
    assert "does not trust" in refused(forged, trusting(county()), require_signature=False), \
        "a signature that does not verify is refused even where none is required"
    assert "no trusted certificate" in refused(county().sign(body), None)
    assert not parse_alert(forged).signed, "nothing to verify with: taken, never as signed"


def test_an_expired_certificate_verifies_nothing() -> None:
    old = expired_county()
    why = refused(old.sign(example(ALERT)), trusting(old))
    assert "not valid at 2025-07-15T00:30:00+00:00" in why and "to 2025-01-01" in why


def test_weak_or_broken_signatures_are_refused() -> None:
    signed = county().sign(example(ALERT))
    sha1 = signed.replace(SignatureMethod.RSA_SHA256.value.encode(),
                          SignatureMethod.RSA_SHA1.value.encode())
    assert sha1 != signed and "not accepted" in refused(sha1, trusting(county()))
    hollow = example(ALERT).replace(
        b"</alert>", b'<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"/></alert>')
    assert refused(hollow, trusting(county()))


def test_certificate_files_are_read_whole_or_refused() -> None:
    both = county().pem() + other_department().pem()
    assert [c.subject for c in read_certificates(both)] == [
        county().certificate.subject, other_department().certificate.subject]
    for broken in (b"", b"not a certificate", county().pem()[:200]):
        with pytest.raises(ValueError):
            read_certificates(broken)
