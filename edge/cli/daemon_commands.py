"""``station-edge run``, ``check-config`` and ``safe-off``: the daemon and its contract
(see DESIGN.md, "Command line")."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge.config import DEFAULT_PATH, ConfigError, load

if TYPE_CHECKING:
    from edge.station import Station


def register(sub: Any) -> None:
    run = sub.add_parser("run", help="run the station daemon")
    run.add_argument("--config", type=Path, default=None, help=f"default {DEFAULT_PATH}")
    run.add_argument("--sim", action="store_true", help="the whole station on simulated hardware")
    run.add_argument("--listen", help="HOST:PORT for the API and panel (overrides the config)")
    run.add_argument("--data-dir", type=Path, help="where the journal and state live")
    run.add_argument("--time-scale", type=float, default=None,
                     help="simulated station only: run this many times faster than real time")
    for flag, what in (("--station-id", "its station id (default SIM-001)"),
                       ("--station-name", "its name"),
                       ("--area-code", "its CAP area: a division code (default 421127)")):
        run.add_argument(flag, help=f"simulated station only: {what}")
    run.set_defaults(handler=_run)
    check = sub.add_parser("check-config", help="validate a configuration file")
    check.add_argument("path", type=Path)
    check.set_defaults(handler=_check_config)
    off = sub.add_parser("safe-off", help="drive every configured output OFF and exit")
    off.add_argument("--config", type=Path, default=DEFAULT_PATH)
    off.add_argument("--data-dir", type=Path, default=None,
                     help="where to look first for the daemon's last good configuration")
    off.add_argument("--timeout", type=float, default=5.0,
                     help="seconds to keep retrying remote coils that do not answer")
    off.set_defaults(handler=_safe_off)


def _print_problems(problems: list[str]) -> None:
    for problem in problems:
        print(problem, file=sys.stderr)


def _check_config(args: argparse.Namespace) -> int:
    try:
        config = load(args.path)
    except ConfigError as exc:
        _print_problems(exc.problems)
        return 1
    except Exception as exc:  # never a traceback: one line, and the file is refused
        print(f"{args.path}: cannot be checked: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    if config.cap is not None and config.cap.trusted_certificates:
        from edge.cap_trust import read_trust  # the files it names (the daemon starts anyway)

        problems = read_trust(config.cap).problems
        if problems:
            _print_problems(list(problems))
            return 1
    print(f"{args.path}: ok")
    return 0


def _safe_off(args: argparse.Namespace) -> int:
    from edge import safe_off

    return safe_off.run(args.config, args.data_dir, args.timeout)


SIM_IDENTITY = ("station_id", "station_name", "area_code")


def _run(args: argparse.Namespace) -> int:
    from drivers.clock import SystemClock
    from edge.sim import station as sim_station
    from edge.sim.clock_epoch import sim_clock

    identity = {key: getattr(args, key) for key in SIM_IDENTITY if getattr(args, key)}
    if identity and not args.sim:
        print("--station-id, --station-name and --area-code are for a simulated station "
              "(--sim); a real station takes them from its configuration", file=sys.stderr)
        return 2
    with ExitStack() as stack:
        banner: Callable[[Station], str] | None = None
        try:
            if args.sim:
                config = sim_station.prepare(stack, args.data_dir, args.listen,
                                             args.time_scale or 1.0, identity)

                def banner(_station: Station) -> str:
                    return sim_station.banner(args.data_dir)
            else:
                config = load(args.config or DEFAULT_PATH)
                overrides: dict[str, object] = {}
                if args.listen:
                    overrides["api"] = config.api.model_copy(update={"listen": args.listen})
                if args.data_dir:
                    overrides["station"] = config.station.model_copy(
                        update={"data_dir": args.data_dir})
                config = config.model_copy(update=overrides)
        except ConfigError as exc:
            print("configuration refused; nothing was started:", file=sys.stderr)
            _print_problems(exc.problems)
            return 2
        clock = (sim_clock(config.station.data_dir, config.sim.time_scale) if config.sim
                 else SystemClock())
        from edge.daemon import serve

        return asyncio.run(serve(config, clock, banner=banner))
