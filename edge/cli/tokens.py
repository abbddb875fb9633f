"""``station-edge token add|list|revoke``: API tokens as a technician handles them.

Tokens made here live in ``data_dir/api-tokens.json`` (hashes only) and count at once,
even for a running daemon; ``[[api.tokens]]`` blocks of the config are listed too but
changed only by editing the config (see :mod:`edge.auth`).
"""

from __future__ import annotations

import argparse
import re
from typing import Any

from edge.cli.console import CommandFailed, Console, table
from edge.cli.target import add_config_option, load_config


def register(sub: Any) -> None:
    token = sub.add_parser("token", help="API tokens: add, list, revoke")
    actions = token.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="make a token; its secret is printed once")
    add.add_argument("name", help="who holds it, e.g. county, duty-pc, zhang-san")
    add.add_argument("--role", required=True, choices=("viewer", "operator", "admin"))
    add_config_option(add)
    add.set_defaults(handler=_add)
    listing = actions.add_parser("list", help="every token the station accepts (no secrets)")
    add_config_option(listing)
    listing.set_defaults(handler=_list)
    revoke = actions.add_parser("revoke", help="remove a token made by `token add`")
    revoke.add_argument("name")
    add_config_option(revoke)
    revoke.set_defaults(handler=_revoke)


def _add(args: argparse.Namespace) -> int:
    from edge.auth import NAME_PATTERN, TokenFile, TokenFileError, as_role

    console = Console()
    config = load_config(args.config, console)
    if not re.fullmatch(NAME_PATTERN, args.name):
        raise CommandFailed(f"a token name is 1-40 letters, digits, . _ @ -, got {args.name!r}")
    file = TokenFile(config.station.data_dir)
    in_config = {t.name for t in config.api.tokens}
    try:
        secret = file.add(args.name, as_role(args.role), taken=in_config)
    except TokenFileError as exc:
        raise CommandFailed(str(exc)) from None
    except PermissionError as exc:
        raise CommandFailed(f"cannot write {file.path} ({exc.strerror}): run with sudo") from None
    console.step(f"token {args.name!r} ({args.role}) stored as its SHA-256 in {file.path}")
    console.line(f"secret (shown only now; copy it to whoever holds it): {secret}")
    host, _, port = config.api.listen.rpartition(":")
    if host in ("0.0.0.0", "::", "[::]") and config.api.allowed_hosts:
        host = config.api.allowed_hosts[0]
    console.line(f"use: curl -H 'Authorization: Bearer {secret}' "
                 f"http://{host}:{port}/api/v1/health")
    console.step("a running daemon accepts it at once; no restart needed")
    return 0


def _list(args: argparse.Namespace) -> int:
    from edge.auth import TokenFile, TokenFileError

    console = Console()
    config = load_config(args.config, console)
    file = TokenFile(config.station.data_dir)
    try:
        made = file.read()
    except TokenFileError as exc:
        raise CommandFailed(str(exc)) from None
    except PermissionError as exc:
        raise CommandFailed(f"cannot read {file.path} ({exc.strerror}): run with sudo") from None
    rows = [[t.name, t.role, f"{args.config} [[api.tokens]]", "", t.sha256[:12]]
            for t in config.api.tokens]
    rows += [[t.name, t.role, str(file.path), t.created or "", t.sha256[:12]] for t in made]
    if not rows:
        console.step("no tokens yet: the daemon makes one per role at its first start and "
                     "prints them (journalctl -u station-edge), or: station-edge token add NAME "
                     "--role admin")
        return 0
    for line in table(rows, ["NAME", "ROLE", "STORED IN", "CREATED", "SHA-256"]):
        console.line(line)
    return 0


def _revoke(args: argparse.Namespace) -> int:
    from edge.auth import ROLE_RANK, TokenFile, TokenFileError

    console = Console()
    config = load_config(args.config, console)
    for i, token in enumerate(config.api.tokens):
        if token.name == args.name:
            raise CommandFailed(
                f"{args.name!r} is api.tokens[{i}] in {args.config}, which this command does "
                "not edit: delete that [[api.tokens]] block (sudoedit), check the file with "
                "station-edge check-config, then restart the daemon "
                "(systemctl restart station-edge)")
    file = TokenFile(config.station.data_dir)
    try:
        removed = file.revoke(args.name)
    except TokenFileError as exc:
        raise CommandFailed(str(exc)) from None
    except PermissionError as exc:
        raise CommandFailed(f"cannot write {file.path} ({exc.strerror}): run with sudo") from None
    if removed is None:
        raise CommandFailed(f"no token named {args.name!r} (station-edge token list)")
    console.step(f"token {args.name!r} ({removed.role}) revoked; a running daemon refuses it "
                 "from now on")
    roles = [t.role for t in config.api.tokens] + [t.role for t in file.read()]
    left = [role for role in roles if ROLE_RANK[role] >= ROLE_RANK["operator"]]
    if not left:
        console.warn("no operator or admin token is left: the next start of the daemon makes "
                     "new ones and prints them once (journalctl -u station-edge)")
    return 0
