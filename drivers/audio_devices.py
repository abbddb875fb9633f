"""The sound devices PortAudio sees, with the ALSA names a technician recognises.

PortAudio numbers devices in the order ALSA lists them, and that order (and a USB card's
number) can change between boots; a card's ALSA id (``/proc/asound/cards``) does not.
So the name to put in ``[audio] device`` is a unique part of the PortAudio name, such as
the card's name, never an index. ``sounddevice`` (PortAudio) is imported here, so this
module is loaded only by the command that lists devices.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CARDS_FILE = Path("/proc/asound/cards")


@dataclass(frozen=True)
class SoundDevice:
    index: int
    name: str
    host_api: str
    outputs: int
    inputs: int
    default_rate: float
    alsa: str | None  # e.g. hw:CARD=Device,DEV=0 for a hardware device
    config_name: str  # what to put in [audio] device for this one

    @property
    def can_play(self) -> bool:
        return self.outputs > 0


def alsa_card_ids(cards_text: str) -> dict[int, str]:
    """``/proc/asound/cards`` → card number → card id (`` 1 [Device   ]: USB-Audio``)."""
    ids = {}
    for match in re.finditer(r"^\s*(\d+)\s+\[(\S+)\s*\]", cards_text, re.MULTILINE):
        ids[int(match.group(1))] = match.group(2)
    return ids


def describe(raw: dict[str, Any], host_api: str, card_ids: dict[int, str]) -> SoundDevice:
    name = str(raw["name"])
    hw = re.search(r"\(hw:(\d+),(\d+)\)$", name)
    alsa = None
    config_name = name
    if hw is not None:
        card, dev = int(hw.group(1)), int(hw.group(2))
        card_id = card_ids.get(card, hw.group(1))
        alsa = f"hw:CARD={card_id},DEV={dev}"
        config_name = name[: hw.start()].rstrip(" -:") or name
    return SoundDevice(int(raw["index"]), name, host_api, int(raw["max_output_channels"]),
                       int(raw["max_input_channels"]), float(raw["default_samplerate"]), alsa,
                       config_name)


def _card_ids() -> dict[int, str]:
    try:
        return alsa_card_ids(CARDS_FILE.read_text())
    except OSError:  # no sound card driver loaded at all
        return {}


def list_devices() -> list[SoundDevice]:
    import sounddevice as sd

    apis = [api["name"] for api in sd.query_hostapis()]
    card_ids = _card_ids()
    return [describe(raw, apis[raw["hostapi"]], card_ids) for raw in sd.query_devices()]


def resolve_output(device: str) -> SoundDevice:
    """The output device PortAudio opens for ``device`` (as the daemon will); raises
    ``ValueError`` saying why none or several match."""
    import sounddevice as sd

    raw = sd.query_devices(device, kind="output")
    apis = [api["name"] for api in sd.query_hostapis()]
    return describe(raw, apis[raw["hostapi"]], _card_ids())
