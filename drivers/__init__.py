"""Thin adapters to hardware: clock, GPIO, serial lines, Modbus, audio.

Nothing here knows a word of the station's domain, and nothing here imports
the project's other packages: a driver is what a device looks like from Python.
"""
