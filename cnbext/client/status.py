"""Live checks behind ``inspect`` and ``upgrade --check``: registry lookups only.

A base is *stale* when the reference recorded in the provenance now resolves to other content
for the recorded platforms (a new platform added to the base's index does not make an image
stale); mirrors are compared with the run image by digest (kpack#190).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cnbext.cnb.provenance import BaseRecord, Provenance
from cnbext.engine.models import NotFoundError
from cnbext.engine.protocol import RegistryAccess
from cnbext.errors import ImageError

CURRENT = "current"
STALE = "stale"
UNKNOWN = "unknown"


@dataclass(frozen=True)
class BaseStatus:
    reference: str
    recorded: str | None
    current: str | None
    state: str  # current, stale, unknown
    why: str = ""
    moved_platforms: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "recorded": self.recorded,
            "current": self.current,
            "state": self.state,
            "why": self.why,
            "movedPlatforms": list(self.moved_platforms),
        }


def base_status(record: BaseRecord, registry: RegistryAccess) -> BaseStatus:
    reference = record.reference
    if record.digest is None:
        return BaseStatus(reference, None, None, UNKNOWN, "the base was not from a registry")
    try:
        manifest = registry.manifest(reference)
    except NotFoundError:
        return BaseStatus(reference, record.digest, None, UNKNOWN, f"{reference} is gone")
    except ImageError as err:
        return BaseStatus(reference, record.digest, None, UNKNOWN, err.message)
    if manifest.digest == record.digest:
        return BaseStatus(reference, record.digest, manifest.digest, CURRENT)
    if not record.platforms:
        return BaseStatus(reference, record.digest, manifest.digest, STALE, f"{reference} moved")
    current = {p: m.digest for p, m in registry.platform_manifests(manifest).items()}
    moved = tuple(p for p, d in sorted(record.platforms.items()) if current.get(p) != d)
    if not moved:
        return BaseStatus(reference, record.digest, manifest.digest, CURRENT)
    return BaseStatus(
        reference,
        record.digest,
        manifest.digest,
        STALE,
        f"{reference} moved ({', '.join(moved)})",
        moved,
    )


@dataclass(frozen=True)
class NameStatus:
    image: str
    digest: str | None
    state: str  # equal, different, missing (mirrors); present, missing (the run image)

    def to_dict(self) -> dict[str, Any]:
        return {"image": self.image, "digest": self.digest, "state": self.state}


def mirror_statuses(
    image: str, mirrors: Sequence[str], registry: RegistryAccess
) -> tuple[NameStatus, tuple[NameStatus, ...]]:
    """The run image's digest and each mirror's, compared with it."""
    run_digest = _digest(image, registry)
    run = NameStatus(image, run_digest, "present" if run_digest else "missing")
    found = []
    for mirror in mirrors:
        digest = _digest(mirror, registry)
        state = "missing" if digest is None else "equal" if digest == run_digest else "different"
        found.append(NameStatus(mirror, digest, state))
    return run, tuple(found)


def _digest(reference: str, registry: RegistryAccess) -> str | None:
    try:
        return registry.digest(reference)
    except ImageError:
        return None


def upgrade_reasons(
    provenance: Provenance,
    registry: RegistryAccess,
    *,
    build_id: str | None = None,
    default_lifecycle: str | None = None,
) -> list[str]:
    """Why the recorded work should be redone now; empty when the image is up to date."""
    reasons = []
    base = base_status(provenance.base, registry)
    if base.state == STALE:
        reasons.append(f"base {base.why}")
    run = provenance.run_image
    if run is not None and run.base is not None:
        run_base = base_status(run.base, registry)
        if run_base.state == STALE:
            reasons.append(f"run image base {run_base.why}")
    if build_id is not None and build_id != provenance.build_id:
        reasons.append(f"build id {provenance.build_id or '(fresh)'} -> {build_id}")
    lifecycle = provenance.lifecycle or {}
    requested = lifecycle.get("requested") or {}
    if (
        default_lifecycle
        and requested.get("default")
        and lifecycle.get("version") != default_lifecycle
    ):
        reasons.append(f"lifecycle {lifecycle.get('version')} -> {default_lifecycle} (default)")
    return reasons
