"""The station's HTTP API (FastAPI) — the only package of ours that imports FastAPI."""
