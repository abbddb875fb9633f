"""The station's configuration: one TOML file, validated completely before anything moves.

Every value is read with its type and range; an unknown key is an error (a typo must
not silently disable a siren); nothing is quietly repaired. Problems are reported all
together, each as ``key.path: reason``, e.g. ``rain_gauges[1].unit: must be 1..247, got 0``.
A file with any problem never starts the daemon and never energises an output.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import tomllib
from collections.abc import Iterator, Sequence
from datetime import time
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from edge.auth import placeholder_hash
from edge.config_errors import pydantic_problems, toml_problem
from edge.gauge_catalogue import register_map_for, with_model
from sensors.gauge_models import CATALOGUE, ModelName

DEFAULT_PATH = Path("/etc/station-edge/config.toml")
SIM_TOKENS = {"viewer": "sim-viewer", "operator": "sim-operator", "admin": "sim-admin"}
SIM_TOKEN_HASHES = {hashlib.sha256(t.encode()).hexdigest() for t in SIM_TOKENS.values()}
Window = Literal["10min", "30min", "1h", "3h", "6h", "12h", "24h"]
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$"


def _range(lo: float, hi: float) -> AfterValidator:
    def check(value: float) -> float:
        if not lo <= value <= hi:
            raise ValueError(f"must be {lo:g}..{hi:g}, got {value:g}")
        return value

    return AfterValidator(check)


def _proxy(value: str) -> str:
    try:
        ipaddress.ip_network(value)
    except ValueError:
        raise ValueError("must be the IP address or network of a proxy (10.0.0.5, "
                         f"10.8.0.0/24), got {value!r}") from None
    return value


def _absolute(value: Path) -> Path:
    if not value.is_absolute():
        raise ValueError(f"must be an absolute path, got {str(value)!r}")
    return value


def _listen(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"must be HOST:PORT, got {value!r}")
    return value


Pin = Annotated[int, _range(0, 27)]
Seconds = Annotated[float, _range(0.0, 86400.0)]
Unit = Annotated[int, _range(1, 247)]
Register = Annotated[int, _range(0, 65535)]
Id = Annotated[str, Field(pattern=ID_PATTERN)]


class Section(BaseModel):
    """Strict: a value of the wrong TOML type is an error, never converted
    (``"23"`` is not pin 23, ``"yes"`` is not true)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


#: A path given as a TOML string (strict mode would want a Path object).
PathValue = Annotated[Path, Field(strict=False)]


class StationConfig(Section):
    id: Id
    name: str = Field(min_length=1, max_length=64)
    data_dir: PathValue = Path("/var/lib/station-edge")


class TokenConfig(Section):
    name: str = Field(min_length=1, max_length=40)
    role: Literal["viewer", "operator", "admin"]
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class ApiConfig(Section):
    listen: Annotated[str, AfterValidator(_listen)] = "127.0.0.1:8080"
    tokens: list[TokenConfig] = []
    docs: bool = False
    allowed_hosts: list[Annotated[str, Field(min_length=1, max_length=253)]] | None = None
    max_body_kb: Annotated[int, _range(1, 16384)] = 64
    #: Reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (none by
    #: default: then a client is who connects, and no header can make it someone else).
    trusted_proxies: list[Annotated[str, AfterValidator(_proxy)]] = []


class GpioConfig(Section):
    backend: Literal["lgpio", "mock"] = "lgpio"
    debounce_s: Annotated[float, _range(0.0, 1.0)] = 0.05


class PanelConfig(Section):
    evacuate_button: Pin | None = None
    stop_button: Pin | None = None
    ack_button: Pin | None = None
    fault_led: Pin | None = None
    broadcast_led: Pin | None = None
    alarm_led: Pin | None = None
    buzzer: Pin | None = None
    hold_s: Annotated[float, _range(0.2, 10.0)] = 1.5
    #: The buzzer sounds (pulsed) for a new alarm until someone acknowledges it.
    buzzer_on_alarm: bool = True


#: [panel] keys that are not pin numbers.
PANEL_SETTINGS = frozenset({"hold_s", "buzzer_on_alarm"})


class AmplifierConfig(Section):
    power_relay: Pin
    warmup_s: Annotated[float, _range(0.0, 10.0)] = 2.0
    hold_s: Annotated[float, _range(0.0, 3600.0)] = 10.0
    max_on_s: Annotated[float, _range(1.0, 86400.0)] = 1800.0
    zones: dict[Id, Annotated[list[Pin], Field(min_length=1)]] = Field(min_length=1)
    #: What the duty officer reads for a zone, e.g. ``{ north = "北片（上村、下村）" }``
    #: (default: 全部区域 for ``all``, the zone's id otherwise).
    zone_names: dict[Id, Annotated[str, Field(min_length=1, max_length=40)]] = {}


class AudioConfig(Section):
    backend: Literal["sounddevice", "file"] = "sounddevice"
    device: str = "default"
    sample_rate: Literal[8000, 16000, 22050, 44100, 48000] = 16000
    #: Audio handed to the device at a time (one PortAudio callback, one file write):
    #: shorter starts a sound sooner, longer wakes the station less often and rides out a
    #: busy CPU better. At most the live queue (60 ms), which must hold a whole block.
    block_s: Annotated[float, _range(0.005, 0.06)] = 0.02


class BroadcastConfig(Section):
    evacuate_message: str = "evacuate"
    evacuate_repeat: Annotated[int, _range(1, 100)] = 3
    gap_s: Annotated[float, _range(0.0, 60.0)] = 3.0
    block_s: Annotated[float, _range(0.02, 0.5)] = 0.1


class TtsConfig(Section):
    voice: Annotated[str, Field(pattern=r"^[a-z0-9+-]{2,20}$")] = "cmn"
    words_per_minute: Annotated[int, _range(80, 450)] = 140


class MessageTextConfig(Section):
    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")]
    text: str = Field(min_length=1, max_length=500)
    gloss: str = ""


class MessagesConfig(Section):
    texts: list[MessageTextConfig] = []
    max_upload_mb: Annotated[float, _range(0.1, 200.0)] = 20.0
    max_duration_s: Annotated[float, _range(1.0, 1800.0)] = 180.0


Step = Annotated[str, Field(min_length=1, max_length=80)]


class ChecklistConfig(Section):
    """What the duty officer does next, per level, shown under an alarm on the panel.

    The village's own plan belongs here; the defaults follow the county's rules (叫应叫醒
    叫全叫走, half an hour to the oral report and one hour to the 首报 in the system) and
    the transfer questions 何时转、要转谁、人在哪、谁去转、转到哪、怎么管.
    """

    prepare: Annotated[list[Step], Field(max_length=12)] = [
        "叫应各村（社区）责任人和网格员，确认已收到",
        "核对危险区域人员名单：要转谁、人在哪",
        "检查转移路线和避险安置点，通知安置点做好准备",
        "向县应急管理局报告雨情",
        "密切关注雨量，随时准备发布立即转移",
    ]
    evacuate: Annotated[list[Step], Field(max_length=12)] = [
        "立即组织危险区域群众转移：谁去转、转到哪",
        "半小时内电话口头报告县应急管理局，1小时内系统首报",
        "叫应各村责任人，确认已收到并开始转移",
        "逐户核实转移人数，做到不漏一户一人（叫全叫走）",
        "转移后清点安置点人数，严防人员擅自返回",
    ]
    hand_alarm: Annotated[list[Step], Field(max_length=12)] = [
        "电话联系报警地点的村干部或网格员，核实险情",
        "险情属实：组织附近群众转移，并报告县应急管理局",
        "误报：到现场复位报警按钮，记录原因",
    ]


class AlarmsConfig(Section):
    """What an alarm does: 准备转移 speaks; 立即转移 and a hand alarm sound the sirens."""

    prepare_message: str = "prepare"
    evacuate_message: str = "evacuate"
    hand_alarm_message: str = "evacuate"
    siren_pattern: str = "urgent_warning"
    max_on_s: Annotated[float, _range(10.0, 86400.0)] = 1800.0
    checklist: ChecklistConfig = ChecklistConfig()


class CapConfig(Section):
    """CAP 1.2 alerts from the county (POST /api/v1/cap)."""

    area_codes: Annotated[list[Annotated[str, Field(pattern=r"^[0-9A-Za-z]{1,20}$")]],
                          Field(min_length=1, max_length=64)]
    latitude: Annotated[float, _range(-90.0, 90.0)] | None = None
    longitude: Annotated[float, _range(-180.0, 180.0)] | None = None
    accept_unlocated: bool = True
    require_signature: bool = False
    #: PEM files of the county's alert-signing certificates (pinned: see
    #: broadcast/cap_signature.py). With any, a signature is verified whenever one comes.
    trusted_certificates: list[Annotated[PathValue, AfterValidator(_absolute)]] = []
    require_china_profile: bool = False
    max_alert_kb: Annotated[int, _range(1, 16384)] = 8192


class SelfTestConfig(Section):
    """Daily silent and weekly audible tests of the broadcast chain (Beijing time)."""

    enabled: bool = True
    silent_daily_at: time = time(3, 0)
    audible_weekday: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = "mon"
    audible_at: time = time(10, 0)
    grace_s: Annotated[float, _range(60.0, 86400.0)] = 7200.0


class CheckinsConfig(Section):
    """Spot checks (一键通抽查 / 随机签到): how long the duty officer has to answer."""

    answer_within_s: Annotated[float, _range(10.0, 3600.0)] = 300.0


class MinSwitchConfig(Section):
    """The chatter guard: the least time (s) from a relay's last switch to its next ON.

    OFF is never delayed; an ON asked for sooner waits for the end of the interval, and
    the last request wins (see edge/output_rules.py). LEDs and the buzzer have no guard.
    """

    power_relay: Annotated[float, _range(0.0, 60.0)] = 2.0  # the amplifier's supply settles
    zone: Annotated[float, _range(0.0, 60.0)] = 0.5  # a zone relay on the 100 V line
    siren_relay: Annotated[float, _range(0.0, 60.0)] = 1.0  # a siren on a GPIO relay
    siren_coil: Annotated[float, _range(0.0, 60.0)] = 1.0  # a coil on a remote I/O module


class OutputsConfig(Section):
    min_switch_s: MinSwitchConfig = MinSwitchConfig()


class ModbusBusConfig(Section):
    port: str = Field(min_length=1)
    baudrate: Literal[1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200] = 9600
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    poll_interval_s: Annotated[float, _range(0.2, 3600.0)] = 1.0
    timeout_s: Annotated[float, _range(0.05, 5.0)] = 0.3
    quiet_s: Annotated[float, _range(0.0, 2.0)] = 0.05


class ModbusConfig(Section):
    buses: dict[Id, ModbusBusConfig] = {}


class SirenConfig(Section):
    id: Id
    name: str = ""
    relay: Pin | None = None
    bus: str | None = None
    unit: Unit | None = None
    coil: Register | None = None
    max_on_s: Annotated[float, _range(1.0, 7200.0)] = 600.0


class HandAlarmConfig(Section):
    id: Id
    name: str = ""
    pin: Pin | None = None
    bus: str | None = None
    unit: Unit | None = None
    discrete_input: Register | None = None
    hold_s: Annotated[float, _range(0.0, 10.0)] = 0.5


class StatusRegisterConfig(Section):
    """Where a gauge reports its own faults; which bits or whole values mean "broken"."""

    register_address: Register = Field(alias="register")
    function: Literal["holding", "input"] = "input"
    width: Literal[16, 32] = 16
    fault_bits: Annotated[int, _range(0, 0xFFFFFFFF)] = 0
    fault_values: list[Annotated[int, _range(0, 0xFFFFFFFF)]] = []


CLEAR_REMOVED = ("removed: the station never zeroes a gauge's counter (the cumulative count "
                 "is what rain is recovered from after a restart; wraps are counted); "
                 "delete the key (see docs/gauges/README.md)")


class RainGaugeConfig(Section):
    """A gauge. ``model = …`` fills in the counter's map from the catalogue; keys given win.

    ``register`` is the 0-based wire address; ``word_order`` orders 16-bit words (not
    bytes) of a 32-bit counter; ``scale_mm`` is millimetres per count.
    """

    id: Id
    name: str = ""
    kind: Literal["modbus", "pulse"] = "modbus"
    model: ModelName | None = None
    bus: str | None = None
    unit: Unit | None = None
    function: Literal["holding", "input"] = "holding"
    register_address: Register = Field(0, alias="register")
    width: Literal[16, 32] = 16
    word_order: Literal["big", "little"] = "big"
    scale_mm: Annotated[float, _range(0.00001, 10.0)] = 0.1
    rollover: Annotated[int, _range(2, 1 << 32)] | None = None
    status_register: StatusRegisterConfig | None = None
    error_values: list[Annotated[int, _range(-(1 << 31), (1 << 32) - 1)]] = []
    bucket_mm: Annotated[float, _range(0.001, 10.0)] = 0.2
    max_tips_per_s: Annotated[float, _range(0.1, 1000.0)] = 10.0
    clear: Any = None
    pin: Pin | None = None
    mm_per_tip: Annotated[float, _range(0.01, 5.0)] = 0.2
    offline_after: Annotated[int, _range(1, 100)] = 3
    online_after: Annotated[int, _range(1, 100)] = 2
    stale_after_s: Annotated[float, _range(1.0, 86400.0)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_catalogue(cls, data: Any) -> Any:
        return with_model(data)

    @field_validator("clear")
    @classmethod
    def _clear_removed(cls, value: Any) -> Any:
        if value is not None:
            raise ValueError(CLEAR_REMOVED)
        return value


class RainThresholdConfig(Section):
    gauge: str = "*"
    window: Window
    prepare_mm: Annotated[float, _range(0.1, 2000.0)]
    evacuate_mm: Annotated[float, _range(0.1, 2000.0)]
    clear_fraction: Annotated[float, _range(0.1, 1.0)] = 0.8


PhoneNumber = Annotated[str, Field(pattern=r"^\+?[0-9]{3,20}$")]


class CalloutTierConfig(Section):
    """One tier of 叫应: these people must answer (``1`` / ``收到``) within the time."""

    numbers: Annotated[list[PhoneNumber], Field(min_length=1)]
    answer_within_s: Annotated[float, _range(30.0, 86400.0)] = 600.0


class SatPhoneConfig(Section):
    port: str = Field(min_length=1)
    baudrate: Literal[9600, 19200, 38400, 57600, 115200] = 19200
    personality: Literal["generic", "iridium"] = "generic"
    poll_interval_s: Annotated[float, _range(5.0, 3600.0)] = 30.0
    report_numbers: list[PhoneNumber] = []
    report_name: str | None = Field(None, min_length=1, max_length=20)
    callout: list[CalloutTierConfig] = []
    whitelist: list[PhoneNumber] = []
    pin: Annotated[str, Field(pattern=r"^[0-9]{4,8}$")] | None = None
    pin_max_failures: Annotated[int, _range(1, 20)] = 3
    pin_lockout_s: Annotated[float, _range(60.0, 86400.0)] = 1800.0
    sms_max_attempts: Annotated[int, _range(1, 100)] = 20
    #: One +CMGS: TR1M (35-45 s, 3GPP TS 24.011) plus the satellite link's set-up.
    sms_part_timeout_s: Annotated[float, _range(20.0, 600.0)] = 60.0
    sweep_interval_s: Annotated[float, _range(10.0, 3600.0)] = 60.0
    delivery_reports: bool = True
    answer_calls: bool = True
    pin_entry_s: Annotated[float, _range(5.0, 120.0)] = 30.0
    call_max_s: Annotated[float, _range(10.0, 3600.0)] = 600.0
    audio_input: Literal["sounddevice", "socket"] = "sounddevice"
    audio_device: str = "default"
    audio_socket: PathValue | None = None


SipTarget = Annotated[str, Field(pattern=r"^(\+?[0-9]{3,20}|sips?:[^\s<>]{3,200})$")]


class SipWakeTierConfig(Section):
    """One tier of 叫醒: ring these people (numbers through the PBX, or SIP URIs)."""

    targets: Annotated[list[SipTarget], Field(min_length=1)]
    answer_within_s: Annotated[float, _range(15.0, 86400.0)] = 120.0


class SipConfig(Section):
    """Voice over SIP: 叫醒 calls, the SIP call-in broadcast, the duty-room phone."""

    listen: Annotated[str, AfterValidator(_listen)] = "0.0.0.0:5060"
    transports: Annotated[list[Literal["udp", "tcp"]], Field(min_length=1)] = ["udp", "tcp"]
    public_address: str | None = Field(None, min_length=1, max_length=253)
    user: str = Field("station", pattern=r"^[A-Za-z0-9_.+-]{1,64}$")
    domain: str | None = Field(None, min_length=1, max_length=253)
    registrar: Annotated[str, AfterValidator(_listen)] | None = None
    registrar_transport: Literal["udp", "tcp"] = "udp"
    username: str | None = Field(None, min_length=1, max_length=64)
    password: str | None = Field(None, min_length=1, max_length=128)
    #: The digest secret as the PBX keeps it: MD5 of ``username:realm:password`` (hex), so
    #: the config file holds no password in clear. Needs the PBX's ``realm``.
    password_ha1: str | None = Field(None, pattern=r"^[0-9a-fA-F]{32}$")
    realm: str = Field("*", min_length=1, max_length=128)
    register_every_s: Annotated[int, _range(5, 3600)] = 300
    #: RTP and RTCP ports, [low, high) (for the firewall); each call's are taken at random.
    rtp_ports: Annotated[list[Annotated[int, _range(1024, 65535)]],
                         Field(min_length=2, max_length=2)] = [10000, 20000]
    retry_after_s: Annotated[int, _range(1, 3600)] = 30
    wakeup: list[SipWakeTierConfig] = []
    wakeup_plays: Annotated[int, _range(1, 10)] = 3
    wakeup_key_wait_s: Annotated[float, _range(5.0, 120.0)] = 15.0
    callin_whitelist: list[SipTarget] = []
    pin: Annotated[str, Field(pattern=r"^[0-9]{4,8}$")] | None = None
    pin_entry_s: Annotated[float, _range(5.0, 120.0)] = 30.0
    call_max_s: Annotated[float, _range(10.0, 3600.0)] = 600.0
    callin_zones: list[Id] | None = None
    desk_phone: SipTarget | None = None
    desk_prefix: str = Field("9", pattern=r"^[0-9*#]{1,4}$")
    desk_ring_s: Annotated[float, _range(5.0, 300.0)] = 45.0


class JournalConfig(Section):
    retain_days: Annotated[int, _range(183, 3650)] = 183
    max_db_mb: Annotated[int, _range(8, 100000)] = 512
    min_free_mb: Annotated[int, _range(1, 100000)] = 64


class SimConfig(Section):
    time_scale: Annotated[float, _range(0.1, 3600.0)] = 1.0


class Config(Section):
    station: StationConfig
    api: ApiConfig = ApiConfig()
    gpio: GpioConfig = GpioConfig()
    panel: PanelConfig = PanelConfig()
    amplifier: AmplifierConfig | None = None
    audio: AudioConfig = AudioConfig()
    broadcast: BroadcastConfig = BroadcastConfig()
    tts: TtsConfig = TtsConfig()
    messages: MessagesConfig = MessagesConfig()
    outputs: OutputsConfig = OutputsConfig()
    sirens: list[SirenConfig] = []
    hand_alarms: list[HandAlarmConfig] = []
    modbus: ModbusConfig = ModbusConfig()
    alarms: AlarmsConfig = AlarmsConfig()
    cap: CapConfig | None = None
    self_test: SelfTestConfig = SelfTestConfig()
    checkins: CheckinsConfig = CheckinsConfig()
    rain_gauges: list[RainGaugeConfig] = []
    rain_thresholds: list[RainThresholdConfig] = []
    sat_phone: SatPhoneConfig | None = None
    sip: SipConfig | None = None
    journal: JournalConfig = JournalConfig()
    sim: SimConfig | None = None

    @property
    def is_simulated(self) -> bool:
        return self.sim is not None


class ConfigError(Exception):
    """A configuration with problems; ``problems`` holds one ``key.path: reason`` each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


# -- checks across sections ------------------------------------------------------------


def pin_uses(config: Config) -> Iterator[tuple[str, int]]:
    """Every BCM pin the config claims, with the key that claims it (zone pins once)."""
    for field in PanelConfig.model_fields:
        value = getattr(config.panel, field)
        if field not in PANEL_SETTINGS and value is not None:
            yield f"panel.{field}", value
    if config.amplifier is not None:
        yield "amplifier.power_relay", config.amplifier.power_relay
        seen: set[int] = set()
        for zone, pins in config.amplifier.zones.items():
            for i, pin in enumerate(pins):
                if pin not in seen:
                    seen.add(pin)
                    yield f"amplifier.zones.{zone}[{i}]", pin
    for i, siren in enumerate(config.sirens):
        if siren.relay is not None:
            yield f"sirens[{i}].relay", siren.relay
    for i, alarm in enumerate(config.hand_alarms):
        if alarm.pin is not None:
            yield f"hand_alarms[{i}].pin", alarm.pin
    for i, gauge in enumerate(config.rain_gauges):
        if gauge.kind == "pulse" and gauge.pin is not None:
            yield f"rain_gauges[{i}].pin", gauge.pin


def _pin_conflicts(config: Config) -> Iterator[str]:
    first: dict[int, str] = {}
    for path, pin in pin_uses(config):
        if pin in first:
            yield f"{path}: pin {pin} is already used by {first[pin]}"
        else:
            first[pin] = path


class _GpioOrBus(Protocol):
    """A siren or hand alarm: on a GPIO pin, or at a unit on a Modbus bus."""

    @property
    def bus(self) -> str | None: ...

    @property
    def unit(self) -> int | None: ...


class _Identified(Protocol):
    @property
    def id(self) -> str: ...


def _modbus_refs(config: Config) -> Iterator[str]:
    buses = config.modbus.buses
    kinds: tuple[tuple[str, Sequence[_GpioOrBus], str], ...] = (
        ("sirens", config.sirens, "coil"),
        ("hand_alarms", config.hand_alarms, "discrete_input"),
    )
    for name, items, address in kinds:
        local = "relay" if name == "sirens" else "pin"
        for i, item in enumerate(items):
            on_gpio = getattr(item, local) is not None
            on_bus = item.bus is not None
            if on_gpio == on_bus:
                yield (f"{name}[{i}]: give either {local} = … or bus/unit/{address}, "
                       "not both or neither")
            elif on_bus:
                if item.bus not in buses:
                    yield f"{name}[{i}].bus: no such bus {item.bus!r} in [modbus.buses]"
                if item.unit is None:
                    yield f"{name}[{i}].unit: required with bus"
                if getattr(item, address) is None:
                    yield f"{name}[{i}].{address}: required with bus"
    seen: dict[tuple[str, int], str] = {}
    for i, gauge in enumerate(config.rain_gauges):
        if gauge.kind == "modbus":
            if gauge.bus is not None and gauge.unit is not None:
                other = seen.setdefault((gauge.bus, gauge.unit), gauge.id)
                if other != gauge.id:
                    yield (f"rain_gauges[{i}].unit: {gauge.unit} on {gauge.bus!r} is already "
                           f"gauge {other!r}")
            if gauge.bus is None:
                yield f"rain_gauges[{i}].bus: required for a modbus gauge"
            elif gauge.bus not in buses:
                yield f"rain_gauges[{i}].bus: no such bus {gauge.bus!r} in [modbus.buses]"
            if gauge.unit is None:
                yield f"rain_gauges[{i}].unit: required for a modbus gauge"
        elif gauge.pin is None:
            yield f"rain_gauges[{i}].pin: required for a pulse gauge"
        if gauge.kind == "pulse" and gauge.model is not None:
            yield f"rain_gauges[{i}].model: a catalogue model is a Modbus gauge (kind = 'modbus')"


def _gauge_maps(config: Config) -> Iterator[str]:
    for i, gauge in enumerate(config.rain_gauges):
        if gauge.kind != "modbus":
            continue
        try:
            register_map_for(gauge)
        except ValueError as exc:
            key, sep, reason = str(exc).partition(": ")
            if sep and re.fullmatch(r"[a-z_.]+", key):
                yield f"rain_gauges[{i}].{key}: {reason}"
            else:
                yield f"rain_gauges[{i}]: {exc}"


LINE_KEYS = ("baudrate", "parity", "stopbits")


def fill_line_settings(config: Config) -> tuple[Config, list[str]]:
    """A line whose settings are not given takes its gauges' models' factory settings.

    If gauge models on one line want different settings, the line must say which.
    """
    buses = dict(config.modbus.buses)
    problems = []
    for name, bus in config.modbus.buses.items():
        models = {g.model for g in config.rain_gauges
                  if g.kind == "modbus" and g.bus == name and g.model is not None}
        update: dict[str, object] = {}
        for key in LINE_KEYS:
            if key in bus.model_fields_set or not models:
                continue
            wanted = {m: getattr(CATALOGUE[m], key) for m in sorted(models)}
            if len(set(wanted.values())) > 1:
                problems.append(f"modbus.buses.{name}.{key}: required: the gauge models on "
                                f"this line differ ({wanted})")
            else:
                update[key] = next(iter(wanted.values()))
        if update:
            buses[name] = bus.model_copy(update=update)
    modbus = config.modbus.model_copy(update={"buses": buses})
    return config.model_copy(update={"modbus": modbus}), problems


def _unique_ids(config: Config) -> Iterator[str]:
    seen = {name: name for name in ("amplifier", "journal", "gpio", "sat_phone", "sip")}
    kinds: tuple[tuple[str, Sequence[_Identified]], ...] = (
        ("sirens", config.sirens), ("hand_alarms", config.hand_alarms),
        ("rain_gauges", config.rain_gauges),
    )
    for name, items in kinds:
        for i, item in enumerate(items):
            if item.id in seen:
                yield f"{name}[{i}].id: {item.id!r} is already used by {seen[item.id]}"
            else:
                seen[item.id] = f"{name}[{i}]"


def _thresholds(config: Config) -> Iterator[str]:
    gauges = {g.id for g in config.rain_gauges}
    for i, rule in enumerate(config.rain_thresholds):
        if rule.gauge != "*" and rule.gauge not in gauges:
            yield f"rain_thresholds[{i}].gauge: no such gauge {rule.gauge!r}"
        if rule.evacuate_mm <= rule.prepare_mm:
            yield (f"rain_thresholds[{i}].evacuate_mm: must be above prepare_mm "
                   f"({rule.prepare_mm}), got {rule.evacuate_mm}")


def _zone_names(config: Config) -> Iterator[str]:
    amp = config.amplifier
    if amp is None:
        return
    for zone in amp.zone_names:
        if zone not in amp.zones:
            yield f"amplifier.zone_names.{zone}: no zone {zone!r} in [amplifier.zones]"


def _messages(config: Config) -> Iterator[str]:
    known = {"evacuate", "prepare", "all_clear", "test"} | {m.id for m in config.messages.texts}
    for key, value in (("broadcast.evacuate_message", config.broadcast.evacuate_message),
                       ("alarms.prepare_message", config.alarms.prepare_message),
                       ("alarms.evacuate_message", config.alarms.evacuate_message),
                       ("alarms.hand_alarm_message", config.alarms.hand_alarm_message)):
        if value not in known:
            yield f"{key}: no message {value!r}; known: {sorted(known)}"
    from broadcast.siren_signals import DEFAULT_PATTERNS

    if config.alarms.siren_pattern not in DEFAULT_PATTERNS:
        yield (f"alarms.siren_pattern: no siren pattern {config.alarms.siren_pattern!r}; "
               f"known: {sorted(DEFAULT_PATTERNS)}")
    seen: set[str] = set()
    for i, message in enumerate(config.messages.texts):
        if message.id in seen:
            yield f"messages.texts[{i}].id: {message.id!r} is given twice"
        seen.add(message.id)


def _tokens(config: Config) -> Iterator[str]:
    names: set[str] = set()
    for i, token in enumerate(config.api.tokens):
        if token.name in names:
            yield f"api.tokens[{i}].name: {token.name!r} is used twice"
        names.add(token.name)
        if token.sha256 in SIM_TOKEN_HASHES and not config.is_simulated:
            yield f"api.tokens[{i}].sha256: a simulator token is never accepted by a real station"
        elif (why := placeholder_hash(token.sha256)) is not None:
            yield (f"api.tokens[{i}].sha256: {why}, not the SHA-256 of a secret: delete this "
                   "[[api.tokens]] block and make the token with `station-edge token add "
                   f"{token.name} --role {token.role}` (it prints the secret once and keeps "
                   "only its hash in data_dir), or put here the output of "
                   "`printf %s 'THE-SECRET' | sha256sum`")
    host = config.api.listen.rpartition(":")[0].strip("[]")
    if host in ("0.0.0.0", "::") and config.api.allowed_hosts is None:
        yield ("api.allowed_hosts: required when listening on every interface: the names "
               "and addresses the county uses to reach the station (DNS-rebinding guard)")
    if config.gpio.backend == "mock" and not config.is_simulated:
        yield "gpio.backend: 'mock' only in a simulated station (add a [sim] section)"


def _sat_phone(config: Config) -> Iterator[str]:
    phone = config.sat_phone
    if phone is None:
        return
    if phone.audio_input == "socket" and phone.audio_socket is None:
        yield "sat_phone.audio_socket: required with audio_input = 'socket'"
    if phone.whitelist and phone.pin is None:
        yield "sat_phone.pin: required with a whitelist (commands and call-in need a PIN)"


def _sip(config: Config) -> Iterator[str]:
    sip = config.sip
    if sip is None:
        return
    numbers = [t for tier in sip.wakeup for t in tier.targets if not t.startswith("sip")]
    if not sip.wakeup and config.sat_phone is not None:
        numbers += [n for tier in config.sat_phone.callout for n in tier.numbers]
    if numbers and sip.domain is None and sip.registrar is None:
        yield ("sip.domain: required to dial numbers (wake-up tiers, or the satellite "
               "callout tiers they default to): the PBX's domain, or give a registrar")
    if sip.rtp_ports[1] - sip.rtp_ports[0] < 100:
        yield (f"sip.rtp_ports: must be [low, high] with room for 50 calls (100 ports), got "
               f"{sip.rtp_ports}")
    if sip.callin_whitelist and sip.pin is None:
        yield "sip.pin: required with a callin_whitelist (a caller keys it before going on air)"
    yield from _sip_credentials(sip)
    if sip.callin_zones is not None and config.amplifier is not None:
        for zone in sip.callin_zones:
            if zone not in config.amplifier.zones:
                yield f"sip.callin_zones: no zone {zone!r} in [amplifier.zones]"
    if sip.desk_phone is not None and config.sat_phone is None:
        yield "sip.desk_phone: the duty-room phone dials out through [sat_phone]; add it"


def _cap(config: Config) -> Iterator[str]:
    cap = config.cap
    if cap is not None and cap.require_signature and not cap.trusted_certificates:
        yield ("cap.trusted_certificates: required with require_signature = true: the PEM "
               "files of the county's alert-signing certificates")


def _sip_credentials(sip: SipConfig) -> Iterator[str]:
    secrets = [key for key in ("password_ha1", "password") if getattr(sip, key) is not None]
    if len(secrets) > 1:
        yield "sip.password: give password_ha1 or password, not both"
    if sip.username is None and secrets:
        yield f"sip.username: required with {secrets[0]} (digest authentication)"
    if sip.username is not None and not secrets:
        yield ("sip.password_ha1: required with username (digest authentication): the MD5 of "
               "username:realm:password (or password in clear)")
    if sip.password_ha1 is not None and sip.realm == "*":
        yield "sip.realm: required with password_ha1 (the HA1 is computed with the PBX's realm)"


CROSS_CHECKS = (_pin_conflicts, _modbus_refs, _gauge_maps, _unique_ids, _thresholds, _zone_names,
                _messages, _tokens, _sat_phone, _sip, _cap)


def validate(raw: dict[str, Any] | str) -> Config:
    """A :class:`Config` from parsed TOML, or :class:`ConfigError` with every problem.

    A ``str`` is a configuration saved as JSON (``Config.model_dump_json``, the daemon's
    last good copy): JSON has no time type, so its strings are read as times; otherwise
    as strict."""
    try:
        if isinstance(raw, str):
            config = Config.model_validate_json(raw)
        else:
            config = Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(pydantic_problems(Config, exc)) from None
    config, problems = fill_line_settings(config)
    problems += [p for check in CROSS_CHECKS for p in check(config)]
    if problems:
        raise ConfigError(problems)
    return config


def parse(text: str, source: str = "(toml)") -> Config:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([toml_problem(text, exc, source)]) from None
    except RecursionError:
        raise ConfigError([f"{source}: TOML syntax: arrays or tables nested too deeply to read "
                           "(a station's config nests a few levels)"]) from None
    return validate(raw)


def load(path: Path) -> Config:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"(file): cannot read {path}: {exc.strerror}"]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError([f"(file): {path} is not UTF-8: {exc.reason}"]) from None
    return parse(text, str(path))
