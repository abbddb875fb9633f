"""First-report latency while a routine multipart SMS is stuck, before and after.

Run: ``python bench/bench_first_report.py [--before REF] [--scale 10] [--link-s 6]``

The real channel, modem and persistent outbox of a tree run on the simulated terminal
(this tree's hw-sim/at_modem_sim.py, generic/Tiantong personality, over a pty), each at
its own default timeouts. Each ``+CMGS`` takes ``--link-s`` simulated seconds on the
satellite link (an assumption: a geostationary hop needs ~8 radio round trips of 0.55 s
plus the SMS centre). A routine three-part SMS is queued; its second part is never
answered by the terminal (``unanswered_cmgs``); while it hangs, a first report (首报)
is queued. Two figures, in simulated seconds (the station runs on a sped-up clock,
``--scale``): *handed over* = from queuing the report to the outbox handing it to the
modem (what the stuck send cost it); *accepted* = … to the terminal answering its
``+CMGS`` (adds the report's own time on the link). Two cases: the stuck message
alone, and with one more routine two-part SMS queued behind it.

``--before REF`` checks REF out into a temporary git worktree (e.g. the commit this
branch started from), runs the same scenario against that tree's code in a child
process, removes the worktree, and prints both figures and their ratio. Target: the
report leaves within one per-part timeout of the stuck send.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import inspect
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SIM = REPO / "hw-sim" / "at_modem_sim.py"
NUMBER = "+8613800000002"
REPORTER = "+8613800000001"
BODY = "后山雨量站1小时雨量52.3毫米，已达立即转移，警报已启动，请立即组织群众转移。"
ROUTINE_3 = (BODY * 6)[:180]  # 67 + 67 + 46 UCS2 characters
ROUTINE_2 = (BODY * 4)[:120]
REPORT = "【沙沟镇应急管理站】" + BODY[:40]


async def control(port: int, cmd: str, **params: Any) -> dict[str, Any]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(json.dumps({"cmd": cmd, **params}).encode() + b"\n")
        reply: dict[str, Any] = json.loads(await reader.readline())
    finally:
        writer.close()
        await writer.wait_closed()
    if not reply["ok"]:
        raise RuntimeError(reply)
    return reply


async def scenario(scale: float, link_s: float, backlog: bool) -> dict[str, Any]:
    """One run on whatever tree ``sat_phone`` is imported from."""
    from drivers.clock import SystemClock
    from sat_phone.at_channel import AtChannel, ChannelState
    from sat_phone.modem import Modem, ModemSettings
    from sat_phone.outbox import Outbox

    with tempfile.TemporaryDirectory() as tmp:
        link = Path(tmp) / "ttySAT"
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(SIM), "--personality", "generic", "--link", str(link),
            "--submit-delay", str(link_s / scale),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        assert proc.stdin is not None and proc.stdout is not None
        port = int((await proc.stdout.readline()).split()[1])
        await proc.stdout.readline()
        clock = SystemClock(time_scale=scale)
        settings = ModemSettings(personality="generic", poll_interval_s=3600)
        channel = AtChannel(str(link), clock=clock)
        modem = Modem(channel, clock=clock, settings=settings)
        sent: dict[int, float] = {}
        done = asyncio.Event()

        def attempt(a: Any) -> None:
            if a.ok:
                sent[a.sms.id] = clock.monotonic()
                done.set()

        handed: dict[str, float] = {}

        async def send(number: str, text: str, **kw: Any) -> list[int]:
            handed.setdefault(text, clock.monotonic())
            return await modem.send_sms(number, text, **kw)

        outbox = Outbox(Path(tmp) / "outbox.db", send=send, clock=clock, on_attempt=attempt)
        ranked = "priority" in inspect.signature(outbox.enqueue).parameters
        try:
            ready = asyncio.Event()
            channel.add_state_listener(lambda s: ready.set() if s is ChannelState.READY else None)
            modem.add_status_listener(lambda s: ready.set() if s.status == "ok" else None)
            await channel.start()
            await modem.start()
            while modem.status.status != "ok":
                ready.clear()
                await ready.wait()
            await outbox.start()
            await control(port, "fault", name="unanswered_cmgs", skip=1)
            outbox.enqueue(NUMBER, ROUTINE_3, tag="api")
            await control(port, "wait_command", match="AT+CMGS=", count=2)  # part 2 hangs
            if backlog:
                outbox.enqueue(NUMBER, ROUTINE_2, tag="api")
            queued = clock.monotonic()
            extra: dict[str, Any] = {}
            if ranked:
                from sat_phone.outbox import SmsPriority
                extra["priority"] = SmsPriority.REPORT
            report = outbox.enqueue(REPORTER, REPORT, tag="report:bench", **extra)
            while report not in sent:
                done.clear()
                await done.wait()
            delivered = await control(port, "outbox")
            assert any(m["text"] == REPORT and m["complete"] for m in delivered["messages"])
            return {"handed_s": handed[REPORT] - queued, "accepted_s": sent[report] - queued,
                    "part_timeout_s": settings.sms_timeout_s}
        finally:
            await outbox.close()
            await modem.close()
            await channel.close()
            proc.stdin.close()
            await proc.stdout.read()
            await proc.wait()


def run_here(args: argparse.Namespace) -> list[dict[str, Any]]:
    import sat_phone

    tree = str(Path(sat_phone.__file__).resolve().parents[1])
    return [{**asyncio.run(scenario(args.scale, args.link_s, backlog)), "tree": tree}
            for backlog in (False, True)]


def run_before(ref: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    """The same scenario on REF's code, in a child process on a temporary worktree."""
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "before"
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "--quiet",
                        str(tree), ref], check=True)
        try:
            env = {**os.environ, "PYTHONPATH": str(tree)}
            child = subprocess.run(
                [sys.executable, __file__, "--json", "--scale", str(args.scale),
                 "--link-s", str(args.link_s)],
                env=env, cwd=tree, check=True, capture_output=True, text=True)
        finally:
            with contextlib.suppress(subprocess.CalledProcessError):
                subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force",
                                str(tree)], check=True)
        results: list[dict[str, Any]] = json.loads(child.stdout.splitlines()[-1])
        if not all(Path(r["tree"]) == tree.resolve() for r in results):
            raise RuntimeError(f"the child did not run {ref}'s code: {results}")
        return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", metavar="REF", help="also run REF's code (a git ref)")
    parser.add_argument("--scale", type=float, default=10.0, help="clock speed-up")
    parser.add_argument("--link-s", type=float, default=6.0, help="simulated s per +CMGS")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.json:
        print(json.dumps(run_here(args)))
        return
    cases = ("a routine 3-part SMS stuck", "… and a routine 2-part SMS queued behind it")
    before = run_before(args.before, args) if args.before else None
    after = run_here(args)
    print(f"first report queued while part 2 of a routine SMS hangs; +CMGS takes "
          f"{args.link_s:g} s on the link; clock x{args.scale:g}; simulated seconds")
    for i, case in enumerate(cases):
        print(case)
        runs = [("after", after[i])] + ([(f"before ({args.before})", before[i])]
                                        if before is not None else [])
        for name, run in runs:
            print(f"  {name:<16} handed over {run['handed_s']:6.1f} s, accepted "
                  f"{run['accepted_s']:6.1f} s; part timeout {run['part_timeout_s']:g} s, "
                  f"handed over {run['handed_s'] - run['part_timeout_s']:+.1f} s after it")
        if before is not None:
            print(f"  before/after: handed over "
                  f"{before[i]['handed_s'] / after[i]['handed_s']:.2f}x, accepted "
                  f"{before[i]['accepted_s'] / after[i]['accepted_s']:.2f}x")

if __name__ == "__main__":
    main()
