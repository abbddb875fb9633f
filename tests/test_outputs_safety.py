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
