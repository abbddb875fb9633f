"""``station-county cap push FILE``: one CAP 1.2 alert to many stations.

Every chosen station gets the same XML (``POST /api/v1/cap``, operator token) and decides
for itself, by its own configured area, whether the alert is its own. Its answer is
reported as one of:

* accepted — it will air it, stop what it cancels, or journal it (the station's action);
* duplicate — it had already received this alert (a second push is harmless);
* refused — with the reason: not for its area, expired, invalid, unsigned, …;
* unreachable — no answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from county.client import StationClient, StationRefused
from county.fanout import Outcome
from county.report import Report

CAP_MEDIA_TYPE = "application/cap+xml"
RESULT_ZH = {"accepted": "已接收", "duplicate": "重复", "refused": "拒收",
             "unreachable": "不可达"}
ACTION_ZH = {"play": "播发", "replace": "更新播发", "stop": "停播", "silent": "仅记录(测试)",
             "journal": "仅记录"}
REASON_ZH = {"not for this station's area": "不属本站区域", "expired": "已过期",
             "draft": "草稿", "no info": "无信息内容"}
HEADERS = ("站点 station", "名称 name", "区域 area", "结果 result", "说明 detail")
CSV_HEADERS = ("station", "name", "area", "result", "action", "reason", "broadcasts")


@dataclass(frozen=True)
class CapAnswer:
    """What a station said about the alert: ``result`` and the station's own words."""

    result: str
    action: str
    reason: str
    broadcasts: tuple[str, ...] = ()


def classify(status: int, body: dict[str, Any] | None, detail: str = "") -> CapAnswer:
    """A station's answer to ``POST /api/v1/cap`` as accepted / duplicate / refused."""
    if status >= 400 or body is None:
        return CapAnswer("refused", "", detail or f"HTTP {status}")
    action, reason = str(body.get("action", "")), str(body.get("reason", ""))
    broadcasts = tuple(body.get("broadcasts") or ())
    if action != "ignore":
        return CapAnswer("accepted", action, reason, broadcasts)
    if reason.startswith("duplicate"):
        return CapAnswer("duplicate", action, reason)
    return CapAnswer("refused", action, reason)


async def push_one(client: StationClient, xml: bytes) -> CapAnswer:
    try:
        reply = await client.request("POST", "/api/v1/cap", operator=True, content=xml,
                                     headers={"Content-Type": CAP_MEDIA_TYPE})
    except StationRefused as exc:
        if exc.status in (401, 403):
            return classify(exc.status, None, f"令牌无权推送 token may not push: {exc.detail}")
        return classify(exc.status, None, exc.detail)
    return classify(reply.status_code, reply.json())


def columns(outcome: Outcome[CapAnswer]) -> dict[str, Any]:
    st = outcome.station
    base = {"station": st.id, "name": st.name, "area": st.area}
    if outcome.value is None:
        return base | {"result": "unreachable", "action": "", "reason": outcome.problem or "",
                       "broadcasts": ""}
    a = outcome.value
    return base | {"result": a.result, "action": a.action, "reason": a.reason,
                   "broadcasts": " ".join(a.broadcasts)}


def table_row(c: dict[str, Any]) -> list[str]:
    if c["result"] == "accepted":
        detail = f"{ACTION_ZH.get(c['action'], '')} {c['action']}".strip()
        if c["broadcasts"]:
            detail += f"（广播 broadcasts {c['broadcasts']}）"
    elif c["result"] == "duplicate":
        detail = "此前已收到 already received"
    else:
        reason = c["reason"]
        detail = f"{REASON_ZH[reason]} {reason}" if reason in REASON_ZH else reason
    return [c["station"], c["name"], c["area"], f"{RESULT_ZH[c['result']]} {c['result']}",
            detail]


def csv_row(c: dict[str, Any]) -> list[object]:
    return [c[k] for k in CSV_HEADERS]


def summary(rows: list[dict[str, Any]]) -> str:
    parts = [f"{zh} {key} {sum(1 for r in rows if r['result'] == key)}"
             for key, zh in RESULT_ZH.items()]
    return f"推送 {len(rows)} 站 pushed to {len(rows)} stations: " + "，".join(parts)


REPORT: Report[CapAnswer] = Report(HEADERS, CSV_HEADERS, columns, table_row, csv_row,
                                   ok=lambda c: c["result"] != "unreachable", summary=summary)
