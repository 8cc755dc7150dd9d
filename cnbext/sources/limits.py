"""The limits on what untrusted inputs may cost, each overridable by an environment variable.

Every default is documented in docs/security.md. A knob set to something that is not a positive
finite number is refused rather than ignored: ``nan`` or ``inf`` would silently switch a limit
off, which is exactly what an attacker who controls a CI variable would want.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from cnbext.errors import UsageError

MAX_BYTES_ENV = "CNBEXT_MAX_ARCHIVE_BYTES"
MAX_ENTRIES_ENV = "CNBEXT_MAX_ARCHIVE_ENTRIES"
DOWNLOAD_TIMEOUT_ENV = "CNBEXT_DOWNLOAD_TIMEOUT"
DOWNLOAD_MAX_BYTES_ENV = "CNBEXT_DOWNLOAD_MAX_BYTES"

DEFAULT_MAX_BYTES = 4 << 30  # 4 GiB written per archive or image tree (hard links included)
DEFAULT_MAX_ENTRIES = 200_000  # members per archive or image tree
DEFAULT_DOWNLOAD_TIMEOUT = 600.0  # seconds for a whole download, not per read
DEFAULT_DOWNLOAD_MAX_BYTES = 2 << 30  # 2 GiB per downloaded file
MAX_INDEX_DEPTH = 4  # image index -> index -> ... -> manifest; more is a loop or an attack
MAX_LINK_HOPS = 40  # as Linux's own limit on symlinks followed in one path


def env_number(name: str, default: float, *, integer: bool = False) -> float:
    """``$name`` as a positive finite number, or ``default`` when unset or empty."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        kind = "a positive whole number" if integer else "a positive number of seconds"
        raise UsageError(f"{name}={raw!r}: must be {kind}", hint=f"unset {name} for the default")
    return value


@dataclass
class Budget:
    """What one archive or exported tree may still write; shared by every layer of an image."""

    bytes_left: int
    entries_left: int
    max_bytes: int
    max_entries: int

    @classmethod
    def from_env(cls) -> Budget:
        max_bytes = int(env_number(MAX_BYTES_ENV, DEFAULT_MAX_BYTES, integer=True))
        max_entries = int(env_number(MAX_ENTRIES_ENV, DEFAULT_MAX_ENTRIES, integer=True))
        return cls(max_bytes, max_entries, max_bytes, max_entries)

    def take_entry(self) -> str | None:
        """Count one entry; the reason to refuse it when the cap is reached."""
        if self.entries_left <= 0:
            return f"more than {self.max_entries} entries (raise {MAX_ENTRIES_ENV} if legitimate)"
        self.entries_left -= 1
        return None

    def take_bytes(self, count: int) -> str | None:
        """Count ``count`` bytes about to be written; the reason to refuse them over the cap."""
        if count > self.bytes_left:
            return (
                f"more than {self.max_bytes} bytes in total (raise {MAX_BYTES_ENV} if legitimate)"
            )
        self.bytes_left -= count
        return None
