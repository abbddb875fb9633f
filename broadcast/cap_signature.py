"""XML-DSig on a CAP alert, verified against the county's pinned signing certificates.

A CAP alert may carry an enveloped XML signature (``ds:Signature`` as the last child of
``alert``, after the ``info`` blocks, where the CAP 1.2 schema puts it). This module
checks it cryptographically (with ``signxml``) and hands back only what was signed.

Trust is *pinned*: the signature must verify with the public key of one of the
certificates the station was given (``[cap] trusted_certificates``), not merely chain
up to a certificate authority. Why pinned rather than a CA chain:

* a CA (a province's, or a commercial one) certifies many parties: trusting it would
  let any of them move this station's sirens, unless every subject were pinned too;
* the station is often offline, so a CA's revocation list cannot be fetched: with a
  chain, a stolen county key would be trusted until its certificate expires. With pins,
  removing one certificate from the config revokes exactly that key;
* the county already hands each station its configuration (tokens, area codes); a new
  signing certificate is listed beside the old one before the county switches keys,
  as alerting receivers do with their authority's signing certificate (IPAWS updates
  the one in every EAS device).

The certificate's own validity period is checked on the station clock: an expired
certificate no longer verifies anything (a county key is retired by letting it expire
or by removing it).

Accepted algorithms: RSA or ECDSA with SHA-256/384/512 (SHA-1 and HMAC are refused).
The one Reference must cover the whole alert (``URI=""`` with the enveloped-signature
transform): a signature over a part would let an attacker change the rest.

Every refusal is :class:`~broadcast.cap_model.CapRejected` with code ``signature`` and a
reason an operator can act on: unsigned, tampered, signed by an untrusted key, an expired
certificate, an algorithm refused. Pure: no I/O, no event loop.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from lxml import etree
from signxml.algorithms import DigestAlgorithm, SignatureMethod
from signxml.exceptions import InvalidCertificate, InvalidDigest, InvalidInput, InvalidSignature
from signxml.verifier import SignatureConfiguration, VerifyResult, XMLVerifier

from .cap_model import CAP_NS, DSIG_NS, CapRejected

SIGNATURE_METHODS = frozenset({
    SignatureMethod.RSA_SHA256, SignatureMethod.RSA_SHA384, SignatureMethod.RSA_SHA512,
    SignatureMethod.ECDSA_SHA256, SignatureMethod.ECDSA_SHA384, SignatureMethod.ECDSA_SHA512,
})
DIGESTS = frozenset({DigestAlgorithm.SHA256, DigestAlgorithm.SHA384, DigestAlgorithm.SHA512})
EXPECTED = SignatureConfiguration(location="./", expect_references=1,
                                  signature_methods=SIGNATURE_METHODS,
                                  digest_algorithms=DIGESTS)
_DS = f"{{{DSIG_NS}}}"


def fingerprint(certificate: x509.Certificate) -> str:
    """SHA-256 of the certificate (DER), as ``openssl x509 -fingerprint -sha256`` shows it."""
    digest = hashlib.sha256(certificate.public_bytes(Encoding.DER)).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def describe(certificate: x509.Certificate) -> str:
    return f"{certificate.subject.rfc4514_string()} (SHA-256 {fingerprint(certificate)[:23]}…)"


def read_certificates(pem: bytes) -> list[x509.Certificate]:
    """Every certificate in a PEM file; ValueError when there is none or one is broken."""
    certificates = x509.load_pem_x509_certificates(pem)
    if not certificates:
        raise ValueError("no certificate in it")
    return certificates


def _public_key(certificate: x509.Certificate) -> bytes:
    return certificate.public_key().public_bytes(Encoding.DER,
                                                 PublicFormat.SubjectPublicKeyInfo)


@dataclass(frozen=True)
class PinnedCertificates:
    """The certificates whose keys may sign alerts for this station."""

    certificates: tuple[x509.Certificate, ...]

    def valid_at(self, now: datetime) -> list[x509.Certificate]:
        return [c for c in self.certificates
                if c.not_valid_before_utc <= now <= c.not_valid_after_utc]

    def verify(self, root: etree._Element, now: datetime) -> etree._Element:
        """The alert as signed (its signature checked), or :class:`CapRejected`."""
        if root.find(_DS + "Signature") is None:
            raise CapRejected("signature", "unsigned: this station requires an XML-DSig "
                              "<Signature> after the info blocks")
        now = now.astimezone(UTC)
        config = replace(EXPECTED, verification_time=now)
        key_type = _key_type(root)
        for certificate in self.valid_at(now):
            if not isinstance(certificate.public_key(), key_type):
                continue  # an RSA signature cannot be this EC key's, nor the other way
            try:
                result = XMLVerifier().verify(root, x509_cert=certificate,
                                              expect_config=config)
                assert isinstance(result, VerifyResult)  # one reference expected: one result
            except InvalidDigest:
                raise CapRejected("signature", "tampered: the alert was changed after it "
                                  f"was signed (signed by {describe(certificate)})") from None
            except InvalidCertificate as exc:
                raise CapRejected("signature", f"certificate refused: {exc}") from None
            except InvalidSignature:
                continue  # not this key: try the next pinned certificate
            except (InvalidInput, ValueError, etree.DocumentInvalid) as exc:
                raise CapRejected("signature", f"not a usable XML-DSig signature: {exc}") \
                    from None
            return _whole_alert(result.signed_xml)
        raise CapRejected("signature", self._why_no_key_verified(root, now))

    def _why_no_key_verified(self, root: etree._Element, now: datetime) -> str:
        expired = [c for c in self.certificates if c not in self.valid_at(now)]
        embedded = _embedded_certificate(root)
        pinned_keys = {_public_key(c) for c in self.certificates}
        if embedded is not None and _public_key(embedded) not in pinned_keys:
            why = f"signed by a certificate this station does not trust: {describe(embedded)}"
        else:
            why = ("the signature does not verify with any trusted certificate (signed by "
                   "another key, or its SignedInfo was altered)")
        if expired:
            why += "; not valid at " + now.isoformat(timespec="seconds") + ": " + ", ".join(
                f"{describe(c)} valid {c.not_valid_before_utc:%Y-%m-%d} to "
                f"{c.not_valid_after_utc:%Y-%m-%d}" for c in expired)
        return why


def _key_type(root: etree._Element) -> type:
    """The kind of public key the signature's algorithm needs; refuses what is not accepted."""
    method = root.find(f"{_DS}Signature/{_DS}SignedInfo/{_DS}SignatureMethod")
    algorithm = method.get("Algorithm") if method is not None else None
    accepted = {m.value: m for m in SIGNATURE_METHODS}
    if algorithm not in accepted:
        raise CapRejected("signature", f"signature algorithm {algorithm!r} not accepted; use "
                          "RSA or ECDSA with SHA-256, SHA-384 or SHA-512")
    return rsa.RSAPublicKey if accepted[algorithm].name.startswith("RSA") \
        else ec.EllipticCurvePublicKey


def _embedded_certificate(root: etree._Element) -> x509.Certificate | None:
    """The signer's certificate the signature carries, if any (only to name it)."""
    found = root.find(f"{_DS}Signature/{_DS}KeyInfo/{_DS}X509Data/{_DS}X509Certificate")
    if found is None or not found.text:
        return None
    try:
        pem = ("-----BEGIN CERTIFICATE-----\n" + "".join(found.text.split())
               + "\n-----END CERTIFICATE-----\n")
        return x509.load_pem_x509_certificate(pem.encode())
    except ValueError:
        return None


def _whole_alert(signed: etree._Element | None) -> etree._Element:
    if signed is None or signed.tag != f"{{{CAP_NS}}}alert":
        raise CapRejected("signature", "the signature must cover the whole alert "
                          '(one Reference, URI="", enveloped-signature transform)')
    return signed
