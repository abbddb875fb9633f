"""``kill -9`` in the middle of writes never leaves a gap, nor loses an acknowledged event."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.helpers import REPO

ROUNDS = 12


def test_no_gap_and_no_lost_acknowledged_event_after_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    rng = random.Random(20261123)
    for _ in range(ROUNDS):
        child = subprocess.Popen(
            [sys.executable, str(REPO / "tests" / "journal_writer_child.py"), str(path)],
            stdout=subprocess.PIPE, cwd=REPO,
        )
        assert child.stdout is not None
        first = child.stdout.readline().decode()
        assert first.strip().isdigit()
        time.sleep(rng.uniform(0.0, 0.15))
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        acknowledged = [int(x) for x in (first + child.stdout.read().decode()).split()]
        child.stdout.close()
        conn = sqlite3.connect(path)
        try:
            assert conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"
            seqs = [row[0] for row in conn.execute("SELECT seq FROM events ORDER BY seq")]
        finally:
            conn.close()
        assert seqs == list(range(1, len(seqs) + 1)), "a gap in the journal"
        assert max(acknowledged) <= seqs[-1], "an acknowledged event was lost"
