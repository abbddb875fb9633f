"""Who may do what: bearer tokens with roles viewer < operator < admin.

Secrets are stored only as SHA-256 hex. A presented token is hashed and compared with
every stored hash in constant time, so neither the comparison nor the position of a
match leaks through timing. There is no default credential: a real station with no
token in its config makes random 128-bit tokens at first start, keeps only their
hashes in ``data_dir`` and prints the tokens once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Role = Literal["viewer", "operator", "admin"]
ROLE_RANK: dict[Role, int] = {"viewer": 1, "operator": 2, "admin": 3}
GENERATED_TOKENS_FILE = "api-tokens.json"


@dataclass(frozen=True)
class Principal:
    name: str
    role: Role

    def may(self, role: Role) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[role]


@dataclass(frozen=True)
class StoredToken:
    name: str
    role: Role
    sha256: str


def sha256_hex(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class TokenBook:
    def __init__(self, tokens: list[StoredToken]) -> None:
        self._tokens = tokens

    def __len__(self) -> int:
        return len(self._tokens)

    def identify(self, presented: str) -> Principal | None:
        digest = sha256_hex(presented).encode()
        found: StoredToken | None = None
        for token in self._tokens:
            if hmac.compare_digest(digest, token.sha256.encode()):
                found = token
        return Principal(found.name, found.role) if found else None


def load_or_generate(data_dir: Path) -> tuple[list[StoredToken], dict[Role, str]]:
    """Tokens generated at an earlier first start, or new ones (returned in clear once)."""
    path = data_dir / GENERATED_TOKENS_FILE
    if path.exists():
        rows = json.loads(path.read_text())
        return [StoredToken(r["name"], r["role"], r["sha256"]) for r in rows], {}
    clear = {role: secrets.token_hex(16) for role in ROLE_RANK}
    stored = [StoredToken(f"generated-{role}", role, sha256_hex(secret))
              for role, secret in clear.items()]
    data_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump([t.__dict__ for t in stored], f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return stored, clear
