"""SMS commands to the station, and the guard against guessing their PIN.

Grammar (one command per message; spaces, full-width spaces and the punctuation
``, ， : ： # * 。 . ! ！`` separate words, and may be left out between the PIN and a Chinese word;
ASCII words in any case)::

    <PIN> <word> [<alarm id>]

    word        meaning
    状态 查询 STATUS ST          reply with a short health summary
    转移 撤离 EVACUATE EVAC      start the evacuation broadcast
    停止 STOP                    stop the broadcasts
    确认 ACK                     acknowledge the alarm <alarm id>, or every active alarm

The PIN is 4 to 8 digits. ``1234 转移``, ``1234转移``, ``1234，撤离`` and ``1234 evac`` are
the same command. A text that does not start with 4-8 digits is not a command at all
(it may be an answer to a callout, or chatter) and gets no reply; one that starts with
digits but names no known word is an :data:`UNKNOWN` command, answered with the grammar.

Wrong PINs are counted per sender (:class:`PinGuard`): after ``max_failures`` within
``window_s`` the sender is locked out for ``lockout_s``, whatever it sends.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field

from sat_phone.numbers import number_key


class CommandKind(enum.StrEnum):
    STATUS = "status"
    EVACUATE = "evacuate"
    STOP = "stop"
    ACKNOWLEDGE = "acknowledge"
    UNKNOWN = "unknown"


WORDS = {
    "状态": CommandKind.STATUS, "查询": CommandKind.STATUS, "STATUS": CommandKind.STATUS,
    "ST": CommandKind.STATUS,
    "转移": CommandKind.EVACUATE, "撤离": CommandKind.EVACUATE,
    "EVACUATE": CommandKind.EVACUATE, "EVAC": CommandKind.EVACUATE,
    "停止": CommandKind.STOP, "STOP": CommandKind.STOP,
    "确认": CommandKind.ACKNOWLEDGE, "ACK": CommandKind.ACKNOWLEDGE,
}
CALLOUT_ANSWERS = frozenset({"1", "收到", "已收到", "好", "OK", "是"})
USAGE_ZH = "指令格式：密码 状态|转移|停止|确认"
_SEPARATORS = re.compile(r"[\s\u3000,，:：#*。.!！]+")
_COMMAND = re.compile(r"^(\d{4,8})(.*)$", re.S)


@dataclass(frozen=True, slots=True)
class SmsCommand:
    kind: CommandKind
    pin: str
    argument: str | None = None
    word: str = ""


def parse_command(text: str) -> SmsCommand | None:
    """The command in an SMS, or None when the text is not a command."""
    stripped = _SEPARATORS.sub(" ", text).strip()
    match = _COMMAND.match(stripped)
    if match is None:
        return None
    pin, rest = match.group(1), match.group(2).strip()
    words = rest.split(" ") if rest else []
    if not words:
        return SmsCommand(CommandKind.UNKNOWN, pin)
    word = words[0]
    kind = WORDS.get(word.upper())
    if kind is None:  # a Chinese word may run into its argument: 确认a2026…
        kind, word = next(((k, w) for w, k in WORDS.items() if word.startswith(w)),
                          (CommandKind.UNKNOWN, word))
        words = [word, words[0][len(word):], *words[1:]] if kind != CommandKind.UNKNOWN else words
    argument = next((w for w in words[1:] if w), None)
    return SmsCommand(kind, pin, argument, word)


def is_callout_answer(text: str) -> bool:
    """``1`` or ``收到`` (with any punctuation around it): a person answering a callout."""
    return _SEPARATORS.sub("", text).upper() in CALLOUT_ANSWERS


@dataclass
class _Failures:
    times: list[float] = field(default_factory=list)
    locked_until: float = 0.0


class PinGuard:
    """Wrong-PIN counting per sender, on the caller's monotonic clock."""

    def __init__(self, max_failures: int = 3, window_s: float = 900.0,
                 lockout_s: float = 1800.0) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.lockout_s = lockout_s
        self._senders: dict[str, _Failures] = {}

    def locked(self, number: str, now: float) -> bool:
        entry = self._senders.get(number_key(number))
        return entry is not None and now < entry.locked_until

    def failed(self, number: str, now: float) -> bool:
        """Count a wrong PIN; True when the sender is now locked out."""
        entry = self._senders.setdefault(number_key(number), _Failures())
        entry.times = [t for t in entry.times if now - t < self.window_s] + [now]
        if len(entry.times) >= self.max_failures:
            entry.locked_until = now + self.lockout_s
            entry.times.clear()
            return True
        return False

    def succeeded(self, number: str) -> None:
        self._senders.pop(number_key(number), None)
