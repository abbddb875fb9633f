"""Proxy headers count only from the proxies ``[api] trusted_proxies`` names.

Through the real uvicorn the daemon builds (its proxy handling is what is under test),
on loopback: 127.0.0.1 is the local process (or the reverse proxy), 127.0.0.2 the county.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from edge.config import ConfigError
from edge.daemon import bind, build_server
from edge.station import Station
from tests.helpers import SIM_VIEWER, StationRun, free_port, sim_config

COUNTY = "127.0.0.2"


@asynccontextmanager
async def served(station: Station) -> AsyncIterator[str]:
    listen = f"127.0.0.1:{free_port()}"
    sock = bind(listen)
    server = build_server(station)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started and not task.done():  # noqa: ASYNC110 (uvicorn has no event)
            await asyncio.sleep(0.01)
        yield f"http://{listen}"
    finally:
        server.should_exit = True
        await task
        sock.close()


def client_from(address: str, base_url: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(local_address=address),
                             base_url=base_url, timeout=10)


async def guesses(client: httpx.AsyncClient, forwarded_for: list[str]) -> list[int]:
    return [(await client.get("/api/v1/health", headers={
        "Authorization": f"Bearer guess-{n}", "X-Forwarded-For": claimed})).status_code
        for n, claimed in enumerate(forwarded_for)]


async def test_without_trusted_proxies_no_header_makes_a_client_someone_else(
    tmp_path: Path,
) -> None:
    async with StationRun(sim_config(tmp_path)) as run, served(run.station) as url:
        async with client_from("127.0.0.1", url) as local, client_from(COUNTY, url) as county:
            framing = await guesses(local, [COUNTY] * 10)
            rotating = await guesses(local, [f"10.0.0.{n}" for n in range(3)])
            county_wrong = await county.get("/api/v1/health",
                                            headers={"Authorization": "Bearer typo"})
            county_right = await county.get("/api/v1/health", headers=SIM_VIEWER)
        assert framing[-1] == 429 and rotating == [429] * 3, \
            "the local process locked itself out, whatever address it claimed"
        assert county_wrong.status_code == 401, "the county is not locked out"
        assert county_right.status_code == 200
        denied = await run.settled_events("access.denied")
        assert {e["data"]["client"] for e in denied} == {"127.0.0.1", COUNTY}


async def test_a_trusted_proxy_passes_on_who_its_clients_are(tmp_path: Path) -> None:
    config = sim_config(tmp_path, '', **{'[api]': '[api]\ntrusted_proxies = ["127.0.0.1"]'})
    assert config.api.trusted_proxies == ["127.0.0.1"]
    async with StationRun(config) as run, served(run.station) as url:
        async with client_from("127.0.0.1", url) as proxy, client_from(COUNTY, url) as direct:
            behind = await guesses(proxy, ["10.9.8.7"] * 10)
            neighbour = await guesses(proxy, ["10.9.8.6"])
            not_a_proxy = await guesses(direct, ["10.9.8.7"])
        assert behind[-1] == 429, "the client behind the proxy is locked out …"
        assert neighbour == [401], "… not the proxy, nor its other clients"
        assert not_a_proxy == [401], "a header from elsewhere is not believed"
        denied = await run.settled_events("access.denied")
        assert {e["data"]["client"] for e in denied} == {"10.9.8.7", "10.9.8.6", COUNTY}


def test_trusted_proxies_are_addresses_or_networks(tmp_path: Path) -> None:
    bad = '[api]\ntrusted_proxies = ["10.8.0.0/24", "*", "proxy.local", "10.0.0.1/8"]'
    with pytest.raises(ConfigError) as refused:
        sim_config(tmp_path, **{"[api]": bad})
    assert [p.split(":")[0] for p in refused.value.problems] == [
        "api.trusted_proxies[1]", "api.trusted_proxies[2]", "api.trusted_proxies[3]"]
    assert "IP address or network" in refused.value.problems[0]
