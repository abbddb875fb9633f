"""Resident memory by section: what importing each part of the station costs on its own.

Run: ``python bench/bench_memory.py``. Each section is imported in a fresh interpreter
after the standard library a station always has (asyncio, json, sqlite3, logging, ssl,
socket); the figure is the RSS it adds and the modules it loads. Sections share libraries
(FastAPI, pydantic), so the figures do not add up to a station's RSS: they say what a
station that needs only that section pays for it; a section marked "+" is measured on
top of the daemon (what configuring that part adds). Figures only.

What a running station holds beyond its imports (a SIP endpoint's pools and the pages of
PJSIP it touches, SQLite's caches, buffers) is not here: bench_idle.py measures daemons.
The sections marked "on use" are not imported at start: numpy when audio is made (the
first broadcast, speech not yet cached), the CAP parser and signature stack when an alert
arrives or certificates are configured, PortAudio when the sounddevice backend opens.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

SECTIONS = [
    ("FastAPI + pydantic", "fastapi"),
    ("uvicorn", "uvicorn"),
    ("prometheus_client", "prometheus_client"),
    ("gpiozero", "gpiozero"),
    ("pymodbus client", "pymodbus.client"),
    ("the journal", "edge.journal"),
    ("rain (edge.rain)", "edge.rain"),
    ("the station core (edge.station)", "edge.station"),
    ("the API (edge.api.app)", "edge.api.app"),
    ("the daemon (edge.daemon: core + API)", "edge.daemon"),
    ("+ broadcasting (edge.broadcasting)", "edge.daemon edge.broadcasting"),
    ("+ satellite phone (edge.satphone.phone)", "edge.daemon edge.satphone.phone"),
    ("+ SIP phone (edge.sip.phone, without PJSIP)", "edge.daemon edge.sip.phone"),
    ("+ CAP intake (edge.cap_intake)", "edge.daemon edge.cap_intake"),
    ("+ PJSIP (pjsua2), import only", "edge.daemon pjsua2"),
    ("+ on use: numpy (audio)", "edge.daemon numpy"),
    ("+ on use: sounddevice / PortAudio", "edge.daemon sounddevice"),
    ("+ on use: CAP parser (lxml, the XSD)", "edge.daemon broadcast.cap_parse"),
    ("+ on use: signxml + cryptography", "edge.daemon signxml"),
]

PROBE = """
import asyncio, json, logging, socket, sqlite3, ssl, sys, importlib
def rss():
    for line in open('/proc/self/status'):
        if line.startswith('VmRSS:'):
            return int(line.split()[1])
*first, section = sys.argv[1:]
for module in first:
    importlib.import_module(module)
before, modules = rss(), len(sys.modules)
importlib.import_module(section)
print(rss() - before, len(sys.modules) - modules)
"""


def main() -> None:
    print(f"{'section':44} {'RSS':>9} {'modules':>8}")
    for label, module in SECTIONS:
        done = subprocess.run([sys.executable, "-c", PROBE, *module.split()], cwd=REPO,
                              capture_output=True, text=True)
        if done.returncode != 0:
            print(f"{label:44} {'not installed' if 'ModuleNotFound' in done.stderr else 'fails'}")
            continue
        kib, count = (int(v) for v in done.stdout.split())
        print(f"{label:44} {kib / 1024:6.1f} MiB {count:8d}", flush=True)


if __name__ == "__main__":
    main()
