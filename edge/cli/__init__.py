"""The ``station-edge`` command.

One module per command group, each with a ``register(subparsers)`` that adds its
commands and points each at a handler ``(args) -> exit code``:

* :mod:`~edge.cli.daemon_commands` — ``run``, ``check-config``, ``safe-off`` (the contract);
* :mod:`~edge.cli.tokens` — ``token add|list|revoke``;
* :mod:`~edge.cli.devices` — ``devices``, ``wiring``;
* :mod:`~edge.cli.output_checks` — ``test output|siren|audio``;
* :mod:`~edge.cli.audio` — ``audio devices``;
* :mod:`~edge.cli.modbus` — ``modbus poll|scan``;
* :mod:`~edge.cli.modem` — ``modem info|at``;
* :mod:`~edge.cli.gpio` — ``gpio watch``.

A new group is a new module added to :data:`GROUPS`; nothing else changes. Handlers
import what they need when they run, so ``check-config`` and ``safe-off`` (run by
systemd before and after every start) load no web server, audio or Modbus library.
Bring-up commands share :mod:`~edge.cli.console` (how they report) and
:mod:`~edge.cli.target` (devices directly, or the running daemon's API).
"""

from __future__ import annotations

import argparse
import logging
import sys

from edge.cli import (
    audio,
    daemon_commands,
    devices,
    gpio,
    modbus,
    modem,
    output_checks,
    tokens,
)
from edge.cli.console import CommandFailed

GROUPS = (daemon_commands, tokens, devices, output_checks, audio, modbus, modem, gpio)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="station-edge",
                                  description="应急站边缘控制器 StationEdge")
    top.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    sub = top.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.register(sub)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    # A bring-up command says itself what happened, step by step; the drivers' own
    # warnings would only repeat it (-v shows them).
    quiet = logging.INFO if args.command == "run" else logging.ERROR
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else quiet,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    name = " ".join(["station-edge", args.command,
                     *(getattr(args, a) for a in ("action", "what") if hasattr(args, a))])
    try:
        code: int = args.handler(args)
    except CommandFailed as exc:
        print(f"{name}: failed: {exc}", file=sys.stderr, flush=True)
        return exc.code
    except KeyboardInterrupt:
        print(f"{name}: interrupted", file=sys.stderr, flush=True)
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
