"""The crash matrix (issue 10, "Done means"): ``kill -9`` at random moments, ``safe-off``,
restart, and nothing a person relies on is lost.

One simulated station (``run --sim`` at 120×, its data directory kept from run to run) is
driven by a thread doing what a storm night brings, at random: a villager holds the hand
alarm and lets go, it rains on the gauge simulator, the county starts broadcasts with
idempotency keys and sends SMS, spot checks come and are answered, duty officers sign in
and acknowledge alarms, a 叫应 tier answers ``1`` by SMS. At a random moment the station
is killed with SIGKILL, ``station-edge safe-off`` runs as systemd would, and the station
is started again on the same data. Then:

* every GPIO output is OFF after safe-off (the mock GPIO latch says what a Pi's kernel
  would hold), and so is every remote siren coil (the I/O-module simulator runs outside
  the station, :func:`tests.restarts.outside_world`, and keeps what a killed station left);
* every alarm seen open (a second before the kill) and never acknowledged is back under
  its id; every one acknowledged with a 200 is not active at the level acknowledged;
  every active one sounds again (its broadcast is requested; an evacuation sounds the
  sirens); with none active, the sirens stay silent;
* no acknowledged write is lost: an SMS answered 202 is in the outbox file, a spot check
  answered 201 is in the journal, a panel session still signs in;
* every idempotency key answered gets its first answer again, and never a second broadcast;
* the station's clock went on, and the journal has no gap.

:func:`run_matrix` returns the figures; ``tests/test_crash_matrix.py`` runs a few kills,
``bench/crash_matrix.py --runs 50`` many.
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx

from tests.helpers import SIM_OPERATOR, SIM_VIEWER, ConfigFor, SimStationProcess, wait_for
from tests.restarts import (
    alarms,
    events,
    gauge_control,
    kill_9,
    outputs_left_on,
    remote_coils_left_on,
    safe_off,
    sirens_sounded,
    station_time,
    terminal,
    this_run,
)

TIME_SCALE = 120
HAND_ALARM_PIN = 6
TIER1 = "+8613800000002"
#: An alarm must have been seen this long (real seconds) before the kill to count as
#: told to someone: the state store writes in milliseconds, a loaded machine is slower.
SEEN_MARGIN_S = 1.0
BROADCAST = {"message": "test", "type": "drill", "priority": "routine", "repeat": 1}
KEY_KEPT = timedelta(hours=23)
STORMS = ("profile 1 constant:300", "profile 1 constant:120", "profile 1 none")


@dataclass
class Ledger:
    """What the station answered (so promised), across every run of the matrix."""

    keys: dict[str, tuple[int, Any]] = field(default_factory=dict)
    acked: dict[str, str] = field(default_factory=dict)  # alarm id -> level acknowledged
    ack_tried: set[str] = field(default_factory=set)  # answered or not
    sms: set[int] = field(default_factory=set)
    checkins: set[str] = field(default_factory=set)
    sessions: list[tuple[str, str, float]] = field(default_factory=list)  # cookie, csrf, when
    seen: dict[str, float] = field(default_factory=dict)  # alarm id -> first seen (monotonic)
    clock: datetime | None = None
    actions: int = 0


@dataclass
class RunResult:
    run: int
    kill_after_s: float
    actions: int
    problems: list[str]
    coils_checked: bool
    restart_s: float
    coils_on_at_kill: int = 0  # remote coils a killed station left ON (safe-off's work)


@dataclass
class MatrixResult:
    runs: list[RunResult]
    seed: int

    @property
    def failures(self) -> list[RunResult]:
        return [r for r in self.runs if r.problems]


class Driver(threading.Thread):
    """Random storm-night actions against one station until :meth:`halt`."""

    def __init__(self, station: SimStationProcess, ledger: Ledger, rng: random.Random,
                 run: int) -> None:
        super().__init__(name=f"crash-matrix-driver-{run}", daemon=True)
        self.station = station
        self.ledger = ledger
        self.rng = rng
        self.run_number = run
        self.http = httpx.Client(base_url=station.base_url, timeout=10)
        self._halt = threading.Event()
        self._count = 0
        self.actions: list[Callable[[], None]] = [
            self.look, self.look, self.hand_alarm, self.ack, self.ack, self.broadcast,
            self.broadcast, self.sms, self.checkin, self.sign_in, self.answer_callout,
            self.weather,
        ]

    def halt(self) -> None:
        self._halt.set()
        self.join()
        self.http.close()

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                self.rng.choice(self.actions)()
                self.ledger.actions += 1
            except (httpx.HTTPError, OSError, ValueError, KeyError):
                pass  # the kill cut it short: nothing was acknowledged
            self._halt.wait(self.rng.uniform(0.01, 0.15))

    def _key(self) -> str:
        self._count += 1
        return f"run{self.run_number}-{self._count}"

    def look(self) -> None:
        now = time.monotonic()
        for alarm_id in self.http.get("/api/v1/alarms", headers=SIM_VIEWER).json()["alarms"]:
            self.ledger.seen.setdefault(alarm_id["id"], now)
        health = self.http.get("/api/v1/health", headers=SIM_VIEWER).json()
        self.ledger.clock = datetime.fromisoformat(health["time"].replace("Z", "+00:00"))

    def hand_alarm(self) -> None:
        level = self.rng.choice((0, 0, 1))  # held more often than let go
        self.http.post(f"/api/v1/sim/gpio/{HAND_ALARM_PIN}", json={"level": level},
                       headers=SIM_OPERATOR)

    def ack(self) -> None:
        active = [a for a in self.http.get("/api/v1/alarms", headers=SIM_VIEWER).json()["alarms"]
                  if a["state"] == "active"]
        if not active:
            return
        alarm = self.rng.choice(active)
        self.ledger.ack_tried.add(alarm["id"])
        reply = self.http.post(f"/api/v1/alarms/{alarm['id']}/ack", headers=SIM_OPERATOR)
        if reply.status_code == 200:
            self.ledger.acked[alarm["id"]] = reply.json()["level"]

    def broadcast(self) -> None:
        key = self._key()
        headers = {**SIM_OPERATOR, "Idempotency-Key": key}
        reply = self.http.post("/api/v1/broadcasts", json=BROADCAST, headers=headers)
        if reply.status_code == 202:
            self.ledger.keys[key] = (reply.status_code, reply.json())

    def sms(self) -> None:
        reply = self.http.post("/api/v1/satphone/sms", headers=SIM_OPERATOR,
                               json={"to": TIER1, "text": f"崩溃测试短信 {self._key()}"})
        if reply.status_code == 202:
            self.ledger.sms.add(reply.json()["id"])

    def checkin(self) -> None:
        if self.rng.random() < 0.5:
            reply = self.http.post("/api/v1/checkins", headers=SIM_VIEWER)
            if reply.status_code == 201:
                self.ledger.checkins.add(reply.json()["id"])
        else:
            self.http.post("/api/v1/checkins/answer", headers=SIM_OPERATOR)

    def sign_in(self) -> None:
        reply = self.http.post("/api/v1/sign-in", json={"token": "sim-operator"})
        if reply.status_code == 200:
            cookie = reply.cookies["station_session"]
            self.ledger.sessions.append((cookie, reply.json()["csrf"], time.monotonic()))

    def answer_callout(self) -> None:
        terminal(self.station, "deliver_sms", **{"from": TIER1}, text="1")

    def weather(self) -> None:
        gauge_control(self.station, self.rng.choice(STORMS))


def replayed(keys: dict[str, tuple[int, Any]], now: datetime,
             salt: int) -> list[tuple[str, tuple[int, Any]]]:
    """The keys to replay after a restart: those answered within the last 23 (simulated)
    hours (a key is kept 24 h; at 120× a day is twelve minutes), the newest twenty and ten
    older ones at random (replaying every key after every kill costs more than it tells)."""
    items = [(key, answer) for key, answer in keys.items()
             if now - datetime.fromisoformat(answer[1]["created"].replace("Z", "+00:00"))
             < KEY_KEPT]
    newest, older = items[-20:], items[:-20]
    return newest + random.Random(salt).sample(older, min(10, len(older)))


def check_after_kill(data_dir: Path, ledger: Ledger) -> list[str]:
    """What the files say right after kill -9 and safe-off."""
    problems = []
    done = safe_off(data_dir)
    if done.returncode != 0:
        problems.append(f"safe-off exited {done.returncode}: {done.stderr.strip()[-300:]}")
    if left := outputs_left_on(data_dir):
        problems.append(f"GPIO outputs still ON after safe-off: {left}")
    if coils := remote_coils_left_on(data_dir):
        problems.append(f"remote coils still ON after safe-off: {coils}")
    conn = sqlite3.connect(f"file:{data_dir / 'satphone' / 'outbox.db'}?mode=ro", uri=True)
    try:
        stored = {row[0] for row in conn.execute("SELECT id FROM outbox")}
    finally:
        conn.close()
    if lost := sorted(ledger.sms - stored):
        problems.append(f"SMS answered 202 but not in the outbox: {lost}")
    return problems


def sounding(journal: list[dict[str, Any]], alarm: dict[str, Any]) -> bool:
    """The alarm acts again in this run: its broadcast requested and, for an evacuation,
    the siren relay switched ON (read from the journal: a cadence's ON phase at 120× is
    too short to catch by polling the pin)."""
    requested = any(e["kind"] == "broadcast.requested"
                    and e["data"]["broadcast"].get("labels", {}).get("alarm") == alarm["id"]
                    for e in journal)
    return requested and (alarm["level"] != "evacuate" or sirens_sounded(journal))


def raised_in(run: list[dict[str, Any]], now_alarms: dict[str, dict[str, Any]]) -> list[str]:
    """Alarms raised or escalated in this run and still unacknowledged: a cause for sirens
    that the kill did not leave behind (the storm on the gauge, or the hand alarm's button,
    held through the restart, goes on after the station's first look at its alarms)."""
    fresh = {e["source"] for e in run if e["kind"] in ("alarm.raised", "alarm.escalated")}
    return [a for a in fresh if now_alarms.get(a, {}).get("state") == "active"]


def check_after_restart(station: SimStationProcess, ledger: Ledger, killed_at: float,
                        killed_sessions: list[tuple[str, str, float]]) -> list[str]:
    problems = []
    now_alarms = alarms(station)
    active = [a for a in now_alarms.values() if a["state"] == "active"]
    for alarm in active:  # first: an alarm's actions stop at its maximum on-time
        try:
            wait_for(f"alarm {alarm['id']} ({alarm['level']}) sounding again",
                     lambda a=alarm: sounding(this_run(station), a), timeout=30, interval=0.1)
        except AssertionError as exc:
            problems.append(str(exc))
    if not active:
        start = station_time(station)
        wait_for("half a simulated minute", lambda: (station_time(station) - start).seconds > 30)
        run = this_run(station)
        if sirens_sounded(run) and not raised_in(run, alarms(station)):
            problems.append("sirens sounded with no unacknowledged alarm")
    for alarm_id, seen in ledger.seen.items():
        if seen < killed_at - SEEN_MARGIN_S and alarm_id not in now_alarms \
                and alarm_id not in ledger.ack_tried:  # only an acknowledgement clears one
            problems.append(f"alarm {alarm_id} seen open before the kill is gone")
    for alarm_id, level in ledger.acked.items():
        alarm = now_alarms.get(alarm_id)
        if alarm is not None and alarm["state"] == "active" and alarm["level"] == level:
            problems.append(f"alarm {alarm_id} acknowledged at {level} is active again")
    journal = events(station)
    for key, (status, body) in replayed(ledger.keys, station_time(station), ledger.actions):
        again = station.post("/api/v1/broadcasts", BROADCAST,
                             headers={**SIM_OPERATOR, "Idempotency-Key": key})
        if (again.status_code, again.json()) != (status, body):
            problems.append(f"key {key}: replay answered {again.status_code} {again.text[:200]}")
    accepted: dict[str, list[datetime]] = {}
    for e in journal:
        if e["kind"] == "broadcast.accepted" and e["data"].get("idempotency_key"):
            at = datetime.fromisoformat(e["ts"].replace("Z", "+00:00"))
            accepted.setdefault(e["data"]["idempotency_key"], []).append(at)
    if doubled := sorted(k for k, times in accepted.items()
                         if any(b - a < KEY_KEPT for a, b in pairwise(times))):
        problems.append(f"keys that started a second broadcast within a day: {doubled}")
    started = {e["source"] for e in journal if e["kind"] == "checkin.started"}
    if lost := sorted(ledger.checkins - started):
        problems.append(f"spot checks answered 201 but not journaled: {lost}")
    for cookie, csrf, when in killed_sessions:
        if when > killed_at - SEEN_MARGIN_S:
            continue  # sign-in does not wait for the disk (a lost one is a sign-out)
        who = station.get("/api/v1/session", headers={"Cookie": f"station_session={cookie}"})
        if who.status_code != 200 or who.json().get("csrf") != csrf:
            problems.append(f"a panel session was signed out: {who.status_code}")
    if ledger.clock is not None and station_time(station) < ledger.clock:
        problems.append(f"the clock went back: {station_time(station)} < {ledger.clock}")
    seqs = [e["seq"] for e in journal]
    if seqs != list(range(seqs[0], seqs[0] + len(seqs))):
        problems.append("a gap in the journal")
    return problems


StartStation = Callable[[], SimStationProcess]
"""Starts the station on its data directory (the same each time) and waits until it answers."""


def station_in(base: Path, config: ConfigFor) -> StartStation:
    """Stations in ``base/data`` on the devices of :func:`tests.restarts.outside_world`
    (the tests use their ``sim_station`` fixture instead)."""
    def start() -> SimStationProcess:
        station = SimStationProcess(base / "data", config=config)
        station.wait_ready()
        return station
    return start


def run_matrix(start: StartStation, runs: int, seed: int,
               progress: Callable[[RunResult], None] | None = None) -> MatrixResult:
    """``runs`` kills of one station; every run's problems."""
    rng = random.Random(seed)
    ledger = Ledger()
    results: list[RunResult] = []
    station = start()
    try:
        for run in range(1, runs + 1):
            driver = Driver(station, ledger, rng, run)
            before = ledger.actions
            kill_after = rng.uniform(0.3, 3.0)
            driver.start()
            time.sleep(kill_after)  # the random moment itself
            killed_at = time.monotonic()
            kill_9(station)
            driver.halt()
            on_at_kill = remote_coils_left_on(station.data_dir) or []
            sessions, ledger.sessions = ledger.sessions, []
            problems = check_after_kill(station.data_dir, ledger)
            began = time.monotonic()
            station = start()
            restart_s = time.monotonic() - began
            problems += check_after_restart(station, ledger, killed_at, sessions)
            ledger.seen = {i: t for i, t in ledger.seen.items() if i in alarms(station)}
            result = RunResult(run, kill_after, ledger.actions - before, problems,
                               remote_coils_left_on(station.data_dir) is not None, restart_s,
                               len(on_at_kill))
            results.append(result)
            if progress is not None:
                progress(result)
    finally:
        station.kill()
    return MatrixResult(results, seed)
