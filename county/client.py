"""One station over HTTP, as the county sees it: reachable or not, and what it answered.

Every request holds one slot of a pool shared by all stations (so fifty stations are
asked a few at a time, never all at once) and has its own timeout (so a slow station
costs its own time, not everyone's). Failures become two kinds a report can say in
words: the station could not be reached, or it answered with a refusal.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from county.stations import Station


class StationUnreachable(Exception):
    """No answer: connection refused, timed out, or cut."""


class StationRefused(Exception):
    """The station answered with an error status; ``detail`` is what it said."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"HTTP {status}: {detail}")
        self.status = status
        self.detail = detail


def refusal_detail(reply: httpx.Response) -> str:
    try:
        body = reply.json()
    except ValueError:
        return reply.text.strip()[:200] or reply.reason_phrase
    if isinstance(body, dict) and "detail" in body:
        return str(body["detail"])
    return str(body)[:200]


class StationClient:
    def __init__(self, station: Station, http: httpx.AsyncClient, slots: asyncio.Semaphore,
                 timeout_s: float) -> None:
        self.station = station
        self.http = http
        self.slots = slots
        self.timeout_s = timeout_s

    async def request(self, method: str, path: str, *, operator: bool = False,
                      **kwargs: Any) -> httpx.Response:
        """One request with the station's token (the operator token for acting)."""
        s = self.station
        token = (s.operator_token or s.token) if operator else s.token
        headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
        async with self.slots:
            try:
                reply = await self.http.request(method, s.url + path, headers=headers,
                                                timeout=self.timeout_s, **kwargs)
            except httpx.TimeoutException:
                raise StationUnreachable(
                    f"超时 timed out after {self.timeout_s:g} s") from None
            except httpx.HTTPError as exc:
                raise StationUnreachable(f"无法连接 cannot connect: {exc}") from None
        if reply.status_code >= 400:
            raise StationRefused(reply.status_code, refusal_detail(reply))
        return reply

    async def get_json(self, path: str, **params: Any) -> Any:
        return (await self.request("GET", path, params=params or None)).json()
