"""Config problems a technician can act on: the closest known key, the wrong type named,
a TOML syntax error shown with its line and a caret, and no placeholder token."""

from __future__ import annotations

import tomllib

import pytest

from edge.auth import placeholder_hash, sha256_hex
from edge.config import Config, ConfigError, parse
from edge.config_errors import model_at
from tests.helpers import REPO

MINIMAL = '[station]\nid = "SG-001"\nname = "沙沟镇应急管理站"\ndata_dir = "/tmp/x"\n'
EXAMPLE = REPO / "docs" / "config.example.toml"


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse(text)
    return caught.value.problems


@pytest.mark.parametrize(("snippet", "expected"), [
    ('[[siren]]\nid = "s"\nrelay = 16\n',
     "siren: unknown table [[siren]]; did you mean [[sirens]]?"),
    ("[amplfier]\npower_relay = 23\n",
     "amplfier: unknown table [amplfier]; did you mean [amplifier]?"),
    ('[modbus.buses.rs485]\nport = "/dev/x"\nbaud = 9600\n',
     'modbus.buses.rs485.baud: unknown key "baud"; did you mean "baudrate"?'),
    ('[modbus.buses.rs485]\nport = "/dev/x"\n[[rain_gauges]]\nid = "g"\nbus = "rs485"\n'
     'unit = 1\nregistr = 3\n',
     'rain_gauges[0].registr: unknown key "registr"; did you mean "register"?'),
    ("[panel]\nzzz = 1\n", 'panel.zzz: unknown key "zzz"; known here: evacuate_button, '),
])
def test_an_unknown_key_or_table_names_the_closest_known_one(snippet: str,
                                                            expected: str) -> None:
    found = problems(MINIMAL + snippet)
    assert any(p.startswith(expected) for p in found), found


@pytest.mark.parametrize(("snippet", "expected"), [
    ('[modbus.buses.rs485]\nport = "/dev/x"\nbaudrate = "9600"\n',
     'modbus.buses.rs485.baudrate: expected an integer, got the string "9600" (one of 1200'),
    ('[amplifier]\npower_relay = "23"\nzones = { all = [24] }\n',
     'amplifier.power_relay: expected an integer, got the string "23"'),
    ('[api]\ndocs = "yes"\n', 'api.docs: expected true or false, got the string "yes"'),
    ("[panel]\nfault_led = 1.5\n", "panel.fault_led: expected an integer, got the number 1.5"),
    ('[audio]\nbackend = 3\n', "audio.backend: expected a string in quotes, got the integer 3"),
    ("[station]\nid = 7\n", "station.id: expected a string in quotes, got the integer 7"),
])
def test_a_value_of_the_wrong_type_is_refused_naming_both_types(snippet: str,
                                                                 expected: str) -> None:
    text = (snippet if snippet.startswith("[station]") else MINIMAL + snippet)
    found = problems(text + ('name = "n"\n' if snippet.startswith("[station]") else ""))
    assert any(p.startswith(expected) for p in found), found


def test_a_missing_quote_shows_the_line_and_a_caret_under_the_spot() -> None:
    text = MINIMAL + '[[sirens]]\nid = "siren-1\nname = "村委会警报器"\n'
    (problem,) = problems(text)
    head, line, caret = problem.splitlines()
    assert head.startswith("(toml):6:")
    assert "string is not closed" in head
    assert line == '    id = "siren-1'
    assert caret.index("^") == len(line), "the caret points at the end of the open string"


def test_the_caret_counts_chinese_characters_as_two_columns() -> None:
    text = '[station]\nname = "沙沟镇" x\n'
    (problem,) = problems(text)
    _, line, caret = problem.splitlines()
    assert line == '    name = "沙沟镇" x'
    assert caret == " " * (4 + len('name = "') + 6 + len('" ')) + "^"


def test_the_problem_names_the_file_it_is_in(tmp_path: object) -> None:
    from pathlib import Path

    from edge.config import load

    path = Path(str(tmp_path)) / "config.toml"
    path.write_text(MINIMAL + "[gpio\n")
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert caught.value.problems[0].startswith(f"{path}:5:")


@pytest.mark.parametrize("digest", [
    "0f3c6bd1d3c5f5a1c8f3e7a2b4d6e8f00112233445566778899aabbccddeeff0",  # the old example
    "0" * 64,
    sha256_hex("changeme"),
    sha256_hex(""),
])
def test_a_placeholder_hash_is_refused_with_how_to_make_a_token(digest: str) -> None:
    snippet = f'[[api.tokens]]\nname = "county"\nrole = "viewer"\nsha256 = "{digest}"\n'
    (problem,) = problems(MINIMAL + snippet)
    assert problem.startswith("api.tokens[0].sha256: ")
    assert "station-edge token add county --role viewer" in problem


def test_a_real_hash_is_not_a_placeholder() -> None:
    assert all(placeholder_hash(sha256_hex(f"secret-{i}")) is None for i in range(2000))


def test_the_key_path_walk_finds_nested_models() -> None:
    assert model_at(Config, ("modbus", "buses", "rs485")).__name__ == "ModbusBusConfig"
    assert model_at(Config, ("sat_phone", "callout", 0)).__name__ == "CalloutTierConfig"
    assert model_at(Config, ("rain_gauges", 1, "status_register")).__name__ == \
        "StatusRegisterConfig"
    assert model_at(Config, ("station", "id")) is None


def test_the_example_config_is_a_real_station() -> None:
    raw = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    config = parse(EXAMPLE.read_text(encoding="utf-8"))
    text = EXAMPLE.read_text(encoding="utf-8")
    missing = [name for name in Config.model_fields if name not in raw and name != "sim"]
    assert missing == ["sip"], "every section is in the example"
    assert "\n# [sip]\n" in text, "the optional SIP section is there, commented out"
    assert config.sim is None and config.api.tokens == []
    assert config.api.listen.startswith("0.0.0.0:") and config.api.allowed_hosts
    assert config.modbus.buses["rs485"].port == "/dev/station-rs485"
    assert config.sat_phone is not None and config.sat_phone.port == "/dev/station-satphone"
    assert config.sat_phone.callout and config.sat_phone.whitelist and config.sat_phone.pin
    assert config.panel.alarm_led is not None and config.panel.buzzer is not None
    udev = (REPO / "systemd" / "99-station-edge.rules").read_text()
    assert 'SYMLINK+="station-rs485"' in udev and 'SYMLINK+="station-satphone"' in udev


def test_every_section_of_the_example_is_commented_in_english_and_chinese() -> None:
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if line.startswith("[") and not line.startswith("[[api"):
            above = next(x for x in reversed(lines[:i]) if x.strip())
            assert "#" in line or above.startswith("#"), f"{line} has no comment"
    heads = [line for line in lines if line.startswith("# == ")]
    assert len(heads) >= 15
    for head in heads:
        assert any("\u4e00" <= c <= "\u9fff" for c in head), f"no Chinese term: {head}"
        assert any(c.isascii() and c.isalpha() for c in head), f"no English: {head}"


def test_the_examples_commented_sip_section_validates_once_uncommented() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    block = text[text.index("# [sip]"):text.index("# == The journal")]
    lines = [line[2:] if line.startswith("# ") else "" for line in block.splitlines()]
    config = parse(text + "\n" + "\n".join(lines))
    assert config.sip is not None and config.sip.wakeup[0].targets == ["+8613900000011",
                                                                       "+8613900000012"]
    assert config.sip.password is None and config.sip.password_ha1 is not None
