"""Rain gauges, rainfall windows and warning levels, hand-alarm inputs.

Pure domain logic (counter deltas, windows, warning latches) lives in small
modules without I/O; device classes read hardware through ``drivers`` and hand
events to the caller. Nothing here imports ``edge``, ``broadcast`` or ``sat_phone``.
"""
