"""The simulated station: ``station-edge run --sim`` and its device simulators."""
