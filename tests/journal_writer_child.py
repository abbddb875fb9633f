"""A child process that journals as fast as it can and reports each durable seq.

Run by test_journal_crash: the parent kills it with SIGKILL at a random moment.
"""

import asyncio
import sys
from pathlib import Path

from drivers.clock import SystemClock
from edge.journal import Journal


async def main(path: Path) -> None:
    journal = Journal(path, SystemClock())
    journal.open()
    while True:
        seqs = [journal.record("crash.test", "child", n=i) for i in range(25)]
        await journal.durable(seqs[-1])
        sys.stdout.write(f"{seqs[-1]}\n")
        sys.stdout.flush()


asyncio.run(main(Path(sys.argv[1])))
