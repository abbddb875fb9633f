"""Test-wide rules: every test ends clean.

A test that leaves a task, a thread, a child process or a file descriptor (a pty,
a socket, a database) open fails, because in the appliance such a leak is a relay
left driven or a serial port left locked.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from tests.helpers import ConfigFor, SimStationProcess

# Hypothesis's per-example deadline (200 ms) is a wall-clock assertion: on a loaded 2-core
# machine a correct parser missed it. Speed is the benchmarks' business, not the suite's.
settings.register_profile("station", deadline=None)
settings.load_profile("station")


def _child_pids() -> set[int]:
    """This process's living children (not zombies), from each of its threads' list of
    the children it started (``/proc/self/task/*/children``): not a scan of every process
    on the machine, twice a test."""
    children: set[int] = set()
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/children", "rb") as f:
                children.update(int(pid) for pid in f.read().split())
        except OSError:  # the thread ended meanwhile
            continue
    return {pid for pid in children if not _is_zombie(pid)}


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except OSError:  # reaped meanwhile
        return True


def _open_fds() -> dict[int, str]:
    fds = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            fds[int(fd)] = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
    return fds


def _leaked_fds(before: dict[int, str]) -> list[str]:
    after = _open_fds()
    return [
        f"fd {fd} -> {target}"
        for fd, target in after.items()
        if before.get(fd) != target
        and not target.startswith(("anon_inode:", "/dev/urandom"))
        and "/proc/" not in target
    ]


@pytest.fixture(autouse=True)
def _ends_clean(request: pytest.FixtureRequest) -> Iterator[None]:
    threads_before = set(threading.enumerate())
    fds_before = _open_fds()
    children_before = _child_pids()
    yield
    deadline = time.monotonic() + 3.0
    while True:
        threads = [
            t for t in threading.enumerate()
            if t not in threads_before and t.is_alive() and not t.name.startswith("asyncio_")
        ]
        children = _child_pids() - children_before
        fds = _leaked_fds(fds_before)
        if not (threads or children or fds) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    problems = []
    if threads:
        problems.append(f"threads left running: {[t.name for t in threads]}")
    if children:
        problems.append(f"child processes left running: {sorted(children)}")
    if fds:
        problems.append(f"file descriptors left open: {fds}")
    if problems:
        pytest.fail("test did not end clean: " + "; ".join(problems))


@pytest.fixture
def sim_station(tmp_path: Path) -> Iterator[Callable[..., SimStationProcess]]:
    """Start ``station-edge run --sim`` processes that die with the test, pass or fail.

    ``sim_station("data", time_scale=120)`` starts one in ``tmp_path / "data"`` and waits
    until it answers (``ready=False``: do not wait); ``config=`` runs it from a config of
    the test's instead (see :class:`~tests.helpers.SimStationProcess`). Whatever the test
    left running, the station and its simulators are killed at teardown, before the
    clean-end check.
    """
    started: list[SimStationProcess] = []

    def start(name: str = "data", *args: str, time_scale: float | None = None,
              config: ConfigFor | None = None, ready: bool = True,
              port: int | None = None) -> SimStationProcess:
        station = SimStationProcess(tmp_path / name, *args, time_scale=time_scale,
                                    config=config, port=port)
        started.append(station)
        if ready:
            station.wait_ready()
        return station

    yield start
    for station in started:
        station.kill()


@pytest.fixture
async def _no_pending_tasks() -> object:
    yield
    current = asyncio.current_task()
    for _ in range(5):
        await asyncio.sleep(0)
    pending = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
    for task in pending:
        task.cancel()
    if pending:
        pytest.fail(f"tasks left pending: {[t.get_coro() for t in pending]}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if isinstance(item, pytest.Function) and asyncio.iscoroutinefunction(item.function):
            item.add_marker(pytest.mark.usefixtures("_no_pending_tasks"))
    items.sort(key=_slow_modules_first(items))


def _slow_modules_first(items: list[pytest.Item]) -> Callable[[pytest.Item], tuple[int, int]]:
    """Modules with slow tests (station processes, the browser, fuzzing) first, then those
    that mostly wait out a simulated device's silences (``waits``: Modbus timeouts, a
    pty's), each in its own order. ``make test`` hands whole modules to its workers
    (``--dist loadscope``: a module's fixtures are set up once, and a module whose tests
    build on each other, as the county fleet's do, runs in order on one worker); the long
    modules start first and the short in-process ones, which keep both cores busy, fill the
    gaps at the end."""
    first: dict[str, int] = {}
    rank: dict[str, int] = {}
    for index, item in enumerate(items):
        module = item.nodeid.split("::")[0]
        first.setdefault(module, index)
        mine = 0 if item.get_closest_marker("slow") else 1 if item.get_closest_marker(
            "waits") else 2
        rank[module] = min(rank.get(module, 2), mine)

    def key(item: pytest.Item) -> tuple[int, int]:
        module = item.nodeid.split("::")[0]
        return (rank[module], first[module])
    return key
