"""What the simulators share as processes: when to stop, and a JSON-lines control port.

A simulator runs until SIGTERM/SIGINT, or until its stdin reaches end of file when stdin
is a pipe (the parent that started it died or let go). Its control channel is TCP on
127.0.0.1: one JSON object per line in, one per line out.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import stat
import sys
from collections.abc import Awaitable, Callable
from typing import Any

JsonHandler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


async def stop_event() -> tuple[asyncio.Event, asyncio.Task[None] | None]:
    """An event set by SIGTERM, SIGINT or the end of a stdin pipe, and the task that
    reads that pipe (None when stdin is not one); cancel it when done."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    if not stat.S_ISFIFO(os.fstat(sys.stdin.fileno()).st_mode):
        return stop, None
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)

    async def until_eof() -> None:
        while await stdin.read(4096):
            pass
        stop.set()

    return stop, asyncio.create_task(until_eof())


async def serve_json_lines(handle: JsonHandler, port: int = 0) -> asyncio.Server:
    """The control channel on 127.0.0.1:``port`` (0: any free port). A request that cannot
    be read or carried out is answered ``{"ok": false, "error": …}``."""

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                try:
                    reply = await handle(json.loads(line))
                except (ValueError, KeyError, TypeError) as exc:
                    reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
                writer.write(json.dumps(reply, ensure_ascii=False).encode() + b"\n")
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    return await asyncio.start_server(client, "127.0.0.1", port)
