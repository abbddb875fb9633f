"""The configuration the daemon last started with, kept in ``data_dir`` for ``safe-off``.

``station-edge safe-off`` must find every output even when the file it is given no
longer parses (an edit half-saved, a disk error). At every successful start the daemon
writes what it runs with -- the validated configuration, overrides applied -- to
``<data_dir>/config.last-good.json`` (JSON: it reads back to exactly the same
configuration). Written atomically, so a crash mid-write leaves the previous copy.
"""

from __future__ import annotations

import os
from pathlib import Path

from edge.config import Config, ConfigError, validate

LAST_GOOD_FILE = "config.last-good.json"


def last_good_path(data_dir: Path) -> Path:
    return data_dir / LAST_GOOD_FILE


def save_last_good(config: Config) -> Path:
    """Write the copy (temporary file, fsync, rename); raises OSError."""
    path = last_good_path(config.station.data_dir)
    text = config.model_dump_json(by_alias=True, indent=1)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def load_last_good(data_dir: Path) -> Config:
    """The copy in ``data_dir``; :class:`ConfigError` when it is missing or unusable."""
    path = last_good_path(data_dir)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, ValueError) as exc:
        raise ConfigError([f"({path.name}): cannot read {path}: {exc}"]) from None
    return validate(text)
