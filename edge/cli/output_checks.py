"""``station-edge test output|siren|audio``: switch one thing on, briefly, to check it.

While the daemon is stopped the command claims every output OFF (as the daemon does at
start), switches the one asked for through the output registry (journaled, cut at its
maximum on-time) and leaves everything OFF. While the daemon runs it asks the daemon
(admin token): ``POST /api/v1/outputs/{id}/test`` or ``POST /api/v1/broadcasts``.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from edge.cli.console import CommandFailed, Console
from edge.cli.target import DaemonApi, Direct, add_config_option, add_token_option, station_target
from edge.config import Config

MAX_TEST_S = 60.0
TONE = "test_tone"


def register(sub: Any) -> None:
    test = sub.add_parser("test", help="switch one output, siren or loudspeaker zone on briefly")
    kinds = test.add_subparsers(dest="what", required=True)
    output = kinds.add_parser("output", help="one output (relay, zone, LED) ON for a while")
    output.add_argument("id", help="an output id (station-edge devices lists them)")
    output.add_argument("--seconds", type=float, default=3.0, help="how long ON (default 3)")
    siren = kinds.add_parser("siren", help="one siren ON for a while (GPIO relay or remote coil)")
    siren.add_argument("id")
    siren.add_argument("--seconds", type=float, default=3.0, help="how long ON (default 3)")
    audio = kinds.add_parser("audio", help="play a test message or tone on loudspeaker zones")
    audio.add_argument("--zone", action="append", default=None,
                       help="a zone of [amplifier] zones (repeatable; default: every zone)")
    content = audio.add_mutually_exclusive_group()
    content.add_argument("--message", default=None,
                         help="a message id of the library (default: test)")
    content.add_argument("--tone", action="store_true", help="a 1 kHz tone for 3 s instead")
    for parser, handler in ((output, _test_output), (siren, _test_siren), (audio, _test_audio)):
        add_config_option(parser)
        add_token_option(parser)
        parser.set_defaults(handler=handler)


# -- outputs and sirens -----------------------------------------------------------------


def _test_output(args: argparse.Namespace) -> int:
    return _switch_for_a_while(args, siren_only=False)


def _test_siren(args: argparse.Namespace) -> int:
    return _switch_for_a_while(args, siren_only=True)


def _switch_for_a_while(args: argparse.Namespace, *, siren_only: bool) -> int:
    from edge.cli.offline import output_ids

    console = Console()
    if not 0 < args.seconds <= MAX_TEST_S:
        raise CommandFailed(f"--seconds must be more than 0 and at most {MAX_TEST_S:g}")
    with station_target(args, console) as target:
        known = output_ids(target.config)
        if siren_only:
            known = {i: w for i, w in known.items()
                     if any(s.id == i for s in target.config.sirens)}
        if args.id not in known:
            what = "siren" if siren_only else "output"
            raise CommandFailed(f"no {what} {args.id!r} in the config; "
                                f"{what}s: {', '.join(known) or '(none)'}")
        console.step(f"{args.id} is wired to {known[args.id]}")
        if isinstance(target, DaemonApi):
            _switch_through_daemon(target, args.id, args.seconds, console)
        else:
            asyncio.run(_switch_directly(target, args.id, args.seconds, console))
    console.step(f"done: {args.id} was ON for {args.seconds:g} s and is OFF again "
                 "(did the relay click and the load come on?)")
    return 0


async def _switch_directly(target: Direct, output_id: str, seconds: float,
                           console: Console) -> None:
    from edge.cli.offline import OfflineStation, station_clock
    from edge.outputs import OutputFailed

    async with OfflineStation(target.config, station_clock(target.config)) as station:
        console.step("every output claimed and driven OFF (as the daemon does at start)")
        coil = _remote_coil(target.config, output_id)
        try:
            await station.switch(output_id, True, "bring-up test")
        except OutputFailed as exc:
            raise CommandFailed(str(exc)) from None
        console.step(f"{output_id} ON for {seconds:g} s")
        if coil is not None:
            await _read_back(station, coil, True, console)
        async with console.ticking(f"{output_id} ON"):
            await asyncio.sleep(seconds)
        try:
            await station.switch(output_id, False, "bring-up test over")
        except OutputFailed as exc:
            raise CommandFailed(f"{exc}; the outputs are driven OFF again on exit") from None
        console.step(f"{output_id} OFF")
        if coil is not None:
            await _read_back(station, coil, False, console)


def _remote_coil(config: Config, output_id: str) -> tuple[str, int, int] | None:
    for siren in config.sirens:
        if siren.id == output_id and siren.bus is not None:
            assert siren.unit is not None and siren.coil is not None
            return siren.bus, siren.unit, siren.coil
    return None


async def _read_back(station: Any, coil: tuple[str, int, int], on: bool,
                     console: Console) -> None:
    from drivers.modbus_bus import BusError

    bus, unit, address = coil
    try:
        bits = await station.buses[bus].read_coils(unit, address, 1)
    except BusError as exc:
        raise CommandFailed(f"reading coil {address} of unit {unit} back failed: {exc}") from None
    if bool(bits[0]) != on:
        raise CommandFailed(f"unit {unit} reports coil {address} {'ON' if bits[0] else 'OFF'} "
                            f"after it was switched {'ON' if on else 'OFF'}")
    console.detail(f"read back: unit {unit} confirms coil {address} is {'ON' if on else 'OFF'}")


def _switch_through_daemon(api: DaemonApi, output_id: str, seconds: float,
                           console: Console) -> None:
    api.post(f"/api/v1/outputs/{output_id}/test", {"seconds": seconds})
    console.step(f"the daemon switched {output_id} ON for {seconds:g} s")
    began = time.monotonic()
    with console.progress(f"{output_id} ON") as progress:
        while True:
            state = _output_state(api, output_id)
            if state == "off" and time.monotonic() - began >= seconds:
                break
            if time.monotonic() - began > seconds + 5.0:
                raise CommandFailed(f"{output_id} is still ON {seconds + 5:g} s after the test "
                                    "began; the daemon should have switched it OFF")
            progress.tick(state.upper())
            time.sleep(0.2)
    console.step(f"{output_id} OFF (the daemon confirms)")


def _output_state(api: DaemonApi, output_id: str) -> str:
    """``on``, ``off`` or ``unknown`` (a remote coil not read back), as the daemon knows it."""
    outputs = api.get("/api/v1/outputs")["outputs"]
    return str(next(o["state"] for o in outputs if o["id"] == output_id))


# -- audio ------------------------------------------------------------------------------


def _test_audio(args: argparse.Namespace) -> int:
    console = Console()
    with station_target(args, console) as target:
        amp = target.config.amplifier
        if amp is None:
            raise CommandFailed("this config has no [amplifier]: nothing to play on")
        zones = args.zone or sorted(amp.zones)
        unknown = [z for z in zones if z not in amp.zones]
        if unknown:
            raise CommandFailed(f"no zone {unknown[0]!r}; zones: {', '.join(amp.zones)}")
        content = {"siren": TONE} if args.tone else {"message": args.message or "test"}
        what = "a 1 kHz test tone" if args.tone else f"message {content['message']!r}"
        console.step(f"playing {what} on zone(s) {', '.join(zones)}")
        if isinstance(target, DaemonApi):
            final = _play_through_daemon(target, content, zones, console)
        else:
            final = asyncio.run(_play_directly(target, content, zones, console))
    if final["state"] != "done":
        raise CommandFailed(f"the broadcast ended {final['state']}: {final.get('error')}")
    console.step(f"done: played {final['plays']} time(s); did every loudspeaker of the zone(s) "
                 "sound, clearly and at the right volume?")
    return 0


async def _play_directly(target: Direct, content: dict[str, str], zones: list[str],
                         console: Console) -> dict[str, Any]:
    from broadcast.priority import Priority
    from broadcast.program import MessageContent, Program, SirenContent, UnknownContent
    from broadcast.tts import SpeechFailed
    from drivers.audio import AudioDeviceError
    from drivers.clock import iso_utc
    from edge.broadcasting import build_chain
    from edge.cli.offline import ACTOR, OfflineStation, station_clock

    async with OfflineStation(target.config, station_clock(target.config)) as station:
        def amplifier_state(state: str) -> None:
            console.step(f"amplifier {state}")

        def session(kind: str, s: Any) -> None:
            if kind == "stop" and s.path is not None:
                console.detail(f"audio written to {s.path}")

        def event(kind: str, broadcast: Any, data: dict[str, Any]) -> None:
            station.journal.record(f"broadcast.{kind}", broadcast.id, broadcast.actor,
                                   broadcast=broadcast.as_json(iso_utc), **data)

        chain = build_chain(target.config, station.clock, station.outputs,
                            on_session=session, on_state=amplifier_state, on_event=event)
        if "siren" in content:
            program = Program(SirenContent(content["siren"]), chime=False)
        else:
            program = Program(MessageContent(content["message"]))
        try:
            async with console.ticking("preparing the audio"):
                await chain.repertoire.duration_s(program)  # speech made (or cached) first
            broadcast = await chain.service.submit(
                program, zones=zones, priority=Priority.ROUTINE, type="routine",
                source="bringup", actor=ACTOR)
            async with console.ticking("playing"):
                final = await chain.service.wait_final(broadcast.id)
        except UnknownContent as exc:
            raise CommandFailed(str(exc)) from None
        except (SpeechFailed, AudioDeviceError) as exc:
            raise CommandFailed(f"{type(exc).__name__}: {exc}") from None
        finally:
            await chain.service.shutdown(reason="bring-up command over")  # amplifier OFF
        return final.as_json(iso_utc)


def _play_through_daemon(api: DaemonApi, content: dict[str, str], zones: list[str],
                         console: Console) -> dict[str, Any]:
    body = {**content, "zones": zones, "repeat": 1, "priority": "routine", "type": "routine"}
    broadcast = api.post("/api/v1/broadcasts", body)
    console.step(f"the daemon accepted broadcast {broadcast['id']}")
    state = broadcast["state"]
    with console.progress("broadcast") as progress:
        while True:
            broadcast = api.get(f"/api/v1/broadcasts/{broadcast['id']}")
            if broadcast["state"] != state:
                state = broadcast["state"]
                console.step(f"broadcast {state}")
            if broadcast["state"] in ("done", "failed", "cancelled", "interrupted"):
                return dict(broadcast)
            progress.tick(state)
            time.sleep(0.2)
