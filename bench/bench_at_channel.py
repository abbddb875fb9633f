"""How fast the AT path is: the parser alone, and commands through the channel.

Run: ``python bench/bench_at_channel.py [--commands N] [--lines N]``. The channel
figure is measured against the simulated terminal (hw-sim/at_modem_sim.py) over a
real pty, so it includes the simulator's own turnaround; a real terminal at 19200
baud (about 1900 bytes/s) is far slower, which is the point: the channel must never
be the bottleneck.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from drivers.clock import SystemClock
from sat_phone.at_channel import AtChannel, ChannelState
from sat_phone.at_parser import AtParser

SIM = Path(__file__).resolve().parents[1] / "hw-sim" / "at_modem_sim.py"
SAMPLE = (
    b"\r\n+CSQ: 17,99\r\n\r\nOK\r\n"
    b'\r\n+CMTI: "SM",3\r\n'
    b"\r\n+CMGR: 0,,30\r\n"
    b"07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07\r\n"
    b"\r\nOK\r\n\r\n+CREG: 0,1\r\n\r\nOK\r\n"
)
SAMPLE_LINES = 8


def bench_parser(lines: int) -> None:
    repeats = lines // SAMPLE_LINES
    data = SAMPLE * repeats
    for chunk_size in (4096, 64, 7):
        parser = AtParser()
        start = time.perf_counter()
        events = 0
        for i in range(0, len(data), chunk_size):
            events += len(parser.feed(data[i : i + chunk_size]))
        elapsed = time.perf_counter() - start
        rate = repeats * SAMPLE_LINES / elapsed
        print(f"parser, {chunk_size:>4}-byte chunks: {rate:12,.0f} lines/s ({events} events)")


async def bench_channel(commands: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        link = Path(tmp) / "ttySAT"
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(SIM), "--link", str(link),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )
        assert proc.stdin is not None and proc.stdout is not None
        await proc.stdout.readline()
        await proc.stdout.readline()
        channel = AtChannel(str(link), clock=SystemClock())
        ready = asyncio.Event()
        channel.add_state_listener(lambda s: ready.set() if s is ChannelState.READY else None)
        await channel.start()
        try:
            await ready.wait()
            await channel.command("ATE0")
            for command, prefix in (("AT", None), ("AT+CSQ", "+CSQ:")):
                start = time.perf_counter()
                for _ in range(commands):
                    await channel.command(command, prefix=prefix)
                elapsed = time.perf_counter() - start
                print(f"channel, {command:<7}: {commands / elapsed:12,.0f} commands/s "
                      f"({elapsed / commands * 1000:.2f} ms each, {commands} commands)")
        finally:
            await channel.close()
            proc.stdin.close()
            await proc.stdout.read()
            await proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--commands", type=int, default=2000)
    parser.add_argument("--lines", type=int, default=400_000)
    args = parser.parse_args()
    bench_parser(args.lines)
    asyncio.run(bench_channel(args.commands))


if __name__ == "__main__":
    main()
