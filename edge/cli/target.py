"""Where a bring-up command goes: the devices themselves, or the running daemon's API.

A command first takes the station lock (:mod:`edge.station_lock`). If it gets it, the
daemon is not running and the command opens the devices itself, from the same config
and with the same drivers the daemon uses, holding the lock until it is done so the
daemon cannot start under it. If the daemon holds the lock, the command asks the
daemon's API to do the same thing, with the daemon's local token (readable by root and
the daemon's user) or ``--token``/``STATION_EDGE_TOKEN``. If another command holds it,
the command stops and says which.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge.cli.console import CommandFailed, Console
from edge.config import DEFAULT_PATH, Config, ConfigError, load
from edge.station_lock import Holder, StationBusy, StationLock

API_WAIT_S = 15.0
TOKEN_ENV = "STATION_EDGE_TOKEN"


def add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, default=DEFAULT_PATH,
                        help=f"the station's config (default {DEFAULT_PATH})")


def add_token_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--token", default=None,
                        help=f"token for the daemon's API (default: ${TOKEN_ENV}, or the "
                             "daemon's local token, readable by root and its user)")


def load_config(path: Path, console: Console, *, announce: bool = True) -> Config:
    try:
        config = load(path)
    except ConfigError as exc:
        raise CommandFailed(f"{path} does not validate (station-edge check-config {path}):\n"
                            + "\n".join(f"  {p}" for p in exc.problems)) from None
    if announce:
        console.step(f"config {path}: station {config.station.id} {config.station.name}")
    return config


def command_line() -> str:
    return "station-edge " + shlex.join(sys.argv[1:]) if sys.argv[1:] else "station-edge"


@dataclass
class Direct:
    """The daemon is not running: this command holds the station's devices."""

    config: Config


class DaemonApi:
    """The running daemon, reached over its HTTP API (the standard library's HTTP client:
    the appliance needs no HTTP client library for this)."""

    def __init__(self, config: Config, holder: Holder, token: str, console: Console) -> None:
        self.config = config
        self.holder = holder
        self.console = console
        host, _, port = (holder.listen or config.api.listen).rpartition(":")
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "[::]": "::1"}.get(host, host).strip("[]")
        self.base_url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
        self._token = token

    def close(self) -> None:
        """Nothing is kept open between requests."""

    def wait_until_answering(self) -> None:
        """The daemon may still be starting: wait for its API (progress each second)."""
        with self.console.progress(f"waiting for the daemon's API at {self.base_url}") as p:
            while True:
                try:
                    self._send("GET", "/api/v1/health", None, timeout=2.0)
                    return
                except OSError as exc:
                    if p.elapsed_s > API_WAIT_S:
                        raise CommandFailed(
                            f"{self.holder} holds the station but its API does not answer at "
                            f"{self.base_url}: {exc}") from None
                time.sleep(0.2)
                p.tick()

    def _send(self, method: str, path: str, body: Any, timeout: float = 30.0,
              params: dict[str, Any] | None = None) -> tuple[int, bytes]:
        import urllib.error
        import urllib.parse
        import urllib.request

        url = self.base_url + path + (f"?{urllib.parse.urlencode(params)}" if params else "")
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method, headers={
            "Authorization": f"Bearer {self._token}", "Accept": "application/json",
            **({"Content-Type": "application/json"} if data is not None else {})})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as reply:
                return reply.status, reply.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def request(self, method: str, path: str, body: Any = None,
                params: dict[str, Any] | None = None) -> Any:
        """The JSON answer; a refusal or an unreachable daemon is a :class:`CommandFailed`."""
        try:
            status, raw = self._send(method, path, body, params=params)
        except OSError as exc:
            raise CommandFailed(f"the daemon's API at {self.base_url} failed: {exc}") from None
        if status == 401:
            raise CommandFailed("the daemon refused the token (401): pass an admin token with "
                                f"--token or ${TOKEN_ENV}, or run as root or the daemon's user")
        if status == 403:
            raise CommandFailed(f"the token's role may not do this (403): "
                                f"{_detail(raw)}; it needs an admin token")
        if status >= 400:
            raise CommandFailed(f"the daemon answered {status}: {_detail(raw)}")
        return json.loads(raw)

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: Any = None) -> Any:
        return self.request("POST", path, body)


def _detail(raw: bytes) -> str:
    try:
        detail = json.loads(raw).get("detail")
    except (ValueError, AttributeError):
        return raw[:200].decode(errors="replace")
    return detail if isinstance(detail, str) else str(detail)


def daemon_token(config: Config, token: str | None) -> str:
    from edge.auth import LOCAL_CLI_TOKEN_FILE, read_local_cli_token

    token = token or os.environ.get(TOKEN_ENV)
    if token:
        return token
    try:
        return read_local_cli_token(config.station.data_dir)
    except OSError as exc:
        where = config.station.data_dir / LOCAL_CLI_TOKEN_FILE
        raise CommandFailed(f"the daemon is running, and its local token {where} cannot be "
                            f"read ({exc.strerror}): run with sudo, or pass an admin token "
                            f"with --token or ${TOKEN_ENV}") from None


@contextmanager
def station_target(args: argparse.Namespace, console: Console) -> Iterator[Direct | DaemonApi]:
    """The config, then either the devices (lock held) or the running daemon's API."""
    config = load_config(args.config, console)
    lock = StationLock(config.station.data_dir, Holder(os.getpid(), command_line()))
    try:
        lock.acquire()
    except PermissionError as exc:
        raise CommandFailed(f"cannot use {config.station.data_dir} ({exc.strerror}): run with "
                            "sudo, or as the daemon's user: sudo -u station-edge …") from None
    except StationBusy as busy:
        holder = busy.holder
        if holder is None or not holder.is_daemon:
            raise CommandFailed(f"{busy}; wait until it has finished") from None
        console.step(f"daemon running (pid {holder.pid}): going through its API")
        api = DaemonApi(config, holder, daemon_token(config, getattr(args, "token", None)),
                        console)
        try:
            api.wait_until_answering()
            yield api
        finally:
            api.close()
        return
    console.step("daemon not running: using the devices directly "
                 f"(the daemon cannot start until this command ends; lock {lock.path})")
    try:
        yield Direct(config)
    finally:
        lock.release()
