"""station-county: the county's command line over many StationEdge stations.

It talks to each station only through the station's HTTP API (``/api/v1`` and
``/metrics``) and imports nothing of the station's code: what the county knows about a
station is what the station says on the wire.
"""
