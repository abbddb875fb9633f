"""The station's HTTP API (FastAPI) — the only package of ours that imports FastAPI.

Every route handler is ``async def``: the station's state (health, alarms, broadcasts,
the rain archive's connection) lives on the event loop and is not thread-safe, so no
handler may run in FastAPI's thread pool.
"""
