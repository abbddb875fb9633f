"""``station-edge modem info|at``: ask the satellite terminal what it is and how it is.

Directly on its port when the daemon is stopped (the daemon's own AT channel class, with
its synchronisation, so a terminal that echoes or answers late is handled the same);
through the daemon's channel when it runs (``POST /api/v1/satphone/at``, admin).
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from edge.cli.console import CommandFailed, Console
from edge.cli.target import DaemonApi, add_config_option, add_token_option, station_target
from edge.config import Config, SatPhoneConfig

READY_WAIT_S = 30.0


@dataclass(frozen=True)
class Answer:
    lines: list[str]
    final: str
    ok: bool


Ask = Callable[[str, float], Awaitable[Answer]]
Job = Callable[[SatPhoneConfig, Ask], Coroutine[Any, Any, int]]


def register(sub: Any) -> None:
    modem = sub.add_parser("modem", help="the satellite terminal: what it is, one AT question")
    actions = modem.add_subparsers(dest="action", required=True)
    info = actions.add_parser("info", help="model, IMEI, SIM, registration, signal, SMS centre")
    info.set_defaults(handler=_info)
    at = actions.add_parser("at", help="send one AT command and print the answer")
    at.add_argument("at_command", metavar="COMMAND",
                    help="e.g. 'AT+CSQ' (quote it for the shell)")
    at.add_argument("--timeout", type=float, default=20.0, help="seconds (default 20)")
    at.set_defaults(handler=_at)
    for parser in (info, at):
        add_config_option(parser)
        add_token_option(parser)


def _phone(config: Config) -> SatPhoneConfig:
    if config.sat_phone is None:
        raise CommandFailed("this config has no [sat_phone]")
    return config.sat_phone


def _with_terminal(args: argparse.Namespace, console: Console,
                   job: Job) -> int:
    with station_target(args, console) as target:
        phone = _phone(target.config)
        console.step(f"satellite terminal on {phone.port}, {phone.baudrate} baud, "
                     f"{phone.personality} personality")
        if isinstance(target, DaemonApi):
            api = target

            async def through_daemon(command: str, timeout_s: float) -> Answer:
                reply = await asyncio.to_thread(api.post, "/api/v1/satphone/at",
                                                {"command": command, "timeout_s": timeout_s})
                return Answer(list(reply["lines"]), reply["final"], bool(reply["ok"]))

            return asyncio.run(job(phone, through_daemon))
        return asyncio.run(direct_session(phone, console, job))


async def direct_session(phone: SatPhoneConfig, console: Console,
                         job: Job) -> int:
    """Open the terminal's port (the daemon is stopped), wait until it answers AT, run
    ``job`` with a way to ask it, close the port."""
    from drivers.clock import SystemClock
    from drivers.serial_line import PortProblem, check_port
    from sat_phone.at_channel import (
        AtChannel,
        AtCommandError,
        AtError,
        ChannelSettings,
        ChannelState,
    )

    try:
        check_port(phone.port, phone.baudrate)
    except PortProblem as exc:
        raise CommandFailed(str(exc)) from None
    channel = AtChannel(phone.port, clock=SystemClock(),
                        settings=ChannelSettings(baudrate=phone.baudrate))
    await channel.start()
    try:
        async with console.ticking("waiting for the terminal to answer AT") as progress:
            while channel.state is not ChannelState.READY:
                if channel.state in (ChannelState.OFFLINE, ChannelState.FAULT) \
                        or progress.elapsed_s > READY_WAIT_S:
                    raise CommandFailed(f"the terminal does not answer: {channel.detail}")
                progress.detail = channel.detail
                await asyncio.sleep(0.05)
        console.step("the terminal answers AT")

        async def directly(command: str, timeout_s: float) -> Answer:
            try:
                response = await channel.command(command, capture_all=True,
                                                 timeout_s=timeout_s)
            except AtCommandError as exc:
                return Answer([], exc.final.line, False)
            except AtError as exc:
                raise CommandFailed(f"{command}: {exc}") from None
            return Answer([line.text for line in response.lines], response.final.line, True)

        for setup in ("ATE0", "AT+CMEE=1"):  # as the daemon initialises it: no echo, codes
            await directly(setup, 5.0)
        return await job(phone, directly)
    finally:
        await channel.close()


def _info(args: argparse.Namespace) -> int:
    from sat_phone.terminal_info import describe_error, info_queries

    console = Console()

    async def job(phone: SatPhoneConfig, ask: Ask) -> int:
        failed = []
        for query in info_queries(phone.personality):
            async with console.ticking(f"{query.command}"):
                answer = await ask(query.command, query.timeout_s)
            if not answer.ok:
                failed.append(query.label)
                console.detail(f"{query.label:13} {describe_error(answer.final)}")
                continue
            values = answer.lines
            if query.prefix is not None:
                values = [v[len(query.prefix):].strip() for v in values
                          if v.startswith(query.prefix)]
            console.detail(f"{query.label:13} {query.describe(values)}")
        if failed:
            raise CommandFailed(f"the terminal refused: {', '.join(failed)}")
        return 0

    return _with_terminal(args, console, job)


def _at(args: argparse.Namespace) -> int:
    from sat_phone.terminal_info import describe_error

    console = Console()
    command = args.at_command.strip()
    if not command.upper().startswith("AT"):
        raise CommandFailed(f"an AT command starts with AT, got {command!r}")

    async def job(_phone: SatPhoneConfig, ask: Ask) -> int:
        async with console.ticking(command):
            answer = await ask(command, args.timeout)
        for line in answer.lines:
            console.detail(line)
        console.detail(answer.final)
        if not answer.ok:
            raise CommandFailed(f"{command}: {describe_error(answer.final)}")
        return 0

    return _with_terminal(args, console, job)
