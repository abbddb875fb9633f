"""``station-county spot-check``: 一键通抽查 on the chosen stations, all at once.

Each station is asked to start a check (``POST /api/v1/checkins``); its duty officer has
the station's configured time to answer (the panel blinks and buzzes). The command then
polls each station until its check is answered or missed, and reports per station:
answered (and how fast, and how: the panel button or the web panel) or missed; a station
that could not be asked is reported as unreachable, one that vanished while its check was
waiting as unknown.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from county.client import StationClient, StationRefused, StationUnreachable
from county.fanout import Outcome
from county.report import Report

RESULT_ZH = {"answered": "已应答", "missed": "未应答", "unknown": "结果未知",
             "unreachable": "不可达", "refused": "被拒绝"}
HEADERS = ("站点 station", "名称 name", "结果 result", "应答用时 response", "应答方式 by",
           "抽查编号 check", "说明 detail")
CSV_HEADERS = ("station", "name", "result", "response_s", "answered_by", "check_id",
               "started", "detail")


@dataclass(frozen=True)
class CheckResult:
    check: dict[str, Any]
    note: str = ""

    @property
    def state(self) -> str:
        """``answered`` / ``missed``, or ``unknown`` when the station stopped answering."""
        return self.check["state"] if self.check["state"] != "waiting" else "unknown"


async def check_one(client: StationClient, *, poll_s: float, wait_s: float) -> CheckResult:
    """Start a check at the station and follow it to its end (or ``wait_s`` real seconds)."""
    check = (await client.request("POST", "/api/v1/checkins")).json()
    deadline = time.monotonic() + wait_s
    note = ""
    while check["state"] == "waiting" and time.monotonic() < deadline:
        await asyncio.sleep(poll_s)
        try:
            listed = await client.get_json("/api/v1/checkins")
        except (StationUnreachable, StationRefused) as exc:
            note = f"等待中失联 lost while waiting: {exc}"
            continue
        note = ""
        same = [c for c in listed["checkins"] if c["id"] == check["id"]]
        if not same:
            note = "站点已无此抽查（重启过？） the station no longer lists this check (restarted?)"
            break
        check = same[0]
    return CheckResult(check, note)


def columns(outcome: Outcome[CheckResult]) -> dict[str, Any]:
    st = outcome.station
    if outcome.value is None:
        result = "unreachable" if outcome.unreachable is not None else "refused"
        return {"station": st.id, "name": st.name, "result": result, "response_s": None,
                "answered_by": None, "check_id": None, "started": None,
                "detail": outcome.problem or ""}
    check, state = outcome.value.check, outcome.value.state
    detail = outcome.value.note or ("" if state != "missed" else
                                    f"{check['answer_within_s']:g} 秒内无人应答 "
                                    f"nobody answered within {check['answer_within_s']:g} s")
    return {"station": st.id, "name": st.name, "result": state,
            "response_s": check.get("response_s"), "answered_by": check.get("answered_by"),
            "check_id": check["id"], "started": check.get("started"), "detail": detail}


def table_row(c: dict[str, Any]) -> list[str]:
    response = f"{c['response_s']:.1f} s" if c["response_s"] is not None else "-"
    by = {"panel": "面板按键 panel button"}.get(c["answered_by"] or "", c["answered_by"] or "-")
    return [c["station"], c["name"], f"{RESULT_ZH[c['result']]} {c['result']}", response, by,
            c["check_id"] or "-", c["detail"]]


def csv_row(c: dict[str, Any]) -> list[object]:
    return [c[k] if c[k] is not None else "" for k in CSV_HEADERS]


def summary(rows: list[dict[str, Any]]) -> str:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["result"]] = counts.get(row["result"], 0) + 1
    parts = [f"{RESULT_ZH[k]} {k} {counts[k]}" for k in RESULT_ZH if k in counts]
    answered = sorted(r["response_s"] for r in rows if r["result"] == "answered"
                      and r["response_s"] is not None)
    line = f"抽查 {len(rows)} 站 spot-checked {len(rows)} stations: " + "，".join(parts)
    if answered:
        line += f"；应答用时中位数 median response {answered[len(answered) // 2]:.1f} s"
    return line


REPORT: Report[CheckResult] = Report(HEADERS, CSV_HEADERS, columns, table_row, csv_row,
                                     ok=lambda c: c["result"] == "answered", summary=summary)
