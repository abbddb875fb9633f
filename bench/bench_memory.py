"""Resident memory by section: what importing each part of the station costs on its own.

Run: ``python bench/bench_memory.py``. Each section is imported in a fresh interpreter
after the standard library a station always has (asyncio, json, sqlite3, logging, ssl,
socket); the figure is the RSS it adds and the modules it loads. Sections share libraries
(numpy, FastAPI), so the figures do not add up to a station's RSS: they say what a
station that needs only that section pays for it. Figures only.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

SECTIONS = [
    ("numpy (audio, and sqlite-utils imports it)", "numpy"),
    ("sqlite-utils (journal, stores)", "sqlite_utils"),
    ("FastAPI + pydantic", "fastapi"),
    ("uvicorn", "uvicorn"),
    ("prometheus_client", "prometheus_client"),
    ("gpiozero", "gpiozero"),
    ("pymodbus client", "pymodbus.client"),
    ("sounddevice / PortAudio", "sounddevice"),
    ("lxml", "lxml.etree"),
    ("signxml + cryptography", "signxml"),
    ("CAP 1.2 (parse, schema, signature)", "broadcast.cap"),
    ("TTS", "broadcast.tts"),
    ("broadcast programs", "broadcast.program"),
    ("satellite phone (edge.satphone)", "edge.satphone.phone"),
    ("rain (edge.rain)", "edge.rain"),
    ("the journal", "edge.journal"),
    ("the station core (edge.station)", "edge.station"),
    ("the API (edge.api.app)", "edge.api.app"),
    ("the daemon (edge.daemon: core + API)", "edge.daemon"),
]

PROBE = """
import asyncio, json, logging, socket, sqlite3, ssl, sys, importlib
def rss():
    for line in open('/proc/self/status'):
        if line.startswith('VmRSS:'):
            return int(line.split()[1])
before, modules = rss(), len(sys.modules)
importlib.import_module(sys.argv[1])
print(rss() - before, len(sys.modules) - modules)
"""


def main() -> None:
    print(f"{'section':44} {'RSS':>9} {'modules':>8}")
    for label, module in SECTIONS:
        done = subprocess.run([sys.executable, "-c", PROBE, module], cwd=REPO,
                              capture_output=True, text=True)
        if done.returncode != 0:
            print(f"{label:44} {'not installed' if 'ModuleNotFound' in done.stderr else 'fails'}")
            continue
        kib, count = (int(v) for v in done.stdout.split())
        print(f"{label:44} {kib / 1024:6.1f} MiB {count:8d}", flush=True)


if __name__ == "__main__":
    main()
