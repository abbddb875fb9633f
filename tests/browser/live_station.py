"""A whole station in this process, served over real HTTP, for a browser in this process.

Playwright's sync API runs in the test's thread, so the station runs on its own event
loop in a second thread: the real daemon's server (uvicorn on 127.0.0.1, a free port)
around a real :class:`~edge.station.Station` on simulated hardware (mock GPIO, file
audio). The test reaches into the station with :meth:`LiveStation.call`, which runs a
function or coroutine on the station's loop and returns its result. Cheaper than a
station process by a few seconds and an interpreter; a test that needs a process
(kill -9, a restart) uses the ``sim_station`` fixture instead.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from drivers.clock import Clock, SystemClock
from edge.config import Config
from edge.daemon import bind, build_server
from edge.station import Station

T = TypeVar("T")
START_TIMEOUT_S = 60.0


class LiveStation:
    def __init__(self, config: Config, clock: Clock | None = None) -> None:
        self.config = config
        self.clock = clock or SystemClock()
        self.station: Station
        self.loop = asyncio.new_event_loop()
        self._ready = concurrent.futures.Future[str]()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="live-station", daemon=True)

    def __enter__(self) -> LiveStation:
        self._thread.start()
        self.base_url = self._ready.result(timeout=START_TIMEOUT_S)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=60)
        assert not self._thread.is_alive(), "the station did not stop"

    def call(self, work: Callable[[], T | Coroutine[Any, Any, T]], timeout: float = 30) -> T:
        """Run ``work()`` on the station's loop (awaited if it is a coroutine)."""
        async def run() -> T:
            result = work()
            if asyncio.iscoroutine(result):
                return await result  # type: ignore[no-any-return]
            return result  # type: ignore[return-value]

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout)

    def _run(self) -> None:
        try:
            self.loop.run_until_complete(self._serve())
        except BaseException as exc:  # told to the test waiting in __enter__
            if not self._ready.done():
                self._ready.set_exception(exc)
            raise
        finally:
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        self.station = Station(self.config, self.clock)
        await self.station.start()
        sock = bind("127.0.0.1:0")
        server = build_server(self.station)
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            while not server.started:  # uvicorn has no event to await
                if serving.done():
                    serving.result()
                await asyncio.sleep(0.02)
            port = sock.getsockname()[1]
            self._ready.set_result(f"http://127.0.0.1:{port}")
            await self._stop.wait()
        finally:
            self.station.request_stop("test over")  # ends the panels' streams
            server.should_exit = True
            await serving
            sock.close()
            await self.station.stop()
