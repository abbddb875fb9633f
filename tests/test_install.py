"""The README's install block, word for word, in a throw-away root, as the service user.

The block is read from README.md by this test (never copied here) and run by bash as
root in a private mount, network and PID namespace whose /etc, /opt, /var, /usr, /root
and /run are overlays on this Debian bookworm machine: real apt-get, git, python3 -m
venv, pip, groupadd, useradd, install, sudo, sudoedit, setpriv, systemd-analyze verify
and systemctl's own offline enable. Only what this machine lacks has a stand-in
(tests/install_root/): systemd as PID 1 (start, notify, stop as the unit says, without
its sandboxing), udevd, and the GPIO chip (a fake ``lgpio`` behind gpiozero's real
LGPIOFactory, and a Raspberry Pi 4 cpuinfo). ``<this repository>`` becomes a clone of
this working tree; pip's only index is a directory of the dependencies' wheels, built
once per dependency list and kept in the user's cache (``~/.cache/station-edge/install-wheels/``,
as pip keeps its own) because there is no network in there.

Then, as a technician would: the config is read by the service user, the first start
printed a token per role, they sign in, a token made with ``sudo station-edge token add``
works at once, ``sudo station-edge devices`` goes through the daemon, the service stops
with ``safe-off``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.helpers import REPO

pytestmark = pytest.mark.slow
HERE = REPO / "tests" / "install_root"
NEEDS = ("unshare", "setpriv", "sudo", "sudoedit", "systemd-analyze", "git", "ip", "apt-get",
         "useradd")


def readme_block() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Installing on a Raspberry Pi", 1)[1]
    return section.split("```", 2)[1].strip("\n") + "\n"


def why_not() -> str | None:
    if os.geteuid() != 0:
        return "needs root (namespaces and overlay mounts)"
    missing = [tool for tool in NEEDS if shutil.which(tool) is None]
    if missing:
        return f"needs {', '.join(missing)} (scripts/bootstrap.sh installs them as root)"
    if not Path("/usr/bin/python3").exists():
        return "needs Debian's python3 (python3-venv)"
    probe = subprocess.run(["unshare", "--mount", "--net", "--pid", "--fork", "--mount-proc",
                            "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        return f"cannot make namespaces here: {probe.stderr.decode().strip()}"
    return None


def wheelhouse() -> Path:
    """The dependencies' wheels (and the build backend's), built once per dependency list
    (the same for every clone of the project: some ten seconds each time otherwise)."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    wanted = project["project"]["dependencies"] + project["project"]["optional-dependencies"][
        "pi"] + project["build-system"]["requires"]
    key = hashlib.sha256("\n".join(sorted(wanted)).encode()).hexdigest()[:16]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    folder = cache / "station-edge" / "install-wheels" / key
    if not (folder / "complete").exists():
        folder.mkdir(parents=True, exist_ok=True)
        built = subprocess.run(["/usr/bin/python3", "-m", "pip", "wheel", "--quiet", "-w",
                                str(folder), *wanted], capture_output=True, text=True,
                               timeout=900, check=False)
        if built.returncode != 0:
            pytest.skip("cannot get the dependencies' wheels for the throw-away root (no "
                        f"package index reachable?): {built.stderr.strip()[-500:]}")
        (folder / "complete").touch()
    return folder


def source_clone(work: Path) -> Path:
    """This working tree as a repository to clone (tracked files as they are now)."""
    src = work / "src"
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                           cwd=REPO, capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        if (REPO / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, src / name)
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@localhost", "-C", str(src)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "as tested"], check=True)
    return src


@pytest.mark.skipif(why_not() is not None, reason=str(why_not()))
def test_the_readme_install_block_installs_a_station_that_runs_as_its_user(
        tmp_path: Path) -> None:
    work = tmp_path
    block = readme_block()
    assert "<this repository>" in block
    (work / "wheels").symlink_to(wheelhouse())
    src = source_clone(work)
    (work / "readme-block.sh").write_text(block.replace("<this repository>", str(src)))
    ran = subprocess.run(["unshare", "--mount", "--net", "--pid", "--fork", "--mount-proc",
                          "--propagation", "private", "bash", str(HERE / "driver.sh"),
                          str(work), str(HERE), sys.executable],
                         capture_output=True, text=True, timeout=600, check=False)
    log = (work / "install.log").read_text() if (work / "install.log").exists() else ""
    assert ran.returncode == 0, f"{ran.stderr}\n--- install.log:\n{log}"
    r = json.loads((work / "checks.json").read_text())
    journal = r["journal"]
    assert r["etc_dir"] == {"user": "root", "group": "station-edge", "mode": "0o750"}
    assert r["config"] == {"user": "root", "group": "station-edge", "mode": "0o640"}
    assert r["edited"], "sudoedit's change is in the installed config"
    assert r["user_groups"] == ["audio", "dialout", "gpio"]
    assert r["check_config_as_user"]["rc"] == 0, r["check_config_as_user"]
    assert r["verify"]["rc"] == 0, r["verify"]
    assert r["enabled"]
    assert "udevadm trigger" in r["calls"]
    assert r["data_dir"] == {"user": "station-edge", "group": "station-edge", "mode": "0o750"}
    assert "station-edge.service: started (READY=1)" in journal, journal
    assert "API tokens (shown once" in log, "the README's journalctl line shows them"
    assert r["tokens"] == ["admin", "operator", "viewer"], journal
    assert r["health"] == {"status": 200, "id": "SG-042"}
    assert r["sign_in"] == {"status": 200, "role": "admin"}
    assert r["token_add"].get("signs_in") == 200, r["token_add"]
    assert r["token_file"]["user"] == "station-edge", "root's token add keeps the daemon's owner"
    devices = r["devices"]
    assert "daemon running (pid" in devices["out"] and "going through its API" in devices["out"]
    assert re.search(r"rg-1 .*/dev/station-rs485|rg-1 +rain_gauge", devices["out"]), devices
    assert r["stop"]["rc"] == 0
    assert re.search(r"^OFF: .*amplifier\.power \(pin 23\), amplifier\.zone-24 \(pin 24\)",
                     journal, re.M), journal
    # No RS-485 adapter in the throw-away root: safe-off says so rather than claim it OFF.
    assert re.search(r"^NOT OFF: siren-2 \(rs485 unit 10 coil 0\) on /dev/station-rs485: ",
                     journal, re.M), journal
    assert journal.rstrip().endswith("station-edge.service: stopped")
