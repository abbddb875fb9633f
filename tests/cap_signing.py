"""Keys, certificates and XML-DSig signatures for the CAP tests, made on the spot.

A test CA issues the county's signing certificate (as a province's CA would); another key,
and another certificate from the same CA, stand for a forger and for a party the CA also
certifies. Made once per test session (key generation is the slow part).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml.algorithms import DigestAlgorithm, SignatureMethod
from signxml.algorithms import SignatureConstructionMethod as methods
from signxml.signer import XMLSigner

VALID_FROM = datetime(2025, 1, 1, tzinfo=UTC)
VALID_UNTIL = datetime(2027, 1, 1, tzinfo=UTC)
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class Signer:
    key: PrivateKey
    certificate: x509.Certificate

    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def sign(self, xml: bytes, method: SignatureMethod | None = None) -> bytes:
        """``xml`` with an enveloped signature as the last child of its root."""
        if method is None:
            method = (SignatureMethod.RSA_SHA256 if isinstance(self.key, rsa.RSAPrivateKey)
                      else SignatureMethod.ECDSA_SHA256)
        signer = XMLSigner(method=methods.enveloped, signature_algorithm=method,
                           digest_algorithm=DigestAlgorithm.SHA256)
        root = etree.fromstring(xml)
        signed = signer.sign(root, key=self.key, cert=[self.pem().decode()])
        return etree.tostring(signed, xml_declaration=True, encoding="UTF-8")


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test Province"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(subject: str, key: PrivateKey, issuer: Signer | None, *, ca: bool,
                 valid_from: datetime, valid_until: datetime) -> x509.Certificate:
    builder = (x509.CertificateBuilder()
               .subject_name(_name(subject))
               .issuer_name(issuer.certificate.subject if issuer else _name(subject))
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(valid_from).not_valid_after(valid_until)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    return builder.sign(issuer.key if issuer else key, hashes.SHA256())


@functools.cache
def province_ca() -> Signer:
    key = ec.generate_private_key(ec.SECP256R1())
    return Signer(key, _certificate("Test Province Root CA", key, None, ca=True,
                                    valid_from=VALID_FROM, valid_until=VALID_UNTIL))


def issued(subject: str, *, rsa_key: bool = False, valid_from: datetime = VALID_FROM,
           valid_until: datetime = VALID_UNTIL) -> Signer:
    """A signing certificate from the test CA."""
    key: PrivateKey = (rsa.generate_private_key(public_exponent=65537, key_size=2048)
                       if rsa_key else ec.generate_private_key(ec.SECP256R1()))
    return Signer(key, _certificate(subject, key, province_ca(), ca=False, valid_from=valid_from,
                                    valid_until=valid_until))


@functools.cache
def county() -> Signer:
    """The county's alert-signing certificate (RSA, the usual XML-DSig key)."""
    return issued("Test County Emergency Alerts", rsa_key=True)


@functools.cache
def other_department() -> Signer:
    """Another party the same CA certifies: not pinned, so it moves nothing."""
    return issued("Test County Water Bureau")


@functools.cache
def forger() -> Signer:
    """A key of its own, certificate and all, under a look-alike name."""
    key = ec.generate_private_key(ec.SECP256R1())
    return Signer(key, _certificate("Test County Emergency Alerts", key, None, ca=False,
                                    valid_from=VALID_FROM, valid_until=VALID_UNTIL))


def expired_county() -> Signer:
    return issued("Test County Emergency Alerts (2024)", valid_from=VALID_FROM - timedelta(
        days=400), valid_until=VALID_FROM)
