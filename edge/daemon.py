"""Run a station: start it, serve its API with uvicorn, stop it safely on a signal.

systemd hears ``READY=1`` only once the API listens and answers (``Type=notify``): a
station that cannot bind its port says why in one line on stderr and exits non-zero
without ever having been reported ready.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import TextIO

import uvicorn

from drivers.clock import Clock
from edge.api.app import create_app
from edge.config import Config
from edge.last_good_config import save_last_good
from edge.station import GpioUnavailable, Station
from edge.station_lock import StationBusy
from edge.systemd_notify import notify

log = logging.getLogger(__name__)


#: How often the server's housekeeping runs (the ``Date`` header has one-second resolution).
SERVER_TICK_S = 1.0


class StationServer(uvicorn.Server):
    """uvicorn without its own signal handling (the station owns SIGTERM/SIGINT), and
    without its ten wake-ups a second: uvicorn polls ``should_exit`` every 0.1 s, the
    largest share of an idle station's CPU after the gauge polls. Here the housekeeping
    runs once a second and a request to exit wakes the loop at once."""

    def __init__(self, config: uvicorn.Config) -> None:
        self._exit_requested = asyncio.Event()
        super().__init__(config)

    @property
    def should_exit(self) -> bool:
        return self._exit_requested.is_set()

    @should_exit.setter
    def should_exit(self, value: bool) -> None:
        if value:
            self._exit_requested.set()
        else:
            self._exit_requested.clear()

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def main_loop(self) -> None:
        # uvicorn's on_tick does its once-a-second work when the counter is a multiple of 10.
        while not await self.on_tick(0):
            with suppress(TimeoutError):
                await asyncio.wait_for(self._exit_requested.wait(), SERVER_TICK_S)


def build_server(station: Station) -> StationServer:
    """uvicorn for the station's API. Proxy headers are read only from the proxies that
    ``[api] trusted_proxies`` names: uvicorn's default trusts them from loopback, so any
    local process could claim to be the county (and lock it out, or escape a lockout)."""
    proxies = list(station.config.api.trusted_proxies)
    config = uvicorn.Config(
        create_app(station), log_level="warning", lifespan="off", access_log=False,
        server_header=False, proxy_headers=bool(proxies), forwarded_allow_ips=proxies,
    )
    return StationServer(config)


def bind(listen: str) -> socket.socket:
    """The API's listening socket, bound here so a busy port is an error we report."""
    host, _, port = listen.rpartition(":")
    host = host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, int(port)))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _keep_last_good(config: Config) -> None:
    """A copy of what runs, for ``safe-off`` when the config file no longer parses."""
    try:
        save_last_good(config)
    except OSError as exc:
        log.error("cannot keep a copy of the configuration in %s for safe-off: %s",
                  config.station.data_dir, exc)


async def serve(
    config: Config,
    clock: Clock,
    *,
    banner: Callable[[Station], str] | None = None,
    out: TextIO = sys.stdout,
) -> int:
    """Run until SIGTERM/SIGINT; returns the process exit code."""
    station = Station(config, clock)
    try:
        await station.start()
    except StationBusy as exc:
        print(f"not started: {exc}; stop it first", file=sys.stderr)
        return 1
    except GpioUnavailable as exc:
        print(f"not started: {exc}", file=sys.stderr)
        return 1
    station.install_signal_handlers()
    try:
        sock = bind(config.api.listen)
    except OSError as exc:
        print(f"not started: the API cannot listen on {config.api.listen}: "
              f"{exc.strerror or exc}", file=sys.stderr, flush=True)
        station.journal.record("fault.api_listen", "api", "system", listen=config.api.listen,
                               error=str(exc))
        station.request_stop("API cannot listen")
        await station.stop()
        return 1
    server = build_server(station)
    server_task = asyncio.create_task(server.serve(sockets=[sock]), name="api-server")
    while not server.started and not server_task.done():  # noqa: ASYNC110 (uvicorn has no event)
        await asyncio.sleep(0.02)
    code = 0
    if server_task.done():
        code = 1
    else:
        station.journal.record("api.listening", "api", "system", listen=config.api.listen)
        print(f"StationEdge {station.version} ready: http://{config.api.listen}/", file=out)
        if station.generated_tokens:
            print("API tokens (shown once; only their SHA-256 is stored):", file=out)
            for role, token in station.generated_tokens.items():
                print(f"  {role:9} {token}", file=out)
        if banner is not None:
            print(banner(station), file=out)
        out.flush()
        notify("READY=1")  # the API answers and the tokens are printed: started
        _keep_last_good(config)
        stop_waiter = asyncio.create_task(station.wait_stopped())
        await asyncio.wait({stop_waiter, server_task}, return_when=asyncio.FIRST_COMPLETED)
        stop_waiter.cancel()
    server.should_exit = True
    try:
        await server_task
    except (Exception, SystemExit):
        code = 1
    finally:
        sock.close()
    await station.stop()
    return code
