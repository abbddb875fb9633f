"""What a quiet station keeps in memory: heavy libraries only where they are used.

Issue 14 (memory): numpy (18 MiB), sqlite-utils (which imports numpy), lxml, signxml and
cryptography (CAP), PortAudio (sounddevice) are loaded when a station produces audio,
receives an alert or checks certificates, not because a module imported them at the
top. A fresh interpreter is the only honest place to ask: this process has them all.
No RSS figure is asserted here (bench/bench_idle.py and bench/bench_memory.py print them).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from drivers import sqlite_wal
from drivers.clock import ManualClock
from edge.journal import Journal

REPO = Path(__file__).resolve().parent.parent
HEAVY = ("numpy", "sqlite_utils", "lxml", "signxml", "cryptography", "sounddevice", "pjsua2")


def heavy_loaded_by(code: str) -> list[str]:
    """The heavy libraries in ``sys.modules`` after ``code`` ran in a fresh interpreter."""
    report = f"import sys\nprint(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", f"{code}\n{report}"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_the_daemon_and_every_part_it_can_wire_import_no_heavy_library() -> None:
    """The daemon, and each optional part's module (imported when configured), import
    nothing heavy at the top: a quiet station pays only for what it runs."""
    assert heavy_loaded_by(
        "import edge.daemon, edge.broadcasting, edge.self_test, edge.satphone.phone, "
        "edge.cap_intake, edge.sip.phone, edge.sim.station"
    ) == []


def test_a_station_whose_speech_is_made_starts_its_broadcasting_without_numpy(
        tmp_path: Path) -> None:
    """The message library vouches for cached speech by its WAV header, and the chime is
    made when first played: building the programme and preparing the messages of a
    station restarted with its speech made loads no numpy (and runs no synthesiser)."""
    code = f"""
import asyncio, wave
from pathlib import Path
from broadcast.library import MessageLibrary
from broadcast.program import Repertoire
from broadcast.tts import Speech

speech = Speech(Path({str(tmp_path / "tts")!r}), 16000, program="/nonexistent/espeak-ng")
library = MessageLibrary(Path({str(tmp_path / "library")!r}), speech)
speech.cache_dir.mkdir()
for message in library.list():
    with wave.open(str(speech.cache_path(message.text)), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(bytes(3200))
Repertoire(library, speech)
assert asyncio.run(library.prepare()) == {{}}
"""
    assert heavy_loaded_by(code) == []


def test_the_stores_bound_their_page_cache(tmp_path: Path) -> None:
    """A connection that lives as long as the daemon keeps at most CACHE_KIB of pages."""
    journal = Journal(tmp_path / "journal.db", ManualClock())
    journal.open()
    try:
        assert journal._conn is not None
        (cache_size,) = journal._conn.execute("PRAGMA cache_size").fetchone()
        assert cache_size == -sqlite_wal.CACHE_KIB
    finally:
        journal.close()
