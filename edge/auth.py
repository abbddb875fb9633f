"""Who may do what: bearer tokens with roles viewer < operator < admin.

Secrets are stored only as SHA-256 hex. A presented token is hashed and compared with
every stored hash in constant time, so neither the comparison nor the position of a
match leaks through timing. There is no default credential.

Where tokens live (one model, both honoured):

* ``[[api.tokens]]`` in the config file: written by whoever edits the config, read-only
  for the station and its commands; removed by deleting the block (then restart).
* ``data_dir/api-tokens.json``: the tokens ``station-edge token add`` made and those the
  first start generated. ``token revoke`` removes them. The daemon re-reads this file
  when it changes, so a new or revoked token counts at once, without a restart.

A station with no operator or admin token anywhere makes one of each missing role at
start (viewer too if there is none), prints them once and keeps only their hashes.
A running daemon also writes a fresh admin secret to ``data_dir/local-cli.token``
(mode 0600): the ``station-edge`` commands run by root or by the daemon's user read it
to act through the daemon's API, as a local socket would let them.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import logging
import os
import secrets
from collections.abc import Collection, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from edge.state_files import make_data_dir, own_like_parent, write_private

log = logging.getLogger(__name__)

Role = Literal["viewer", "operator", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "operator", "admin")
ROLE_RANK: dict[Role, int] = {"viewer": 1, "operator": 2, "admin": 3}
TOKEN_FILE = "api-tokens.json"
LOCAL_CLI_TOKEN_FILE = "local-cli.token"
LOCAL_CLI_NAME = "local-cli"
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,39}$"

#: Secrets people put in examples; a hash of one of these is no secret.
PLACEHOLDER_SECRETS = ("", "changeme", "change-me", "secret", "the-secret", "password", "token",
                       "admin", "operator", "viewer", "county", "test", "123456")
_PLACEHOLDER_HASHES = {hashlib.sha256(s.encode()).hexdigest(): s for s in PLACEHOLDER_SECRETS}
_COUNTING = ("0123456789abcdef", "fedcba9876543210", "00112233445566778899aabbccddeeff")


@dataclass(frozen=True)
class Principal:
    name: str
    role: Role
    token_sha256: str | None = None  # which token proved it (a panel session keeps it)

    def may(self, role: Role) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[role]


@dataclass(frozen=True)
class StoredToken:
    name: str
    role: Role
    sha256: str
    created: str | None = None


def sha256_hex(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    """128 random bits, as 32 hex digits (easy to read out over a phone)."""
    return secrets.token_hex(16)


def placeholder_hash(sha256: str) -> str | None:
    """Why ``sha256`` cannot be the hash of a real secret (None: it may be)."""
    digest = sha256.lower()
    if digest in _PLACEHOLDER_HASHES:
        return f"the hash of the placeholder secret {_PLACEHOLDER_HASHES[digest]!r}"
    if len(set(digest)) < 8:
        return "a placeholder (a real hash has many more different digits)"
    if any(run in digest for run in _COUNTING):
        return "a placeholder (a counting pattern)"
    return None


class TokenFileError(Exception):
    """The token file cannot be read, or a change to it is refused."""


class TokenFile:
    """``data_dir/api-tokens.json``: tokens made by ``token add`` and by the first start."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / TOKEN_FILE

    def read(self) -> list[StoredToken]:
        try:
            rows = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            raise TokenFileError(f"cannot read {self.path}: {exc}") from None
        try:
            return [StoredToken(r["name"], r["role"], r["sha256"], r.get("created"))
                    for r in rows if r["role"] in ROLE_RANK]
        except (KeyError, TypeError) as exc:
            raise TokenFileError(f"{self.path}: not a token list ({exc})") from None

    @contextlib.contextmanager
    def _changing(self) -> Iterator[list[StoredToken]]:
        """Read, let the caller change the list, write back: one writer at a time."""
        make_data_dir(self.path.parent)
        lock_path = self.path.with_name(TOKEN_FILE + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        own_like_parent(lock_path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            tokens = self.read()
            yield tokens
            rows = [{k: v for k, v in asdict(t).items() if v is not None} for t in tokens]
            write_private(self.path, json.dumps(rows, indent=1, ensure_ascii=False) + "\n")
        finally:
            os.close(fd)

    def add(self, name: str, role: Role, *, taken: Collection[str] = ()) -> str:
        """Make a token; returns its secret (shown once, never stored)."""
        if role not in ROLE_RANK:
            raise TokenFileError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
        secret = new_secret()
        with self._changing() as tokens:
            if name in taken or any(t.name == name for t in tokens):
                raise TokenFileError(f"a token named {name!r} exists already")
            created = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
            tokens.append(StoredToken(name, role, sha256_hex(secret), created))
        return secret

    def revoke(self, name: str) -> StoredToken | None:
        """Remove the token named ``name``; the removed token, or None if there is none."""
        with self._changing() as tokens:
            found = next((t for t in tokens if t.name == name), None)
            if found is not None:
                tokens.remove(found)
        return found


def make_missing_tokens(file: TokenFile, existing: list[StoredToken]) -> dict[Role, str]:
    """With no operator or admin token anywhere, one of each missing role, in clear once."""
    tokens = existing + file.read()
    if any(ROLE_RANK[t.role] >= ROLE_RANK["operator"] for t in tokens):
        return {}
    have = {t.role for t in tokens}
    taken = {t.name for t in tokens}
    return {role: file.add(f"generated-{role}", role, taken=taken)
            for role in ROLES if role not in have}


class TokenBook:
    """Every token the station accepts: fixed ones (config, local CLI) and the token file,
    re-read whenever the file changes; ``refused`` hashes never identify anyone."""

    def __init__(self, fixed: list[StoredToken], file: TokenFile | None = None,
                 refused: frozenset[str] = frozenset()) -> None:
        self._fixed = list(fixed)
        self._file = file
        self._refused = refused
        self._stamp: tuple[int, int, int] | None = None
        self._from_file: list[StoredToken] = []

    def add_fixed(self, token: StoredToken) -> None:
        self._fixed.append(token)

    def tokens(self) -> list[StoredToken]:
        self._refresh()
        return [t for t in self._fixed + self._from_file if t.sha256 not in self._refused]

    def __len__(self) -> int:
        return len(self.tokens())

    def identify(self, presented: str) -> Principal | None:
        digest = sha256_hex(presented).encode()
        found: StoredToken | None = None
        for token in self.tokens():
            if hmac.compare_digest(digest, token.sha256.encode()):
                found = token
        return Principal(found.name, found.role, found.sha256) if found else None

    def still_valid(self, principal: Principal) -> bool:
        """Is the token that made ``principal`` still accepted (not revoked since)?"""
        return any(t.sha256 == principal.token_sha256 for t in self.tokens())

    def _refresh(self) -> None:
        if self._file is None:
            return
        try:
            st = self._file.path.stat()
            stamp: tuple[int, int, int] | None = (st.st_ino, st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stamp = None
        if stamp == self._stamp:
            return
        self._stamp = stamp
        try:
            self._from_file = self._file.read()
        except TokenFileError as exc:  # fail closed: no token from a file we cannot read
            log.error("%s; its tokens are not accepted until it is fixed", exc)
            self._from_file = []


def write_local_cli_token(data_dir: Path) -> StoredToken:
    """A fresh admin secret for local ``station-edge`` commands (see the module docstring)."""
    secret = new_secret()
    write_private(data_dir / LOCAL_CLI_TOKEN_FILE, secret + "\n")
    return StoredToken(LOCAL_CLI_NAME, "admin", sha256_hex(secret))


def remove_local_cli_token(data_dir: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        (data_dir / LOCAL_CLI_TOKEN_FILE).unlink()


def read_local_cli_token(data_dir: Path) -> str:
    """The running daemon's local secret; raises OSError (e.g. permission denied)."""
    return (data_dir / LOCAL_CLI_TOKEN_FILE).read_text(encoding="utf-8").strip()


def as_role(value: str) -> Role:
    for role in ROLES:
        if role == value:
            return role
    raise ValueError(f"role must be one of {', '.join(ROLES)}, got {value!r}")
