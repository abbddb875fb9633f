"""Where and how a Modbus gauge keeps its counter, and how it says it is broken.

``register`` is the 0-based address that goes on the wire (the PDU's address field),
not a manual's 3xxxx/4xxxx "register number": a manual that lists 40001 usually means
wire address 0, but some (Lambrecht) put the printed number itself on the wire — the
page of each model in docs/gauges/ gives both side by side. ``word_order`` is the
order of the two 16-bit *words* of a 32-bit value ("big": high word first); the bytes
inside a word are always big-endian, as Modbus defines them. ``scale_mm`` is
millimetres per count. ``rollover`` is the count at which the counter starts again at
0 (default 2**width).
"""

from __future__ import annotations

from dataclasses import dataclass, field

FUNCTIONS = ("holding", "input")


def _check_address(name: str, function: str, register: int, width: int) -> None:
    if function not in FUNCTIONS:
        raise ValueError(f"{name}function must be holding or input, got {function!r}")
    if width not in (16, 32):
        raise ValueError(f"{name}width must be 16 or 32, got {width}")
    if not 0 <= register <= 0xFFFF - (width // 16 - 1):
        raise ValueError(f"{name}register must be 0..65535, got {register}")


def decode_words(words: list[int], width: int, word_order: str) -> int:
    """An unsigned value from one or two registers (``word_order`` for 32 bits)."""
    if width == 16:
        return words[0]
    high, low = words if word_order == "big" else words[::-1]
    return (high << 16) | low


@dataclass(frozen=True)
class StatusRegister:
    """A register in which the gauge reports its own faults.

    Fault when any of ``fault_bits`` is set, or when the whole word equals one of
    ``fault_values``; other bits are shown in the health detail but are not a fault
    (e.g. a heater warning does not make the rain reading wrong).
    """

    register: int
    function: str = "input"
    width: int = 16
    fault_bits: int = 0
    fault_values: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        _check_address("status_register.", self.function, self.register, self.width)
        if not self.fault_bits and not self.fault_values:
            raise ValueError("status_register: give fault_bits or fault_values")
        top = 1 << self.width
        if not 0 <= self.fault_bits < top or any(not 0 <= v < top for v in self.fault_values):
            raise ValueError(f"status_register: fault bits/values must fit {self.width} bits")

    @property
    def registers(self) -> int:
        return self.width // 16

    def fault(self, word: int) -> str | None:
        """Why ``word`` means the gauge is broken, or None."""
        if word & self.fault_bits:
            return (f"status register {self.register} = {word:#06x}"
                    f" (fault bits {word & self.fault_bits:#06x})")
        if word in self.fault_values:
            return f"status register {self.register} = {word:#06x} (a fault value)"
        return None


@dataclass(frozen=True)
class RegisterMap:
    """Where and how a gauge model keeps its cumulative counter."""

    function: str = "holding"   # "holding" (FC03) or "input" (FC04)
    register: int = 0           # the 0-based wire address
    width: int = 16             # 16 or 32 bits
    word_order: str = "big"     # 32-bit: "big" = high word first, "little" = low word first
    scale_mm: float = 0.1       # mm per count
    rollover: int | None = None  # counts at which the counter restarts at 0 (None: 2**width)
    error_values: frozenset[int] = field(default_factory=frozenset)  # raw, unsigned
    status: StatusRegister | None = None

    def __post_init__(self) -> None:
        _check_address("", self.function, self.register, self.width)
        if self.word_order not in ("big", "little"):
            raise ValueError(f"word_order must be big or little, got {self.word_order!r}")
        if self.scale_mm <= 0:
            raise ValueError(f"scale_mm must be > 0, got {self.scale_mm}")
        if self.rollover is not None and not 2 <= self.rollover <= 1 << self.width:
            raise ValueError(f"rollover: must be 2..{1 << self.width}, got {self.rollover}")
        if any(not 0 <= v < 1 << self.width for v in self.error_values):
            raise ValueError(f"error_values: must fit {self.width} bits (unsigned)")

    @property
    def registers(self) -> int:
        return self.width // 16

    @property
    def modulus(self) -> int:
        return self.rollover if self.rollover is not None else 1 << self.width

    def decode(self, words: list[int]) -> int:
        return decode_words(words, self.width, self.word_order)

    def counter_fault(self, raw: int) -> str | None:
        """Why a counter value cannot be a reading (an error value, out of range), or None."""
        if raw in self.error_values:
            signed = raw - (1 << self.width) if raw >> (self.width - 1) else raw
            return f"error value {raw:#x} ({signed}) in the counter"
        if raw >= self.modulus:
            return f"counter {raw} beyond its rollover at {self.modulus}"
        return None


def unsigned(value: int, width: int) -> int:
    """A configured error value (e.g. -9999999) as the raw word(s) the gauge sends."""
    if not -(1 << (width - 1)) <= value < 1 << width:
        raise ValueError(f"{value} does not fit {width} bits")
    return value % (1 << width)
