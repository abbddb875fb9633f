"""SIP addresses as the station compares and dials them.

A person is configured as a telephone number (``+8613800000002``: dialled through the
county PBX as ``sip:+8613800000002@<pbx domain>``) or as a SIP URI
(``sip:duty@10.0.0.5``). A caller is recognised by the user and host of the URI in
``From`` (display name, port and parameters ignored), or, for a number, by its digits
by a key the wiring passes in (:func:`sat_phone.numbers.number_key`: ``+86`` or not).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

_URI = re.compile(r"^(sips?):(?:([^@;]*)@)?([^;:]+)(?::(\d+))?(?:;.*)?$")
_NUMBER = re.compile(r"^\+?[0-9]{3,20}$")


@dataclass(frozen=True, slots=True)
class SipAddress:
    user: str
    host: str

    @property
    def key(self) -> str:
        return f"{self.user}@{self.host}".lower()


def parse_address(text: str) -> SipAddress | None:
    """``"Chief" <sip:+8613800000001@pbx.example:5060;user=phone>`` → (user, host)."""
    tail = text.rsplit("<", 1)[-1].split(">", 1)[0] if "<" in text else text.strip()
    match = _URI.match(tail)
    if match is None:
        return None
    return SipAddress(match.group(2) or "", match.group(3).lower())


def is_number(target: str) -> bool:
    return bool(_NUMBER.match(target))


def dial_uri(target: str, domain: str | None) -> str:
    """The URI to INVITE for a configured person (a number goes through ``domain``)."""
    if target.startswith(("sip:", "sips:")):
        return target
    if domain is None:
        raise ValueError(f"{target!r} is a number: dialling it needs a PBX domain")
    return f"sip:{target}@{domain}"


class Callers:
    """Who may call in: SIP URIs (user@host) and numbers (matched on their digits)."""

    def __init__(self, entries: Iterable[str], number_key: Callable[[str], str]) -> None:
        self.entries = tuple(entries)
        self._key = number_key
        self._uris = {a.key for e in self.entries if not is_number(e)
                      if (a := parse_address(e)) is not None}
        self._numbers = {number_key(e) for e in self.entries if is_number(e)} - {""}

    def allows(self, remote: str) -> bool:
        address = parse_address(remote)
        if address is None:
            return False
        if address.key in self._uris:
            return True
        return is_number(address.user) and self._key(address.user) in self._numbers

    def who(self, remote: str) -> str:
        """How the journal names a caller: the number, or user@host."""
        address = parse_address(remote)
        if address is None:
            return remote
        return address.user if is_number(address.user) else address.key


def dialled_number(local: str, prefix: str) -> str | None:
    """What the duty-room phone dialled after the outside-line prefix, or None."""
    address = parse_address(local)
    if address is None or not address.user.startswith(prefix):
        return None
    number = address.user[len(prefix):]
    return number if is_number(number) else None
