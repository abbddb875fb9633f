"""CAP 1.2: alerts in from the county, the station's own alarms out as CAP.

The CAP stack (lxml, the OASIS schema, signxml and cryptography: some 35 MB resident) is
imported when an alert or an alarm's CAP is first asked for, not with the API: a station
without ``[cap]`` may never need it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from edge.api.errors import ERRORS
from edge.api.security import Operator, Viewer
from edge.api.state import station_of
from edge.auth import Principal

if TYPE_CHECKING:
    from broadcast.cap import Severity, Urgency
    from broadcast.record import BroadcastLevel

router = APIRouter(prefix="/api/v1", tags=["CAP"], responses=ERRORS)
CAP_MEDIA_TYPE = "application/cap+xml"
#: A rain alarm as CAP: 立即转移 is Extreme/Immediate (level I), 准备转移 Severe/Expected (II).
RAIN_CAP: dict[str, tuple[Severity, Urgency, BroadcastLevel]] = {
    "evacuate": ("Extreme", "Immediate", "I"), "prepare": ("Severe", "Expected", "II"),
}


@router.post("/cap", status_code=200)
async def receive_cap(request: Request, principal: Annotated[Principal, Operator]) -> Any:
    """An OASIS CAP 1.2 alert (XML body). Refused with 4xx and the reason, changing nothing,
    when it is malformed, invalid, unsigned where signing is required, or not China-profile
    where that is required."""
    intake = station_of(request).parts.cap
    if intake is None:
        raise HTTPException(404, "CAP intake is not configured ([cap] area_codes)")
    limit = intake.config.max_alert_kb * 1024
    if int(request.headers.get("content-length") or 0) > limit:
        raise HTTPException(413, f"alert larger than {limit} bytes")
    body = await request.body()
    from broadcast.cap import CapRejected  # loaded already: the intake uses it

    try:
        return await intake.receive(body, actor=principal.name)
    except CapRejected as exc:
        status = 413 if exc.code == "too_large" else 422
        raise HTTPException(status, f"{exc.code}: {exc.reason}") from None


@router.get("/alarms/{alarm_id}.cap", dependencies=[Viewer], response_class=Response,
            responses={200: {"content": {CAP_MEDIA_TYPE: {}}}})
async def alarm_as_cap(request: Request, alarm_id: str) -> Response:
    station = station_of(request)
    try:
        alarm = station.parts.alarms.get(alarm_id)
    except KeyError:
        raise HTTPException(404, f"no alarm {alarm_id!r}") from None
    from broadcast.cap import station_alarm_as_cap

    severity, urgency, level = RAIN_CAP.get(alarm.level or "", ("Severe", "Immediate", "II"))
    cap_cfg = station.config.cap
    codes = [("GB/T 2260", code) for code in (cap_cfg.area_codes if cap_cfg else [])]
    event = "山洪灾害预警" if alarm.kind == "rain" else "手动报警"
    xml = station_alarm_as_cap(
        identifier=f"{station.config.station.id}-{alarm.id}",
        sender=station.config.station.id, sent=alarm.raised, event=event,
        headline=f"{station.config.station.name}：{alarm.summary_zh()}",
        description=alarm.summary_zh(), severity=severity, urgency=urgency,
        area_desc=station.config.station.name, geocodes=codes,
        sender_name=station.config.station.name, level=level,
        instruction="请立即转移到安全地点。" if alarm.level == "evacuate" else "请做好转移准备。",
        expires=alarm.raised + timedelta(hours=24),
    )
    return Response(xml, media_type=CAP_MEDIA_TYPE)
