#!/bin/sh
# Make this machine able to run and test StationEdge: the Debian packages it needs,
# then a virtual environment with the project installed into it.
#
# As root, missing Debian packages are installed with apt-get; otherwise the exact
# apt-get line is printed and the script stops, so nothing half-works later.
set -eu

DEBIAN_PACKAGES="${STATION_EDGE_DEBIAN_PACKAGES:-libportaudio2 libasound2 espeak-ng systemd prometheus prometheus-alertmanager chromium fonts-wqy-microhei baresip-core sip-tester kamailio stress-ng python3-venv git sudo}"
VENV="${VENV:-.venv}"
PYTHON="${PYTHON:-python3}"

missing=""
if command -v dpkg-query >/dev/null 2>&1; then
    for pkg in $DEBIAN_PACKAGES; do
        status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
        case "$status" in
            *"install ok installed"*) ;;
            *) missing="$missing $pkg" ;;
        esac
    done
else
    echo "bootstrap: not a Debian system; make sure these are installed: $DEBIAN_PACKAGES" >&2
fi

if [ -n "$missing" ]; then
    if [ "$(id -u)" = "0" ]; then
        echo "bootstrap: installing Debian packages:$missing"
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing \
            || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing; }
    else
        echo "bootstrap: missing Debian packages. Run as root:" >&2
        echo "    sudo apt-get install -y --no-install-recommends$missing" >&2
        exit 1
    fi
fi

if [ ! -x "$VENV/bin/python" ]; then
    echo "bootstrap: creating $VENV"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
fi
echo "bootstrap: installing StationEdge into $VENV"
"$VENV/bin/python" -m pip install --quiet -e ".[dev,sip]"
