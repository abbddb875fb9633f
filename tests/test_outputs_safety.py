"""Outputs: OFF at start, cut after their maximum on-time (never silently), OFF at stop."""

from __future__ import annotations

from pathlib import Path

from drivers.gpio import PinLatch
from tests.helpers import StationRun, sim_config


async def test_every_output_is_off_at_start_even_if_left_on_by_a_killed_predecessor(
    tmp_path: Path,
) -> None:
    PinLatch(tmp_path / "sim-gpio-latch.json").write(16, True)
    PinLatch(tmp_path / "sim-gpio-latch.json").write(23, True)
    async with StationRun(sim_config(tmp_path)) as run:
        assert run.station.outputs.energised() == []
        assert not any(PinLatch(tmp_path / "sim-gpio-latch.json").read().values())
        started = (await run.settled_events("station.started"))[0]["data"]
        assert started["latched_on_before"] == [16, 23]
        assert "siren-1" in started["outputs_driven_off"]


async def test_an_output_past_its_maximum_on_time_is_cut_and_reported(tmp_path: Path) -> None:
    config = sim_config(tmp_path, **{'relay = 16': 'relay = 16\nmax_on_s = 60'})
    async with StationRun(config) as run:
        outputs, health = run.station.outputs, run.station.health
        await outputs.set("siren-1", True, actor="test", reason="test")
        await run.clock.advance(59)
        assert outputs["siren-1"].switch.is_on
        await run.clock.advance(1.5)
        assert not outputs["siren-1"].switch.is_on
        assert health.get("siren-1").status == "fault"
        assert "cut after 60 s" in health.get("siren-1").detail
        assert health.status() == "fault"
        assert outputs["panel.fault_led"].switch.is_on, "a fault lights the fault LED"
        kinds = [e["kind"] for e in await run.settled_events() if e["source"] == "siren-1"]
        assert kinds[-6:] == ["output.switching", "output.switched", "fault.max_on_time",
                              "output.switching", "output.switched", "health.changed"]
        assert outputs["siren-1"].cut_count == 1


async def test_the_watchdog_that_sleeps_until_due_cuts_a_later_nearer_deadline_on_time(
    tmp_path: Path,
) -> None:
    """The watchdog sleeps until the next deadline (the amplifier's, 1800 s away); a siren
    switched ON later with a nearer one wakes it, and is cut at 60 s, not a tick later."""
    config = sim_config(tmp_path, **{'relay = 16': 'relay = 16\nmax_on_s = 60'})
    async with StationRun(config) as run:
        outputs = run.station.outputs
        await run.clock.advance(500)
        await outputs.set("amplifier.power", True, actor="test", reason="test")
        await run.clock.advance(100.1)
        await outputs.set("siren-1", True, actor="test", reason="test")
        await run.clock.advance(59.9)
        assert outputs["siren-1"].switch.is_on
        await run.clock.advance(0.2)
        assert not outputs["siren-1"].switch.is_on
        assert outputs["amplifier.power"].switch.is_on
        cut = [e for e in await run.settled_events("fault.max_on_time")]
        assert [(e["source"], e["data"]["on_for_s"]) for e in cut] == [("siren-1", 60.0)]
        await run.clock.advance(1800 - 160.2)
        assert not outputs["amplifier.power"].switch.is_on
        cut = [e for e in await run.settled_events("fault.max_on_time")]
        assert [(e["source"], e["data"]["on_for_s"]) for e in cut][-1] == ("amplifier.power",
                                                                            1800.0)


async def test_stop_drives_outputs_off_and_journals_what_was_interrupted(tmp_path: Path) -> None:
    run = StationRun(sim_config(tmp_path))
    await run.__aenter__()
    await run.station.outputs.set("amplifier.power", True, actor="test", reason="test")
    run.station.request_stop("SIGTERM")
    await run.station.stop()
    assert not any(PinLatch(tmp_path / "sim-gpio-latch.json").read().values())
    from edge.journal import Journal

    stopping = Journal(tmp_path / "journal.db", run.clock).read(limit=1000)
    event = next(e for e in stopping if e["kind"] == "station.stopping")
    assert event["data"]["outputs_interrupted"] == ["amplifier.power"]
    assert event["data"]["reason"] == "SIGTERM"
