"""The ``station-county`` command: many stations, one command line.

```
station-county [--stations FILE] [--concurrency N] [--timeout S] COMMAND …
  status      [--area CODE] [--station ID …] [--csv FILE]
  spot-check  (--all | --random N) [--area CODE] [--station ID …] [--csv FILE] [--wait-s S]
  cap push    FILE [--area CODE] [--station ID …] [--csv FILE]
  events      --since WHEN [--db FILE] [--kind KIND] [--station ID …] [--format F] [--no-pull]
  targets     [--area CODE]          # the station list as Prometheus file_sd JSON
```

Every command asks the chosen stations at once (at most ``--concurrency`` requests in
flight, each with its own ``--timeout``), shows a progress line on stderr, and prints a
table on stdout (and CSV with ``--csv``). Exit status: 0 when every station did what
was asked (reachable; answered; accepted or duplicate), 1 when some did not, 2 when the
command itself could not run (a bad station list or option).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Awaitable
from pathlib import Path
from typing import TextIO

import httpx

from county import cap_push, events, spot_check, status
from county.client import StationClient
from county.fanout import Fanout
from county.report import csv_text, table
from county.stations import County, Station, StationListError, choose, load

DEFAULT_STATIONS = Path(os.environ.get("STATION_COUNTY_STATIONS",
                                       "/etc/station-county/stations.toml"))


AREA_HELP = "仅此行政区划内的站点 only stations within this division code"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="station-county", description="县级多站管理 the county's command line for "
                                            "StationEdge stations")
    parser.add_argument("--stations", type=Path, default=DEFAULT_STATIONS,
                        help=f"站点清单 the station list (TOML; default {DEFAULT_STATIONS}, "
                             "or $STATION_COUNTY_STATIONS)")
    parser.add_argument("--concurrency", type=int, default=16,
                        help="同时请求数 requests in flight at once (default 16)")
    parser.add_argument("--timeout", type=float, default=10.0,
                        help="单次请求超时秒数 seconds one request to one station may take "
                             "(default 10)")
    sub = parser.add_subparsers(dest="command", required=True)

    def choosing(p: argparse.ArgumentParser, csv: bool = True) -> None:
        p.add_argument("--area", help=AREA_HELP)
        p.add_argument("--station", action="append", dest="ids", metavar="ID",
                       help="仅此站点（可重复） only this station (repeatable)")
        if csv:
            p.add_argument("--csv", type=Path,
                           help="另存 CSV 报告 also write the report as CSV here")

    choosing(sub.add_parser("status", help="各站状态，每站一行 one line per station"))
    check = sub.add_parser("spot-check", help="一键通抽查 spot checks on many stations")
    which = check.add_mutually_exclusive_group(required=True)
    which.add_argument("--all", action="store_true", help="所有所选站点 every chosen station")
    which.add_argument("--random", type=int, metavar="N",
                       help="随机抽 N 站 N stations drawn at random")
    choosing(check)
    check.add_argument("--wait-s", type=float, default=3600.0,
                       help="最长跟踪秒数 give up following a check after this many seconds "
                            "(default 3600)")
    check.add_argument("--poll-s", type=float, default=2.0,
                       help="查询间隔秒数 ask each station this often how its check stands "
                            "(default 2)")
    cap = sub.add_parser("cap", help="CAP 1.2 预警 alerts")
    cap_sub = cap.add_subparsers(dest="cap_command", required=True)
    push = cap_sub.add_parser("push", help="向所选站点推送一条 CAP 预警 "
                                           "send one CAP alert to the chosen stations")
    push.add_argument("file", type=Path, help="CAP 1.2 XML 文件 the CAP 1.2 XML file")
    choosing(push)
    ev = sub.add_parser("events", help="各站日志汇入一个 SQLite 文件 "
                                       "every station's journal in one SQLite file")
    ev.add_argument("--since", required=True,
                    help="起始：30m、2h、7d 或日期时间（北京时间） 30m, 2h, 7d, or a date/time "
                         "(Beijing time unless it has a zone)")
    ev.add_argument("--db", type=Path, default=Path("station-county-events.db"),
                    help="本地 SQLite 文件 the local SQLite file "
                         "(default ./station-county-events.db)")
    ev.add_argument("--kind", help="仅此类事件 only events of this kind "
                                   "(or kind prefix, e.g. alarm)")
    ev.add_argument("--format", choices=("table", "csv", "jsonl"), default="table")
    ev.add_argument("--no-pull", action="store_true",
                    help="不拉取，只读本地文件 only read the local file")
    choosing(ev, csv=False)
    targets = sub.add_parser("targets", help="站点清单转为 Prometheus 采集目标 "
                                             "the station list as Prometheus file_sd JSON")
    targets.add_argument("--area", help=AREA_HELP)
    return parser


async def run_command(args: argparse.Namespace, county: County, http: httpx.AsyncClient,
                      out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """One command against the county's stations through ``http``; the exit status."""
    if args.command == "targets":
        return _targets(args, county, out)
    chosen = choose(county.stations, area=args.area, ids=args.ids,
                    sample=getattr(args, "random", None))
    if not chosen:
        print("没有符合条件的站点 no station matches", file=err)
        return 2
    fan = Fanout(http, concurrency=args.concurrency, timeout_s=args.timeout,
                 progress_stream=err)
    budget = 4 * args.timeout
    if args.command == "status":
        return status.REPORT.write(
            await fan.run("status", chosen, status.fetch, station_budget_s=budget),
            out, args.csv)
    if args.command == "spot-check":
        def follow(client: StationClient) -> Awaitable[spot_check.CheckResult]:
            return spot_check.check_one(client, poll_s=args.poll_s, wait_s=args.wait_s)

        return spot_check.REPORT.write(
            await fan.run("spot-check", chosen, follow, station_budget_s=args.wait_s + budget),
            out, args.csv)
    if args.command == "cap":
        xml = args.file.read_bytes()

        def send(client: StationClient) -> Awaitable[cap_push.CapAnswer]:
            return cap_push.push_one(client, xml)

        return cap_push.REPORT.write(
            await fan.run("cap push", chosen, send, station_budget_s=budget), out, args.csv)
    return await _events(args, chosen, fan, out, err)


async def _events(args: argparse.Namespace, chosen: list[Station], fan: Fanout, out: TextIO,
                  err: TextIO) -> int:
    since = events.since_utc(args.since)
    store = events.EventStore(args.db)
    try:
        code = 0
        if not args.no_pull:
            def pull(client: StationClient) -> Awaitable[events.Pulled]:
                return events.pull(client, store)

            outcomes = await fan.run("events", chosen, pull, station_budget_s=30 * args.timeout)
            for o in outcomes:
                if o.problem:
                    print(f"{o.station.id}: {o.problem}", file=err)
                    code = 1
                elif o.value is not None and o.value.restarted:
                    print(f"{o.station.id}: 日志序号回退，已作为新一代保存 the station's journal "
                          "started again; kept as a new generation", file=err)
        rows = list(store.query(since=since, kind=args.kind,
                                stations=[s.id for s in chosen]))
    finally:
        store.close()
    if args.format == "table":
        out.write(table(events.HEADERS, [events.table_row(r) for r in rows]))
    elif args.format == "csv":
        out.write(csv_text(events.CSV_HEADERS, [[r[k] for k in events.CSV_HEADERS]
                                                for r in rows]))
    else:
        for r in rows:
            out.write(json.dumps(r | {"data": json.loads(r["data"] or "null")},
                                 ensure_ascii=False) + "\n")
    print(f"{len(rows)} 条事件 events since {since}", file=err)
    return code


def _targets(args: argparse.Namespace, county: County, out: TextIO) -> int:
    groups = []
    for s in choose(county.stations, area=args.area):
        labels = {"station": s.id, "area": s.area}
        if s.township:
            labels["township"] = s.township
        groups.append({"targets": [s.address], "labels": labels})
    out.write(json.dumps(groups, ensure_ascii=False, indent=1) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        county = load(args.stations)
    except StationListError as exc:
        print(f"站点清单有误 the station list is not usable ({args.stations}):", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2

    async def go() -> int:
        async with _http(args) as http:
            return await run_command(args, county, http)

    try:
        return asyncio.run(go())
    except (StationListError, ValueError, OSError) as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _http(args: argparse.Namespace) -> httpx.AsyncClient:
    """Stations are on the county's LAN/VPN: no proxy from the environment."""
    limits = httpx.Limits(max_connections=args.concurrency,
                          max_keepalive_connections=args.concurrency)
    return httpx.AsyncClient(limits=limits, trust_env=False)


if __name__ == "__main__":
    sys.exit(main())
