"""``station-edge audio devices``: the sound devices, and whether ``[audio] device`` finds one.

Listing opens no stream, so it works the same while the daemon plays.
"""

from __future__ import annotations

import argparse
from typing import Any

from edge.cli.console import CommandFailed, Console, table
from edge.cli.target import add_config_option, load_config


def register(sub: Any) -> None:
    audio = sub.add_parser("audio", help="sound devices")
    actions = audio.add_subparsers(dest="action", required=True)
    devices = actions.add_parser("devices", help="PortAudio devices with their ALSA names")
    add_config_option(devices)
    devices.set_defaults(handler=_devices)


def _devices(args: argparse.Namespace) -> int:
    console = Console()
    config = load_config(args.config, console) if args.config.exists() else None
    if config is None:
        console.step(f"no config at {args.config}: listing only")
    with console.progress("asking PortAudio for its devices"):
        from drivers.audio_devices import list_devices, resolve_output

        devices = list_devices()
    rows = [[str(d.index), d.name, d.host_api, str(d.outputs), str(d.inputs),
             f"{d.default_rate:g}", d.alsa or "—", repr(d.config_name) if d.can_play else "—"]
            for d in devices]
    if rows:
        for line in table(rows, ["#", "NAME", "API", "OUT", "IN", "RATE", "ALSA",
                                 "[audio] device ="]):
            console.line(line)
    if config is not None and config.audio.backend != "sounddevice":
        console.step(f"[audio] backend is {config.audio.backend!r}: no sound card is used")
        return 0
    if not any(d.can_play for d in devices):
        raise CommandFailed("PortAudio sees no output device: is the USB sound card plugged "
                            "in (aplay -l)? Is the user in the audio group?")
    if config is None:
        return 0
    wanted = config.audio.device
    try:
        found = resolve_output(wanted)
    except ValueError as exc:
        raise CommandFailed(f"[audio] device = {wanted!r} finds no single output device: {exc}; "
                            "put one of the names above in the config") from None
    console.step(f"[audio] device = {wanted!r} opens #{found.index} {found.name}"
                 + (f" ({found.alsa})" if found.alsa else ""))
    if config.sat_phone is not None and config.sat_phone.audio_input == "sounddevice":
        console.step(f"[sat_phone] audio_device = {config.sat_phone.audio_device!r} (call-in "
                     "audio comes in there)")
    return 0
