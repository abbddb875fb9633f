"""What the install test checks after the README's block ran in the throw-away root
(run there as root by driver.sh; prints one JSON object for the test to assert on).

Each check is what a technician would do next: look at the files' owners, check the
config as the service user, read the first start's tokens from the journal, sign in,
make a token, ask the daemon for its devices, stop the service.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import re
import stat
import subprocess
from pathlib import Path
from typing import Any

import httpx

BASE = "http://127.0.0.1:8080"
USER = "station-edge"


def owner(path: str) -> dict[str, Any]:
    st = os.stat(path)
    return {"user": pwd.getpwuid(st.st_uid).pw_name, "group": grp.getgrgid(st.st_gid).gr_name,
            "mode": oct(stat.S_IMODE(st.st_mode))}


def run(*command: str) -> dict[str, Any]:
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    return {"rc": done.returncode, "out": done.stdout, "err": done.stderr}


def main() -> dict[str, Any]:
    results: dict[str, Any] = {
        "etc_dir": owner("/etc/station-edge"),
        "config": owner("/etc/station-edge/config.toml"),
        "edited": 'id = "SG-042"' in Path("/etc/station-edge/config.toml").read_text(),
        "data_dir": owner("/var/lib/station-edge"),
        "enabled": os.path.islink(
            "/etc/systemd/system/multi-user.target.wants/station-edge.service"),
        "user_groups": sorted(g.gr_name for g in grp.getgrall() if USER in g.gr_mem),
        "check_config_as_user": run("setpriv", f"--reuid={USER}", f"--regid={USER}",
                                    "--init-groups", "/opt/station-edge/.venv/bin/station-edge",
                                    "check-config", "/etc/station-edge/config.toml"),
        "verify": run("systemd-analyze", "verify", "/etc/systemd/system/station-edge.service"),
        "calls": Path("/var/log/station-edge-install.calls").read_text().splitlines(),
    }
    journal = Path("/var/log/station-edge.journal").read_text()
    tokens = dict(re.findall(r"^  (viewer|operator|admin) +([0-9a-f]{32})$", journal, re.M))
    results["tokens"] = sorted(tokens)
    if "viewer" in tokens:
        health = httpx.get(f"{BASE}/api/v1/health",
                           headers={"Authorization": f"Bearer {tokens['viewer']}"})
        results["health"] = {"status": health.status_code, "id": health.json()["station"]["id"]}
    if "admin" in tokens:
        signed = httpx.post(f"{BASE}/api/v1/sign-in", json={"token": tokens["admin"]})
        results["sign_in"] = {"status": signed.status_code, "role": signed.json().get("role")}
    added = run("sudo", "station-edge", "token", "add", "county", "--role", "viewer")
    secret = re.search(r"secret \(shown only now[^)]*\): ([0-9a-f]{32})", added["out"])
    results["token_add"] = {"rc": added["rc"], "err": added["err"]}
    if secret:
        live = httpx.get(f"{BASE}/api/v1/health",
                         headers={"Authorization": f"Bearer {secret.group(1)}"})
        results["token_add"]["signs_in"] = live.status_code
    results["token_file"] = owner("/var/lib/station-edge/api-tokens.json")
    results["devices"] = run("sudo", "station-edge", "devices")
    results["stop"] = run("sudo", "systemctl", "stop", "station-edge")
    results["journal"] = Path("/var/log/station-edge.journal").read_text()
    return results


if __name__ == "__main__":
    print(json.dumps(main()))
