"""Lifecycle versions as pack reads them (Masterminds semver v1, which pack 0.40 pins).

pack passes ``[lifecycle] version`` through ``semver.NewVersion`` and downloads the release named
by the parsed version's ``String()``: ``0.21`` -> ``0.21.0``, ``v0.21.1`` -> ``0.21.1``. Users'
builder.toml files rely on those shorthands, so cnbext accepts exactly what that parser accepts
and names the same release.
"""

from __future__ import annotations

import re

__all__ = ["normalize_lifecycle_version"]

# Masterminds semver v1's SemVerRegex, anchored as NewVersion anchors it: an optional "v",
# one to three numeric parts, then optional pre-release and build metadata.
_LOOSE_SEMVER = re.compile(
    r"v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?"
    r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
    r"(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
)
# NewVersion parses each number as a uint64; anything larger is refused.
_UINT64_MAX = 2**64 - 1


def normalize_lifecycle_version(text: str) -> str | None:
    """``"0.21"`` -> ``"0.21.0"``, ``"v0.21.1"`` -> ``"0.21.1"``; None when pack would refuse it."""
    match = _LOOSE_SEMVER.fullmatch(text)
    if match is None:
        return None
    numbers = [int(part.lstrip(".")) if part else 0 for part in match.group(1, 2, 3)]
    if any(number > _UINT64_MAX for number in numbers):
        return None
    version = ".".join(str(number) for number in numbers)
    if match.group(4):
        version += f"-{match.group(4)}"
    if match.group(5):
        version += f"+{match.group(5)}"
    return version
