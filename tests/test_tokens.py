"""Tokens as a technician handles them: config tokens and the data_dir token file are both
honoured, the file is re-read when it changes, and a station with no operator or admin
token makes the missing ones at its first start."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from edge.auth import StoredToken, TokenBook, TokenFile, make_missing_tokens, sha256_hex
from edge.cli import main
from tests.helpers import StationRun, sim_config

REAL = '''
[station]
id = "SG-001"
name = "沙沟镇应急管理站"
data_dir = "{data_dir}"
'''


def real_config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "config.toml"
    path.write_text(REAL.format(data_dir=tmp_path / "data") + extra, encoding="utf-8")
    return path


def test_the_token_file_is_re_read_when_it_changes(tmp_path: Path) -> None:
    file = TokenFile(tmp_path)
    book = TokenBook([StoredToken("county", "viewer", sha256_hex("county-secret"))], file)
    assert book.identify("county-secret").name == "county"  # type: ignore[union-attr]
    secret = file.add("duty-pc", "operator")
    assert book.identify(secret) == book.identify(secret) is not None
    assert book.identify(secret).role == "operator"  # type: ignore[union-attr]
    file.revoke("duty-pc")
    assert book.identify(secret) is None
    assert book.identify("county-secret") is not None, "config tokens stay"


def test_an_unreadable_token_file_fails_closed(tmp_path: Path,
                                               caplog: pytest.LogCaptureFixture) -> None:
    file = TokenFile(tmp_path)
    secret = file.add("duty-pc", "admin")
    book = TokenBook([], file)
    assert book.identify(secret) is not None
    file.path.write_text("{not json")
    with caplog.at_level(logging.ERROR):
        assert book.identify(secret) is None
    assert "its tokens are not accepted until it is fixed" in caplog.text


def test_only_the_missing_roles_are_made_and_only_without_an_operator(tmp_path: Path) -> None:
    county = StoredToken("county", "viewer", sha256_hex("x" * 32))
    made = make_missing_tokens(TokenFile(tmp_path / "a"), [county])
    assert set(made) == {"operator", "admin"}
    file = TokenFile(tmp_path / "b")
    file.add("duty-pc", "operator")
    assert make_missing_tokens(file, []) == {}


async def test_a_first_start_with_only_a_county_viewer_token_makes_operator_and_admin(
        tmp_path: Path) -> None:
    config = sim_config(tmp_path)
    county = config.api.tokens[0].model_copy(update={"name": "county",
                                                       "sha256": sha256_hex("y" * 32)})
    real = config.model_copy(update={"sim": None,
                                     "api": config.api.model_copy(update={"tokens": [county]})})
    async with StationRun(real) as run:
        generated = run.station.generated_tokens
        assert set(generated) == {"operator", "admin"}
        assert run.station.tokens.identify(generated["admin"]).role == "admin"  # type: ignore[union-attr]
        assert run.station.tokens.identify("y" * 32).name == "county"  # type: ignore[union-attr]
    async with StationRun(real) as again:
        assert again.station.generated_tokens == {}, "made once"


def test_token_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = real_config(tmp_path, '[[api.tokens]]\nname = "county"\nrole = "viewer"\n'
                                   f'sha256 = "{sha256_hex("z" * 32)}"\n')
    assert main(["token", "add", "zhang-san", "--role", "admin", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "secret (shown only now" in out
    assert main(["token", "add", "county", "--role", "admin", "--config", str(config)]) == 1
    assert "a token named 'county' exists already" in capsys.readouterr().err
    assert main(["token", "add", "bad name", "--role", "admin", "--config", str(config)]) == 1
    assert "a token name is 1-40 letters" in capsys.readouterr().err
    assert main(["token", "list", "--config", str(config)]) == 0
    listing = capsys.readouterr().out
    assert "county" in listing and "zhang-san" in listing
    assert main(["token", "revoke", "nobody", "--config", str(config)]) == 1
    assert "no token named 'nobody'" in capsys.readouterr().err
    assert main(["token", "revoke", "zhang-san", "--config", str(config)]) == 0
    assert "no operator or admin token is left: the next start" in capsys.readouterr().err
