"""The county's alert-signing certificates, read from the files ``[cap]`` names.

Reading them is not part of validating the config (a certificate file the daemon cannot
read must not keep the sirens from starting): ``check-config`` reports every problem
here with its key path, and the daemon, which starts anyway, shows them in health as
the ``cap`` device's fault and refuses what it cannot verify (fail closed for CAP only).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from edge.config import CapConfig

if TYPE_CHECKING:
    from broadcast.cap_signature import PinnedCertificates


@dataclass(frozen=True)
class CapTrust:
    pinned: PinnedCertificates | None  # None: no certificate configured or readable
    problems: tuple[str, ...]

    def health(self, now: datetime) -> tuple[str, str]:
        """(status, detail) of the ``cap`` device at ``now``."""
        if self.problems:
            return "fault", "; ".join(self.problems)
        if self.pinned is None:
            return "fault", "no trusted certificate"
        valid = self.pinned.valid_at(now)
        if not valid:
            from broadcast.cap_signature import describe

            return "fault", "no trusted certificate is valid now: every signed alert is " \
                            "refused (" + ", ".join(describe(c) for c in
                                                    self.pinned.certificates) + ")"
        until = min(c.not_valid_after_utc for c in valid)
        return "ok", f"{len(valid)} trusted certificate(s), the first expires {until:%Y-%m-%d}"


def read_trust(config: CapConfig) -> CapTrust:
    """The certificates of ``config.trusted_certificates``, and a problem per bad file."""
    if not config.trusted_certificates:
        return CapTrust(None, ())
    # cryptography, signxml and lxml only for a station that checks signatures
    from broadcast.cap_signature import PinnedCertificates, read_certificates

    certificates = []
    problems = []
    for i, path in enumerate(config.trusted_certificates):
        where = f"cap.trusted_certificates[{i}]"
        try:
            certificates += read_certificates(path.read_bytes())
        except OSError as exc:
            problems.append(f"{where}: cannot read {path}: {exc.strerror or exc}")
        except ValueError as exc:
            problems.append(f"{where}: {path} is not a PEM certificate: {exc}")
    pinned = PinnedCertificates(tuple(certificates)) if certificates else None
    return CapTrust(pinned, tuple(problems))
