"""``station-county status``: one line per station.

Reachable, health (and which devices are not ok), alarms open (how many still wait for
an acknowledgement), the rain now (the largest 1-hour total of its gauges, with its
warning level, or "stale" when no gauge has fresh data), and the satellite phone
(state, signal, SMS waiting to be sent).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from county.client import StationClient, StationRefused
from county.fanout import Outcome
from county.report import Report

STATUS_ZH = {"ok": "正常", "degraded": "降级", "fault": "故障", "offline": "离线",
             "unknown": "未知"}
LEVEL_ZH = {"none": "", "prepare": "准备转移", "evacuate": "立即转移"}
HEADERS = ("站点 station", "名称 name", "可达 reachable", "健康 health", "警报 alarms",
           "雨量 rain (1h)", "卫星电话 sat phone")
CSV_HEADERS = ("station", "name", "reachable", "health", "devices_not_ok", "alarms_open",
               "alarms_active", "rain_1h_mm", "rain_gauge", "rain_level", "rain_stale_gauges",
               "satphone", "satphone_signal", "sms_pending", "problem")


@dataclass(frozen=True)
class StationStatus:
    health: dict[str, Any]
    alarms: list[dict[str, Any]]
    gauges: list[dict[str, Any]] | None
    phone: dict[str, Any] | None


async def optional(client: StationClient, path: str) -> Any:
    """A route the station may not have (no gauges, no phone): ``None`` on 404."""
    try:
        return await client.get_json(path)
    except StationRefused as exc:
        if exc.status == 404:
            return None
        raise


async def fetch(client: StationClient) -> StationStatus:
    health, alarms, rain, phone = await asyncio.gather(
        client.get_json("/api/v1/health"), client.get_json("/api/v1/alarms"),
        optional(client, "/api/v1/rain"), optional(client, "/api/v1/satphone"))
    return StationStatus(health, alarms["alarms"], rain["gauges"] if rain else None, phone)


def rain_now(gauges: list[dict[str, Any]] | None) -> tuple[float | None, str, str, list[str]]:
    """(largest fresh 1-hour total, its gauge, its level, stale gauges)."""
    if not gauges:
        return None, "", "", []
    stale = [g["id"] for g in gauges if not g.get("fresh")]
    fresh = [g for g in gauges if g.get("fresh")]
    if not fresh:
        return None, "", "", stale
    top = max(fresh, key=lambda g: (g["totals"].get("1h", 0.0), g["level"] != "none"))
    return float(top["totals"].get("1h", 0.0)), top["id"], top["level"], stale


def columns(outcome: Outcome[StationStatus]) -> dict[str, Any]:
    """The status of one station as named values (the table and the CSV both use them)."""
    st = outcome.station
    out: dict[str, Any] = {"station": st.id, "name": st.name, "problem": outcome.problem or ""}
    if outcome.value is None:
        return out | {"reachable": False}
    value = outcome.value
    mm, gauge, level, stale = rain_now(value.gauges)
    phone = value.phone
    return out | {
        "name": value.health.get("station", {}).get("name") or st.name,
        "reachable": True,
        "health": value.health["status"],
        "devices_not_ok": [f"{d['id']} {d['status']}" for d in value.health["devices"]
                           if d["status"] != "ok"],
        "alarms_open": len(value.alarms),
        "alarms_active": sum(1 for a in value.alarms if a["state"] == "active"),
        "rain_1h_mm": mm, "rain_gauge": gauge, "rain_level": level, "rain_stale_gauges": stale,
        "has_gauges": value.gauges is not None,
        "satphone": phone["state"] if phone else None,
        "satphone_signal": phone.get("signal") if phone else None,
        "sms_pending": sum(1 for m in phone["outbox"] if m["state"] == "pending")
        if phone else None,
    }


def table_row(c: dict[str, Any]) -> list[str]:
    if not c["reachable"]:
        return [c["station"], c["name"], "否 no", c["problem"], "-", "-", "-"]
    health = f"{STATUS_ZH.get(c['health'], '')} {c['health']}"
    if c["devices_not_ok"]:
        health += ": " + ", ".join(c["devices_not_ok"])
    alarms = str(c["alarms_open"])
    if c["alarms_active"]:
        alarms += f"（{c['alarms_active']} 未确认 unacknowledged）"
    if not c["has_gauges"]:
        rain = "无雨量计 no gauges"
    elif c["rain_1h_mm"] is None:
        rain = "无新数据 stale"
    else:
        rain = f"{c['rain_1h_mm']:.1f} mm {c['rain_gauge']}"
        if c["rain_level"] != "none":
            rain += f" {LEVEL_ZH.get(c['rain_level'], '')} {c['rain_level']}"
        if c["rain_stale_gauges"]:
            rain += f"；无新数据 stale: {', '.join(c['rain_stale_gauges'])}"
    if c["satphone"] is None:
        phone = "无 none"
    else:
        phone = f"{STATUS_ZH.get(c['satphone'], '')} {c['satphone']}"
        if c["satphone_signal"] is not None:
            phone += f"，信号 signal {c['satphone_signal']}/5"
        if c["sms_pending"]:
            phone += f"，待发短信 SMS waiting {c['sms_pending']}"
    return [c["station"], c["name"], "是 yes", health, alarms, rain, phone]


def csv_row(c: dict[str, Any]) -> list[object]:
    def joined(key: str) -> str:
        return "; ".join(c.get(key) or [])

    return [c["station"], c["name"], c["reachable"], c.get("health", ""),
            joined("devices_not_ok"), c.get("alarms_open", ""), c.get("alarms_active", ""),
            "" if c.get("rain_1h_mm") is None else c["rain_1h_mm"], c.get("rain_gauge", ""),
            c.get("rain_level", ""), joined("rain_stale_gauges"),
            c.get("satphone") or "", "" if c.get("satphone_signal") is None
            else c["satphone_signal"], "" if c.get("sms_pending") is None else c["sms_pending"],
            c["problem"]]


REPORT: Report[StationStatus] = Report(HEADERS, CSV_HEADERS, columns, table_row, csv_row,
                                       ok=lambda c: bool(c["reachable"]))
