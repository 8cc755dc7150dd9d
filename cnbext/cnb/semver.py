"""Versions as pack reads them: the lifecycle's (Masterminds semver v1, which pack 0.40 pins)
and buildpacks' and extensions' (any folder-safe text; the spec's X.Y.Z only warned about).

pack passes ``[lifecycle] version`` through ``semver.NewVersion`` and downloads the release named
by the parsed version's ``String()``: ``0.21`` -> ``0.21.0``, ``v0.21.1`` -> ``0.21.1``. Users'
builder.toml files rely on those shorthands, so cnbext accepts exactly what that parser accepts
and names the same release.
"""

from __future__ import annotations

import re

__all__ = ["module_version_warning", "normalize_lifecycle_version"]

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


# buildpack.md and image_extension.md: a module version is X.Y.Z, three non-negative integers
# without leading zeros.
_SPEC_MODULE_VERSION = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)")


def module_version_warning(kind: str, version: str) -> str | None:
    """The one rule for buildpack and extension versions, on every path that loads one.

    The spec asks for X.Y.Z, but neither pack nor the lifecycle checks it, and published
    modules use other forms (``1.2.3-rc.1``, ``0.0.1-SNAPSHOT``); refusing them would refuse
    builders pack makes. So any version that is safe as a folder name is accepted (the loaders
    refuse the rest) and anything but X.Y.Z is a warning.
    """
    if _SPEC_MODULE_VERSION.fullmatch(version):
        return None
    return (
        f"{kind} version {version!r} is not X.Y.Z (three numbers without leading zeros) as the "
        "spec asks; pack and the lifecycle accept it, and so does cnbext"
    )
