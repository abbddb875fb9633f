"""The station's outputs and buses, opened by a bring-up command while the daemon is
stopped: the same parts the daemon builds, in the same order and with the same rules.

Every GPIO output is claimed and driven OFF first (as at the daemon's start); switching
goes through the output registry, so it is journaled (intent, outcome; actor ``cli``)
and cut at its maximum on-time; at the end every output is OFF again and the journal
says what the command did. Files the command creates in ``data_dir`` keep the owner of
``data_dir``, so the daemon can open them later even if the command ran as root.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from types import TracebackType

from drivers.clock import Clock
from drivers.gpio import GpioChip
from drivers.modbus_bus import ModbusBus
from drivers.modbus_switch import CoilSwitch
from drivers.tasks import cancel_and_wait
from edge.cli.console import CommandFailed
from edge.cli.target import command_line
from edge.config import Config
from edge.health import Health
from edge.journal import Journal
from edge.modbus_lines import make_bus
from edge.outputs import Output, Outputs
from edge.state_files import own_like_parent

ACTOR = "cli"


def station_clock(config: Config) -> Clock:
    """The clock the daemon would run on: real time, or a simulated station's time, going
    on from where its last run left it (read, not moved: the daemon keeps the epoch)."""
    from drivers.clock import SystemClock
    from edge.sim.clock_epoch import sim_clock

    if config.sim is None:
        return SystemClock()
    return sim_clock(config.station.data_dir, config.sim.time_scale, keep=False)


def open_gpio(config: Config, clock: Clock) -> GpioChip:
    """The station's GPIO chip, or a :class:`CommandFailed` saying why not."""
    from edge.gpio_outputs import open_station_gpio

    try:
        return open_station_gpio(config, clock)
    except ImportError as exc:
        raise CommandFailed(f"the GPIO backend {config.gpio.backend!r} is not installed "
                            f"({exc}); on a Raspberry Pi: pip install '.[pi]'") from None
    except Exception as exc:  # lgpio raises its own error types when there is no chip
        raise CommandFailed(f"cannot open the GPIO chip (backend {config.gpio.backend!r}): "
                            f"{exc}; is this a Raspberry Pi with /dev/gpiochip*?") from None


class OfflineStation:
    """``async with OfflineStation(config, clock) as station:`` outputs, buses, journal."""

    def __init__(self, config: Config, clock: Clock, *, gpio: bool = True) -> None:
        self.config = config
        self.clock = clock
        self._want_gpio = gpio
        self.journal = Journal(config.station.data_dir / "journal.db", clock)
        self.health = Health(clock)
        self.outputs = Outputs(clock, self.journal, self.health)
        self.buses: dict[str, ModbusBus] = {}
        self.gpio: GpioChip | None = None
        self._watch: asyncio.Task[None] | None = None

    async def __aenter__(self) -> OfflineStation:
        from edge.gpio_outputs import claim_outputs

        self.journal.open()
        try:
            if self._want_gpio:
                self.gpio = open_gpio(self.config, self.clock)
                for output_id, (kind, switch, max_on_s) in claim_outputs(self.config,
                                                                         self.gpio).items():
                    self.outputs.add(Output(output_id, kind, switch, max_on_s))
            for name, cfg in self.config.modbus.buses.items():
                self.buses[name] = make_bus(name, cfg)
            for siren in self.config.sirens:
                if siren.bus is not None and siren.unit is not None and siren.coil is not None:
                    switch = CoilSwitch(self.buses[siren.bus], siren.unit, siren.coil)
                    self.outputs.add(Output(siren.id, "siren", switch, siren.max_on_s))
        except BaseException:
            await self._close()
            raise
        self.journal.record("bringup.started", "cli", ACTOR, command=command_line(),
                            outputs_driven_off=[o.id for o in self.outputs.all()])
        self._watch = asyncio.create_task(self.outputs.watch(), name="outputs-watch")
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        failed = await self.outputs.all_off(actor=ACTOR, reason="bring-up command over")
        self.journal.record("bringup.finished", "cli", ACTOR, command=command_line(),
                            outputs_not_off=failed,
                            error=f"{type(exc).__name__}: {exc}" if exc else None)
        await self._close()

    async def _close(self) -> None:
        await cancel_and_wait([self._watch])
        for bus in self.buses.values():
            await bus.close()
        if self.gpio is not None:
            self.gpio.close()
        self.journal.close()
        _own_journal_files(self.config.station.data_dir)

    async def switch(self, output_id: str, on: bool, reason: str) -> None:
        await self.outputs.set(output_id, on, actor=ACTOR, reason=reason)


def _own_journal_files(data_dir: Path) -> None:
    for name in ("journal.db", "journal.db-wal", "journal.db-shm"):
        with contextlib.suppress(OSError):
            own_like_parent(data_dir / name)


def output_ids(config: Config) -> dict[str, str]:
    """Every output id the station registers, with where it is wired."""
    from edge.wiring import wired_pins

    ids = {p.device_id: p.label for p in wired_pins(config) if p.direction == "output"}
    for siren in config.sirens:
        if siren.bus is not None:
            ids[siren.id] = f"{siren.bus} unit {siren.unit} coil {siren.coil}"
    return ids
