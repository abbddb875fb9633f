"""The satellite phone, wired into the station (see :mod:`edge.satphone.phone`)."""
