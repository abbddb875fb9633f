"""CAP alerts for the tests, and a way to make a faulty variant of one.

The ``oasis_*`` files are the four example alerts of the OASIS CAP 1.2 specification
(Appendix A), element for element. The ``cn_*`` files were written for these tests after
GB/T 35965.1-2018 as :mod:`broadcast.cap_china` reads it; they are not taken from the
standard, whose full text was not at hand.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).parent
OASIS = ("oasis_a1_homeland_security.xml", "oasis_a2_thunderstorm.xml",
         "oasis_a3_earthquake_update.xml", "oasis_a4_amber_alert.xml")
CHINA = ("cn_rainstorm_red.xml", "cn_rainstorm_orange_update.xml", "cn_rainstorm_cancel.xml",
         "cn_system_heartbeat.xml", "cn_test_blue.xml", "cn_exercise_with_audio.xml")


def example(name: str) -> bytes:
    return (HERE / name).read_bytes()


def variant(name: str, *replacements: tuple[str, str]) -> bytes:
    """``name`` with each (old, new) replaced once; fails if ``old`` is not there."""
    text = example(name).decode()
    for old, new in replacements:
        assert old in text, f"{old!r} not in {name}"
        text = text.replace(old, new, 1)
    return text.encode()
