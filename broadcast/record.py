"""A broadcast as the county sees it: what, why, who, and what really went out.

Chinese emergency-broadcast terminals keep, for each broadcast, its type (演练 drill /
应急 emergency / 日常 routine, as GD/J 082 distinguishes them), a level I–IV for an
emergency, where it came from, its state, when it started and ended, and how many times
the content actually played. So does the station.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from broadcast.priority import Priority
from broadcast.program import (
    LiveContent,
    MessageContent,
    Program,
    SirenContent,
    TextContent,
)

BroadcastType = Literal["drill", "emergency", "routine"]
BroadcastLevel = Literal["I", "II", "III", "IV"]
BroadcastSource = Literal["panel", "api", "rain_rule", "hand_alarm", "sms", "phone", "cap",
                          "self_test", "bringup"]
BroadcastState = Literal["waiting", "playing", "done", "failed", "cancelled", "interrupted"]
FINAL_STATES = frozenset({"done", "failed", "cancelled", "interrupted"})

TYPE_NAMES = {"drill": "演练", "emergency": "应急", "routine": "日常"}


@dataclass
class Broadcast:
    id: str
    program: Program
    zones: list[str]
    priority: Priority
    type: BroadcastType
    source: BroadcastSource
    actor: str
    created: datetime
    level: BroadcastLevel | None = None
    expires_at: float | None = None
    state: BroadcastState = "waiting"
    started: datetime | None = None
    ended: datetime | None = None
    plays: int = 0
    resume_from: int = 0
    preemptions: int = 0
    error: str | None = None
    labels: dict[str, Any] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return self.state not in FINAL_STATES

    def content_json(self) -> dict[str, Any]:
        c = self.program.content
        if isinstance(c, MessageContent):
            return {"message": c.message_id}
        if isinstance(c, SirenContent):
            return {"siren": c.pattern_id}
        if isinstance(c, TextContent):
            return {"text": c.text}
        assert isinstance(c, LiveContent)
        return {"live": c.label}

    def as_json(self, iso: Any) -> dict[str, Any]:
        return {
            "id": self.id,
            **self.content_json(),
            "zones": self.zones,
            "repeat": self.program.repeat,
            "priority": self.priority.name.lower(),
            "type": self.type,
            "type_zh": TYPE_NAMES[self.type],
            "level": self.level,
            "source": self.source,
            "actor": self.actor,
            "state": self.state,
            "created": iso(self.created),
            "started": iso(self.started) if self.started else None,
            "ended": iso(self.ended) if self.ended else None,
            "plays": self.plays,
            "preemptions": self.preemptions,
            "error": self.error,
            **({"labels": self.labels} if self.labels else {}),
        }
