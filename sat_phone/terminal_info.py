"""What a technician asks a satellite terminal when it is first connected, and the
answers in words (27.007 / 27.005 commands; the Iridium personality's own signal query).

Plain data and functions: whoever holds the AT channel sends each query and hands the
answer lines here. ``station-edge modem info`` uses them on a channel of its own when the
daemon is stopped, and through the daemon's API when it runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sat_phone.modem import CMS_REASONS, csq_bars, parse_ints

REGISTRATION = {0: "not registered, not searching", 1: "registered (home)",
                2: "not registered, searching", 3: "registration denied", 4: "unknown",
                5: "registered (roaming)"}
CME_REASONS = {3: "operation not allowed", 4: "operation not supported",
               10: "SIM not inserted", 11: "SIM PIN required", 12: "SIM PUK required",
               13: "SIM failure", 14: "SIM busy", 15: "SIM wrong", 16: "incorrect password",
               30: "no network service", 31: "network timeout", 100: "unknown"}


@dataclass(frozen=True)
class InfoQuery:
    label: str
    command: str
    prefix: str | None  # None: the answer is bare lines (AT+CGSN)
    describe: Callable[[list[str]], str]
    timeout_s: float = 20.0


def _first(values: list[str]) -> str:
    return values[0].strip().strip('"') if values else "(no answer line)"


def describe_registration(values: list[str]) -> str:
    numbers = parse_ints(values[0]) if values else []
    if not numbers:
        return "(no answer line)"
    stat = numbers[1] if len(numbers) >= 2 else numbers[0]
    return f"{REGISTRATION.get(stat, 'unknown')} (+CREG stat {stat})"


def describe_csq(values: list[str]) -> str:
    numbers = parse_ints(values[0]) if values else []
    if not numbers:
        return "(no answer line)"
    rssi = numbers[0]
    bars = csq_bars(rssi)
    if bars is None:
        return f"not known (rssi {rssi})"
    return f"{bars}/5 bars (rssi {rssi}, {-113 + 2 * rssi} dBm)"


def describe_bars(values: list[str]) -> str:
    numbers = parse_ints(values[0]) if values else []
    return f"{numbers[0]}/5 bars" if numbers else "(no answer line)"


def describe_smsc(values: list[str]) -> str:
    if not values:
        return "(no answer line)"
    number = values[0].split(",")[0].strip().strip('"')
    return number or "not set (SMS cannot be sent: AT+CSCA=\"+…\")"


def describe_storage(values: list[str]) -> str:
    if not values:
        return "(no answer line)"
    fields = [f.strip().strip('"') for f in values[0].split(",")]
    if len(fields) >= 3 and fields[1].isdecimal() and fields[2].isdecimal():
        return f"{fields[0]}: {fields[1]} of {fields[2]} messages stored"
    return values[0]


def info_queries(personality: str) -> list[InfoQuery]:
    """In the order they are asked; on Iridium ``+CSQ`` blocks for seconds, so the
    instant ``+CSQF`` is asked instead."""
    signal = (InfoQuery("signal", "AT+CSQF", "+CSQF:", describe_bars) if personality == "iridium"
              else InfoQuery("signal", "AT+CSQ", "+CSQ:", describe_csq, timeout_s=60.0))
    return [
        InfoQuery("manufacturer", "AT+CGMI", None, _first),
        InfoQuery("model", "AT+CGMM", None, _first),
        InfoQuery("firmware", "AT+CGMR", None, _first),
        InfoQuery("IMEI", "AT+CGSN", None, _first),
        InfoQuery("SIM (IMSI)", "AT+CIMI", None, _first),
        InfoQuery("registration", "AT+CREG?", "+CREG:", describe_registration),
        signal,
        InfoQuery("SMS centre", "AT+CSCA?", "+CSCA:", describe_smsc),
        InfoQuery("SMS storage", "AT+CPMS?", "+CPMS:", describe_storage),
    ]


def describe_error(final: str) -> str:
    """``+CME ERROR: 10`` → ``+CME ERROR: 10 (SIM not inserted)``."""
    kind, _, code = final.partition(":")
    code = code.strip()
    if not code.isdecimal():
        return final
    reasons = CME_REASONS if kind.strip() == "+CME ERROR" else CMS_REASONS
    reason = reasons.get(int(code))
    return f"{final} ({reason})" if reason else final
