"""The memory of alerts already received, so that each plays once.

A county often has two alerting servers that both push the same alert; a server retries
when an answer is lost. Both arrive here with the same key (see
:func:`broadcast.cap_model.alert_key`) and the second is a duplicate. The memory also keeps
the alerts that an Update or a Cancel referred to, even when the referred alert itself has
not arrived yet: copies travel different paths, and an alert arriving after its own Cancel
must stay silent.

Plain data: the daemon persists :meth:`SeenAlerts.export` (a JSON-able list) and restores it
with :meth:`SeenAlerts.restore` at start, so a restart does not replay an alert.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .cap_model import CapAlert

DEFAULT_KEEP_S = 7 * 86400.0
DEFAULT_MAX_ENTRIES = 10_000


@dataclass
class _Entry:
    key: str
    received: bool  # False: only known as referenced by an Update/Cancel
    superseded_by: str | None
    until: datetime  # forget it after this


class SeenAlerts:
    """Keys of alerts received or referred to, each kept ``keep_s`` past its last expiry.

    Once an alert has expired, a late copy of it is ignored as expired anyway; the margin
    covers clocks that disagree and alerts without ``expires``.
    """

    def __init__(self, *, keep_s: float = DEFAULT_KEEP_S,
                 max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        if keep_s <= 0 or max_entries < 1:
            raise ValueError("keep_s must be > 0 and max_entries >= 1")
        self.keep = timedelta(seconds=keep_s)
        self.max_entries = max_entries
        self._entries: dict[str, _Entry] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def seen(self, alert: CapAlert) -> bool:
        """This alert (by key) has already been received."""
        entry = self._entries.get(alert.key)
        return entry is not None and entry.received

    def superseded_by(self, alert: CapAlert) -> str | None:
        """The key of an Update or Cancel received earlier that refers to this alert."""
        entry = self._entries.get(alert.key)
        return entry.superseded_by if entry is not None else None

    def remember(self, alert: CapAlert, *, now: datetime | None = None) -> None:
        """Record ``alert`` (and what it supersedes); call once its decision is journaled.

        ``now`` (the station clock) bounds how long the entry lives; by default the alert's
        own ``sent``.
        """
        base = max([now or alert.sent, alert.sent] +
                   [i.expires for i in alert.infos if i.expires is not None])
        until = base + self.keep
        entry = self._entries.get(alert.key)
        if entry is None:
            self._entries[alert.key] = _Entry(alert.key, True, None, until)
        else:
            entry.received = True
            entry.until = max(entry.until, until)
        if alert.msg_type in ("Update", "Cancel"):
            for ref in alert.references:
                old = self._entries.get(ref.key)
                if old is None:
                    self._entries[ref.key] = _Entry(ref.key, False, alert.key, until)
                else:
                    old.superseded_by = old.superseded_by or alert.key
                    old.until = max(old.until, until)
        self._trim()

    def prune(self, now: datetime) -> int:
        """Forget entries past their time; how many were forgotten."""
        old = [k for k, e in self._entries.items() if e.until < now]
        for k in old:
            del self._entries[k]
        return len(old)

    def export(self) -> list[dict[str, Any]]:
        return [
            {"key": e.key, "received": e.received, "superseded_by": e.superseded_by,
             "until": e.until.isoformat()}
            for e in self._entries.values()
        ]

    @classmethod
    def restore(cls, items: list[dict[str, Any]], **kwargs: Any) -> SeenAlerts:
        """The memory from :meth:`export`; a malformed item raises ValueError."""
        seen = cls(**kwargs)
        for item in items:
            try:
                until = datetime.fromisoformat(item["until"])
                entry = _Entry(str(item["key"]), bool(item["received"]),
                               item.get("superseded_by"), until)
            except (KeyError, TypeError, ValueError) as e:
                raise ValueError(f"bad seen-alert item {item!r}: {e}") from None
            if until.tzinfo is None:
                raise ValueError(f"bad seen-alert item {item!r}: naive time")
            seen._entries[entry.key] = entry
        seen._trim()
        return seen

    def _trim(self) -> None:
        excess = len(self._entries) - self.max_entries
        if excess > 0:
            for entry in sorted(self._entries.values(), key=lambda e: e.until)[:excess]:
                del self._entries[entry.key]
