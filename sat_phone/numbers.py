"""Telephone numbers as the station compares them.

The same person's number reaches the station as ``+8613800000000`` (a satellite SMS
centre), ``8613800000000`` or ``13800000000`` (typed into the config by a person), so a
whitelist or a callout list is matched on one key: the digits, without an
international prefix ``00`` and without China's country code when a national number
follows it.
"""

from __future__ import annotations

from collections.abc import Iterable


def number_key(number: str) -> str:
    """``+86 138-0000-0000`` → ``13800000000``; other countries keep their code."""
    digits = "".join(ch for ch in number if ch.isdigit())
    if digits.startswith("00"):
        digits = digits[2:]
    if digits.startswith("86") and len(digits) > 11:
        digits = digits[2:]
    return digits


def same_number(a: str, b: str) -> bool:
    key = number_key(a)
    return bool(key) and key == number_key(b)


class NumberList:
    """A set of numbers (a whitelist, a callout tier) matched by :func:`number_key`."""

    def __init__(self, numbers: Iterable[str]) -> None:
        self.numbers = tuple(numbers)
        self._keys = {number_key(n) for n in self.numbers} - {""}

    def __contains__(self, number: object) -> bool:
        return isinstance(number, str) and number_key(number) in self._keys

    def __len__(self) -> int:
        return len(self.numbers)
