"""A stand-in for the ``lgpio`` binding, for the install test only: this machine has no
GPIO chip (no /dev/gpiochip*), so the installed daemon talks to this instead, through
gpiozero's real LGPIOFactory. It keeps each line's mode and level in memory; inputs
read high (the pull-up) and never change, so no edge is ever reported.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

SET_ACTIVE_LOW = 4
SET_OPEN_DRAIN = 8
SET_OPEN_SOURCE = 16
SET_PULL_UP = SET_BIAS_PULL_UP = 32
SET_PULL_DOWN = SET_BIAS_PULL_DOWN = 64
SET_PULL_NONE = SET_BIAS_DISABLE = 128
RISING_EDGE, FALLING_EDGE, BOTH_EDGES = 1, 2, 3
_IS_OUT = 1 << 1

_lines: dict[int, dict[str, int]] = {}


class error(Exception):
    pass


def gpiochip_open(chip: int) -> int:
    return 100 + chip


def gpiochip_close(handle: int) -> int:
    return 0


def _line(gpio: int) -> dict[str, int]:
    return _lines.setdefault(gpio, {"mode": 0, "level": 1, "flags": SET_PULL_NONE})


def gpio_claim_input(handle: int, gpio: int, flags: int = 0) -> int:
    line = _line(gpio)
    line.update(mode=flags, flags=flags, level=0 if flags & SET_PULL_DOWN else 1)
    return 0


def gpio_claim_output(handle: int, gpio: int, flags: int = 0, level: int = 0) -> int:
    _line(gpio).update(mode=_IS_OUT | flags, level=level)
    return 0


def gpio_claim_alert(handle: int, gpio: int, eFlags: int, lFlags: int = 0,
                     notify_handle: Any = None) -> int:
    _line(gpio)["mode"] = lFlags
    return 0


def gpio_free(handle: int, gpio: int) -> int:
    _lines.pop(gpio, None)
    return 0


def gpio_get_mode(handle: int, gpio: int) -> int:
    return _line(gpio)["mode"]


def gpio_read(handle: int, gpio: int) -> int:
    return _line(gpio)["level"]


def gpio_write(handle: int, gpio: int, level: int) -> int:
    _line(gpio)["level"] = int(bool(level))
    return 0


def gpio_set_debounce_micros(handle: int, gpio: int, debounce_micros: int) -> int:
    return 0


def tx_pwm(handle: int, gpio: int, frequency: float, duty: float, *args: Any) -> int:
    raise error("no PWM here")


class _Callback:
    def cancel(self) -> None:
        pass


def callback(handle: int, gpio: int, edge: int = RISING_EDGE,
             func: Callable[..., None] | None = None) -> _Callback:
    return _Callback()
