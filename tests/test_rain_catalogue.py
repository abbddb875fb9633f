"""The gauge catalogue: ``model = …`` reads exactly what the explicit keys read.

The explicit maps below are written from the makers' documents (docs/gauges/), not
from the catalogue, so the test also holds the catalogue to those documents.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gauge_sim_process import GaugeSim

from drivers.clock import ManualClock
from drivers.modbus_bus import ModbusBus
from edge.config import ConfigError, parse
from edge.gauge_catalogue import register_map_for
from edge.rain import modbus_gauge
from sensors.gauge_events import GaugeEvent, RainIncrement

HEAD = '''
[station]
id = "SG-001"
name = "沙沟镇应急管理站"
data_dir = "/tmp/x"
[modbus.buses.rs485]
port = "/dev/ttyUSB0"
'''

EXPLICIT = {
    "xm9505": 'function = "holding"\nregister = 0\nwidth = 16\nscale_mm = 0.1\n'
              'bucket_mm = 0.1\nmax_tips_per_s = 10.0',
    "dfrobot-sen0575": 'function = "input"\nregister = 8\nwidth = 32\nword_order = "little"\n'
                       'scale_mm = 0.0001\nbucket_mm = 0.2794\nmax_tips_per_s = 10.0',
    "lambrecht-rain-e": 'function = "input"\nregister = 31101\nwidth = 32\nword_order = "big"\n'
                        'scale_mm = 0.001\nrollover = 3000000\nerror_values = [-9999999]\n'
                        'status_register = { register = 34901, function = "input", '
                        'fault_bits = 0x00FC }\nbucket_mm = 0.1\nmax_tips_per_s = 10.0',
}
UNITS = {"xm9505": 1, "dfrobot-sen0575": 2, "lambrecht-rain-e": 3}


def gauge_entry(gauge_id: str, unit: int, body: str) -> str:
    return f'\n[[rain_gauges]]\nid = "{gauge_id}"\nbus = "rs485"\nunit = {unit}\n{body}\n'


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse(HEAD + text)
    return caught.value.problems


def test_a_model_fills_the_map_and_keys_given_win() -> None:
    config = parse(HEAD + '\n[[rain_gauges]]\nid = "rg-1"\nbus = "rs485"\n'
                   'model = "lambrecht-rain-e"\nscale_mm = 0.01\n')
    gauge = config.rain_gauges[0]
    assert (gauge.unit, gauge.function, gauge.register_address, gauge.width) == (
        3, "input", 31101, 32)
    assert gauge.scale_mm == 0.01, "an explicit key overrides the model"
    m = register_map_for(gauge)
    assert m.error_values == {0xFF676981} and m.modulus == 3_000_000
    assert m.status is not None and m.status.register == 34901
    # the line takes the model's factory settings when it does not give its own
    bus = config.modbus.buses["rs485"]
    assert (bus.baudrate, bus.parity, bus.stopbits) == (19200, "E", 1)


def test_models_that_disagree_on_one_line_need_the_line_to_say() -> None:
    text = (gauge_entry("rg-1", 1, 'model = "xm9505"')
            + gauge_entry("rg-2", 3, 'model = "lambrecht-rain-e"'))
    found = problems(text)
    assert any(p.startswith("modbus.buses.rs485.baudrate: required: the gauge models")
               for p in found)
    assert any(p.startswith("modbus.buses.rs485.parity:") for p in found)
    config = parse(HEAD.replace('port = "/dev/ttyUSB0"', 'port = "/dev/ttyUSB0"\nbaudrate = 9600\n'
                                'parity = "N"') + text)
    assert config.modbus.buses["rs485"].baudrate == 9600


@pytest.mark.parametrize(("body", "expected"), [
    ('clear = { register = 0, value = 0x5A }', "rain_gauges[0].clear: removed: the station "
                                                "never zeroes a gauge's counter"),
    ('model = "tipper-3000"', "rain_gauges[0].model: must be 'xm9505'"),
    ('status_register = { register = 5 }', "rain_gauges[0].status_register: give fault_bits"),
    ('width = 16\nerror_values = [-9999999]',
     "rain_gauges[0].error_values: -9999999 does not fit"),
    ('width = 16\nrollover = 70000', "rain_gauges[0].rollover: must be 2..65536, got 70000"),
])
def test_bad_gauge_keys_are_refused_with_their_path(body: str, expected: str) -> None:
    assert any(p.startswith(expected) for p in problems(gauge_entry("rg-1", 1, body))), \
        problems(gauge_entry("rg-1", 1, body))


def test_two_gauges_at_one_address_and_a_pulse_model_are_refused() -> None:
    found = problems(gauge_entry("rg-1", 1, "") + gauge_entry("rg-2", 1, ""))
    assert "rain_gauges[1].unit: 1 on 'rs485' is already gauge 'rg-1'" in found
    found = problems('\n[[rain_gauges]]\nid = "rg-p"\nkind = "pulse"\npin = 20\n'
                     'model = "xm9505"\n')
    assert any(p.startswith("rain_gauges[0].model: a catalogue model is a Modbus gauge")
               for p in found)


@pytest.fixture
def sim() -> Iterator[GaugeSim]:
    with GaugeSim(*(arg for model, unit in UNITS.items()
                    for arg in ("--unit", f"{unit},model={model},start=1000"))) as s:
        yield s


async def test_each_model_by_name_reads_exactly_what_its_explicit_keys_read(
    sim: GaugeSim,
) -> None:
    by_model = "".join(gauge_entry(f"m-{u}", u, f'model = "{m}"') for m, u in UNITS.items())
    by_keys = "".join(gauge_entry(f"k-{u}", u, EXPLICIT[m]) for m, u in UNITS.items())
    line = '\nbaudrate = 9600\nparity = "N"\n'
    named = parse(HEAD.replace('/dev/ttyUSB0"', '/dev/ttyUSB0"' + line) + by_model)
    explicit = parse(HEAD.replace('/dev/ttyUSB0"', '/dev/ttyUSB0"' + line) + by_keys)
    for a, b in zip(named.rain_gauges, explicit.rain_gauges, strict=True):
        assert register_map_for(a) == register_map_for(b)
    clock = ManualClock()
    events: list[GaugeEvent] = []
    bus = ModbusBus(sim.url, timeout_s=0.3)
    try:
        gauges = [modbus_gauge(cfg, bus, clock, None, events.append)
                  for cfg in (*named.rain_gauges, *explicit.rain_gauges)]
        fell = 0.0
        for mm in (0.0, 0.3, 12.0, 0.1, 31.0, 2.7):  # a cloudburst minute among them
            sim.command(f"rain * {mm}")
            fell += mm
            await clock.advance(60)
            for gauge in gauges:
                await gauge.poll()
    finally:
        await bus.close()
    totals = {cfg.id: sum(e.mm for e in events
                          if isinstance(e, RainIncrement) and e.gauge_id == cfg.id)
              for cfg in (*named.rain_gauges, *explicit.rain_gauges)}
    for unit in UNITS.values():
        assert totals[f"m-{unit}"] == totals[f"k-{unit}"], "exactly the same totals"
        assert totals[f"m-{unit}"] == pytest.approx(fell, abs=0.1)
