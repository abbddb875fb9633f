"""Small files in ``data_dir`` written safely, whoever writes them.

The daemon runs as its own user; a technician runs ``station-edge`` commands with sudo.
A file root creates in ``data_dir`` must still be usable by the daemon, so whatever a
command creates there is given the owner and group of ``data_dir`` itself. Secrets are
written atomically (temporary file, fsync, rename) with mode 0600.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def own_like_parent(path: Path) -> None:
    """As root, give ``path`` the owner and group of its directory (else: nothing to do)."""
    if os.geteuid() != 0:
        return
    parent = path.parent.stat()
    with contextlib.suppress(FileNotFoundError):
        os.chown(path, parent.st_uid, parent.st_gid)


def make_data_dir(data_dir: Path) -> None:
    """Create ``data_dir`` (and parents) if missing, mode 0750."""
    data_dir.mkdir(mode=0o750, parents=True, exist_ok=True)


def write_private(path: Path, text: str, mode: int = 0o600) -> None:
    """Replace ``path`` with ``text`` atomically; nobody ever reads half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        own_like_parent(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
