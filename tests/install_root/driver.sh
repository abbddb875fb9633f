#!/bin/bash
# The install test's throw-away root, run as root inside
#   unshare --mount --net --pid --fork --mount-proc
# so every write lands in overlay upper directories under $1 (the host's /etc, /opt,
# /var, /usr, /root and /run stay untouched), there is no network, and every process
# left behind dies with this script (it is PID 1 of its namespace).
#   $1  the test's work directory: upper/ work/ (overlays), wheels/ (pip's only index),
#       readme-block.sh (the README's install block), results are written there
#   $2  this directory (the stand-ins), $3 the project's python (to run checks.py)
set -euo pipefail
T=$1
HERE=$2
for d in etc opt var usr root run; do
    mkdir -p "$T/upper/$d" "$T/work/$d"
    mount -t overlay overlay -o "lowerdir=/$d,upperdir=$T/upper/$d,workdir=$T/work/$d" "/$d"
done
ip link set lo up
# What stands in for what this machine lacks: systemd as PID 1, udevd, a GPIO chip.
install -m 0755 "$HERE/systemctl" "$HERE/udevadm" "$HERE/journalctl" /usr/local/sbin/
install -d /usr/local/lib/station-edge-test
install -m 0644 "$HERE/lgpio.py" /usr/local/lib/station-edge-test/
echo "PYTHONPATH=/usr/local/lib/station-edge-test" > /etc/station-edge-test.env
mount --bind "$HERE/cpuinfo" /proc/cpuinfo      # a Raspberry Pi 4 for gpiozero
# pip's only source: the wheels of the project's dependencies (no network here).
rm -f /etc/xdg/pip/pip.conf /root/.config/pip/pip.conf
printf '[global]\nno-index = true\nno-compile = true\nfind-links = %s\n' "$T/wheels" > /etc/pip.conf
cd /root
env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 SUDO_EDITOR="$HERE/edit-config" \
    bash -euo pipefail "$T/readme-block.sh" > "$T/install.log" 2>&1 || {
        echo "README block failed: exit $?" >> "$T/install.log"; exit 3; }
"$3" "$HERE/checks.py" > "$T/checks.json"
