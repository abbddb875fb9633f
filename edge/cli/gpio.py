"""``station-edge gpio watch``: input edges as they happen, to check buttons and hand alarms.

With the daemon stopped the command claims the inputs itself and prints every raw edge,
bounces included (a contact that bounces shows as several edges within milliseconds).
With the daemon running it follows the daemon's journal (``input.pressed`` /
``input.released``): those edges are debounced, as the station acts on them.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import datetime
from typing import Any

from edge.cli.console import CommandFailed, Console
from edge.cli.target import DaemonApi, Direct, add_config_option, add_token_option, station_target
from edge.wiring import WiredPin, wired_pins


def register(sub: Any) -> None:
    gpio = sub.add_parser("gpio", help="GPIO inputs")
    actions = gpio.add_subparsers(dest="action", required=True)
    watch = actions.add_parser("watch", help="print input edges as they happen")
    watch.add_argument("--seconds", type=float, default=None,
                       help="stop after this long (default: until Ctrl-C)")
    watch.add_argument("--count", type=int, default=None, help="stop after this many edges")
    add_config_option(watch)
    add_token_option(watch)
    watch.set_defaults(handler=_watch)


def _stamp(moment: float | None = None) -> str:
    return datetime.fromtimestamp(moment or time.time()).strftime("%H:%M:%S.%f")[:-3]


def _edge_line(wired: WiredPin | None, input_id: str, active: bool) -> str:
    where = f" {wired.label}" if wired else ""
    state = "pressed (pulled low)" if active else "released (high)"
    return f"{input_id}{where}: {state}"


def _watch(args: argparse.Namespace) -> int:
    console = Console()
    with station_target(args, console) as target:
        inputs = {p.device_id: p for p in wired_pins(target.config) if p.direction == "input"}
        remote = [a.id for a in target.config.hand_alarms if a.bus is not None]
        if not inputs and not (remote and isinstance(target, DaemonApi)):
            raise CommandFailed("this config has no GPIO inputs (buttons, hand alarms, pulse "
                                "gauges)")
        until = "Ctrl-C" if args.seconds is None and args.count is None else (
            " or ".join(x for x in (f"{args.seconds:g} s" if args.seconds else "",
                                    f"{args.count} edges" if args.count else "") if x))
        console.step(f"watching {len(inputs)} input(s) until {until}; press each one in turn")
        if isinstance(target, DaemonApi):
            console.warn("the daemon acts on these inputs: a hand alarm pressed now is a real "
                         "alarm (sirens, broadcast, 叫应 SMS) and a held EVACUATE broadcasts the "
                         "order; to check inputs without that, stop the daemon first "
                         "(sudo systemctl stop station-edge)")
            edges = _follow_daemon(target, inputs, args, console)
        else:
            edges = asyncio.run(_watch_directly(target, list(inputs.values()), args, console))
    if edges == 0:
        raise CommandFailed("no input changed: check the wiring (each input is pulled up; "
                            "the switch must connect it to GND)")
    console.step(f"{edges} edge(s) seen")
    return 0


async def _watch_directly(target: Direct, inputs: list[WiredPin], args: argparse.Namespace,
                          console: Console) -> int:
    from drivers.clock import SystemClock
    from edge.cli.offline import open_gpio

    loop = asyncio.get_running_loop()
    edges: asyncio.Queue[tuple[float, WiredPin, bool]] = asyncio.Queue()
    chip = open_gpio(target.config, SystemClock())
    try:
        for wired in inputs:
            level = chip.input(wired.bcm, active_low=True)
            console.step(f"now: {_edge_line(wired, wired.device_id, level.is_active)}")

            def changed(active: bool, w: WiredPin = wired) -> None:  # gpiozero's thread
                loop.call_soon_threadsafe(edges.put_nowait, (time.time(), w, active))

            level.on_change(changed)
        return await watch_edges(edges, args.seconds, args.count, console)
    finally:
        chip.close()


async def watch_edges(edges: asyncio.Queue[tuple[float, WiredPin, bool]],
                      seconds: float | None, count: int | None, console: Console) -> int:
    """Print edges from ``edges`` until ``seconds`` pass or ``count`` have come."""
    seen = 0
    deadline = None if seconds is None else time.monotonic() + seconds
    while count is None or seen < count:
        timeout = None if deadline is None else deadline - time.monotonic()
        if timeout is not None and timeout <= 0:
            break
        try:
            moment, wired, active = await asyncio.wait_for(edges.get(), timeout)
        except TimeoutError:
            break
        seen += 1
        console.line(f"{_stamp(moment)}  {_edge_line(wired, wired.device_id, active)}")
    return seen


def _follow_daemon(api: DaemonApi, inputs: dict[str, WiredPin], args: argparse.Namespace,
                   console: Console) -> int:
    after = api.get("/api/v1/events", params={"limit": 1, "after": 0})["last_seq"]
    seen = 0
    deadline = None if args.seconds is None else time.monotonic() + args.seconds
    while (args.count is None or seen < args.count) and \
            (deadline is None or time.monotonic() < deadline):
        page = api.get("/api/v1/events", params={"after": after, "limit": 200})
        for event in page["events"]:
            after = max(after, int(event["seq"]))
            if event["kind"] not in ("input.pressed", "input.released"):
                continue
            seen += 1
            console.line(f"{event['ts']}  " + _edge_line(
                inputs.get(event["source"]), event["source"], event["kind"] == "input.pressed"))
            if args.count is not None and seen >= args.count:
                break
        time.sleep(0.1)
    return seen
