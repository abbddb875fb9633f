"""The wiring table: BCM numbers on the right header pins, and the README's copy for the
example config equal to what ``station-edge wiring --markdown`` prints."""

from __future__ import annotations

import pytest

from edge.cli import main
from edge.config import load
from edge.wiring import GROUND_PINS, HEADER_PIN, markdown_table, wired_pins
from tests.helpers import REPO

EXAMPLE = REPO / "docs" / "config.example.toml"
POWER_PINS = (1, 2, 4, 17)


def test_every_bcm_pin_has_its_own_header_pin_which_is_no_power_or_ground_pin() -> None:
    assert sorted(HEADER_PIN) == list(range(28))
    assert len(set(HEADER_PIN.values())) == 28
    assert not set(HEADER_PIN.values()) & {*GROUND_PINS, *POWER_PINS}
    assert HEADER_PIN[17] == 11 and HEADER_PIN[16] == 36 and HEADER_PIN[2] == 3


def test_the_readme_has_the_example_configs_wiring_table() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert markdown_table(load(EXAMPLE)) in readme


def test_relays_get_channels_and_inputs_are_active_low(capsys: pytest.CaptureFixture[str]) -> None:
    pins = wired_pins(load(EXAMPLE))
    relays = [p for p in pins if p.relay_channel]
    assert [p.relay_channel for p in relays] == list(range(1, len(relays) + 1))
    assert {p.device_id for p in relays} == {"amplifier.power", "amplifier.zone-24",
                                             "amplifier.zone-25", "siren-1"}
    assert all(p.active.startswith("low") for p in pins if p.direction == "input")
    assert main(["wiring", "--config", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert "17   11          EVACUATE button" in out
    assert "/dev/station-rs485" in out and "/dev/station-satphone" in out
