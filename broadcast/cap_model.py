"""A CAP 1.2 alert as plain data, once it has been parsed and found sound.

Field names follow the OASIS element names in snake case (``msgType`` is ``msg_type``).
Everything is immutable: an alert goes into the journal and the duplicate memory exactly
as it arrived. Times are timezone-aware, as CAP requires.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args

from .record import BroadcastLevel

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
DSIG_NS = "http://www.w3.org/2000/09/xmldsig#"

Status = Literal["Actual", "Exercise", "System", "Test", "Draft"]
MsgType = Literal["Alert", "Update", "Cancel", "Ack", "Error"]
Scope = Literal["Public", "Restricted", "Private"]
Urgency = Literal["Immediate", "Expected", "Future", "Past", "Unknown"]
Severity = Literal["Extreme", "Severe", "Moderate", "Minor", "Unknown"]
Certainty = Literal["Observed", "Likely", "Possible", "Unlikely", "Unknown"]

# The same code values as tuples, to check a parsed word against.
STATUSES: tuple[Status, ...] = get_args(Status)
MSG_TYPES: tuple[MsgType, ...] = get_args(MsgType)
SCOPES: tuple[Scope, ...] = get_args(Scope)
URGENCIES: tuple[Urgency, ...] = get_args(Urgency)
SEVERITIES: tuple[Severity, ...] = get_args(Severity)
CERTAINTIES: tuple[Certainty, ...] = get_args(Certainty)

RejectCode = Literal[
    "too_large", "not_xml", "doctype", "not_cap", "schema", "cap_rule", "resource",
    "signature", "china_profile",
]

# GB/T 35965.1's ZZZZZZDDDUUUXX_YYYYMMDDhhmmss_N: division, agency sector, sub-unit,
# extension, entry time, serial. Unique by construction, so the identifier alone names the
# alert whoever relays it; see alert_key().
CHINA_IDENTIFIER = re.compile(r"^(\d{6})(\d{3})(\d{3})(\d{2})_(\d{14})_(\d)$")


class CapRejected(ValueError):
    """The alert cannot be accepted; ``reason`` says why in words a sender can act on.

    ``code`` is a stable word for the journal and the HTTP answer (all of them are 4xx).
    """

    def __init__(self, code: RejectCode, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code: RejectCode = code
        self.reason = reason


def alert_key(sender: str, identifier: str) -> str:
    """The name under which an alert is remembered and its broadcast found again.

    CAP makes an identifier unique per sender, so the key is ``sender,identifier`` (commas
    cannot occur in either). An identifier of the GB/T 35965.1 shape is unique nationwide,
    so it is the key by itself: the same alert relayed by two county servers that each put
    their own address in ``sender`` is still one alert.
    """
    if CHINA_IDENTIFIER.match(identifier):
        return identifier
    return f"{sender},{identifier}"


@dataclass(frozen=True)
class AlertRef:
    """One ``sender,identifier,sent`` triple of ``<references>``."""

    sender: str
    identifier: str
    sent: datetime

    @property
    def key(self) -> str:
        return alert_key(self.sender, self.identifier)


@dataclass(frozen=True)
class NamedValue:
    """A ``valueName``/``value`` pair (eventCode, parameter, geocode)."""

    name: str
    value: str


@dataclass(frozen=True)
class CapResource:
    description: str
    mime_type: str
    size: int | None = None
    uri: str | None = None
    data: bytes | None = None  # derefUri, base64-decoded, size and digest checked
    digest: str | None = None  # SHA-1 hex, as CAP 1.2 specifies


@dataclass(frozen=True)
class Circle:
    lat: float
    lon: float
    radius_km: float


@dataclass(frozen=True)
class CapArea:
    description: str
    polygons: tuple[tuple[tuple[float, float], ...], ...] = ()  # (lat, lon) rings, WGS 84
    circles: tuple[Circle, ...] = ()
    geocodes: tuple[NamedValue, ...] = ()
    altitude: float | None = None
    ceiling: float | None = None

    @property
    def located(self) -> bool:
        """Whether the area says where it is, beyond its free-text description."""
        return bool(self.polygons or self.circles or self.geocodes)


@dataclass(frozen=True)
class CapInfo:
    language: str
    categories: tuple[str, ...]
    event: str
    urgency: Urgency
    severity: Severity
    certainty: Certainty
    response_types: tuple[str, ...] = ()
    audience: str | None = None
    event_codes: tuple[NamedValue, ...] = ()
    effective: datetime | None = None
    onset: datetime | None = None
    expires: datetime | None = None
    sender_name: str | None = None
    headline: str | None = None
    description: str | None = None
    instruction: str | None = None
    web: str | None = None
    contact: str | None = None
    parameters: tuple[NamedValue, ...] = ()
    resources: tuple[CapResource, ...] = ()
    areas: tuple[CapArea, ...] = ()
    # I-IV from a China warning colour (red/orange/yellow/blue) in a parameter or an
    # eventCode, when the info carries one; see broadcast.cap_china.
    level: BroadcastLevel | None = None

    @property
    def chinese(self) -> bool:
        return self.language.lower().startswith("zh")

    @property
    def located(self) -> bool:
        return any(a.located for a in self.areas)


@dataclass(frozen=True)
class CapAlert:
    identifier: str
    sender: str
    sent: datetime
    status: Status
    msg_type: MsgType
    scope: Scope
    source: str | None = None
    restriction: str | None = None
    addresses: str | None = None
    codes: tuple[str, ...] = ()
    note: str | None = None
    references: tuple[AlertRef, ...] = ()
    incidents: str | None = None
    infos: tuple[CapInfo, ...] = ()
    signed: bool = False  # its XML-DSig signature verified with a pinned certificate
    china_profile: bool = False  # claimed GB/T 35965.1 and passed its checks

    @property
    def key(self) -> str:
        return alert_key(self.sender, self.identifier)

    @property
    def ref(self) -> AlertRef:
        return AlertRef(self.sender, self.identifier, self.sent)
