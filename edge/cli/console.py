"""How every ``station-edge`` command talks to the technician.

One line per step as it happens, a progress line every second while something takes
longer than a second, and on failure the reason on stderr and a non-zero exit
(raise :class:`CommandFailed`; ``main`` prints it). Plain lines, no cursor tricks, so
the output reads the same on a serial console, over SSH and in a log.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import TextIO

PROGRESS_AFTER_S = 1.0
PROGRESS_EVERY_S = 1.0


class CommandFailed(Exception):
    """A command could not do its job; the message is the reason, for the technician."""

    def __init__(self, reason: str, code: int = 1) -> None:
        super().__init__(reason)
        self.code = code


class Progress:
    """A long step: :meth:`tick` often, a line comes out once a second after the first."""

    def __init__(self, console: Console, label: str) -> None:
        self._console = console
        self.label = label
        self.started = time.monotonic()
        self._next = self.started + PROGRESS_AFTER_S
        self.detail = ""

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self.started

    def tick(self, detail: str | None = None) -> None:
        if detail is not None:
            self.detail = detail
        now = time.monotonic()
        if now >= self._next:
            self._next = now + PROGRESS_EVERY_S
            extra = f": {self.detail}" if self.detail else ""
            self._console.line(f"  … {self.label}, {now - self.started:.0f} s{extra}")


class Console:
    def __init__(self, out: TextIO | None = None, err: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr

    def line(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def step(self, text: str) -> None:
        """A step that is starting or done: ``- opening rs485 (/dev/station-rs485)``."""
        self.line(f"- {text}")

    def detail(self, text: str) -> None:
        self.line(f"  {text}")

    def warn(self, text: str) -> None:
        print(f"warning: {text}", file=self.err, flush=True)

    @contextmanager
    def progress(self, label: str) -> Iterator[Progress]:
        yield Progress(self, label)

    @asynccontextmanager
    async def ticking(self, label: str) -> AsyncIterator[Progress]:
        """A progress line every second while the body awaits something long."""
        progress = Progress(self, label)

        async def tick() -> None:
            while True:
                await asyncio.sleep(0.2)
                progress.tick()

        task = asyncio.create_task(tick(), name=f"progress {label}")
        try:
            yield progress
        finally:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass


def table(rows: list[list[str]], header: list[str]) -> list[str]:
    """Rows as aligned text columns (Chinese characters count two columns)."""
    from edge.config_errors import display_width

    cells = [header, *rows]
    widths = [max(display_width(r[i]) for r in cells) for i in range(len(header))]

    def fmt(row: list[str]) -> str:
        padded = [c + " " * (w - display_width(c)) for c, w in zip(row, widths, strict=True)]
        return "  ".join(padded).rstrip()

    return [fmt(header), *(fmt(r) for r in rows)]
