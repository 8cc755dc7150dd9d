"""Planning the provenance label (cnbext.cnb.provenance) of the images a plan makes. Pure."""

from __future__ import annotations

import json
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from cnbext.cnb.labels import LabelChange
from cnbext.cnb.provenance import (
    PROVENANCE,
    BaseRecord,
    ExtensionRecord,
    Provenance,
    RunImageRecord,
    earlier_rounds,
    extension_records,
    recorded_env,
)
from cnbext.config.extension_request import ExtensionRequest
from cnbext.plan.facts import BaseImage
from cnbext.plan.model import ImageBuild, Plan
from cnbext.version import __version__


def base_record(base: BaseImage, given: str) -> BaseRecord:
    """``given`` (the reference as the user wrote it) with the digests gathered for ``base``."""
    origin = base.origin
    if origin is None:
        return BaseRecord(given)
    return BaseRecord(given, origin.digest, dict(origin.platforms))


def platforms_of(platforms: Sequence[str], base: BaseImage) -> tuple[str, ...]:
    """The platforms asked for, else the one the base was read for (the daemon's)."""
    if platforms:
        # --platform takes comma-separated lists too (as buildx does).
        return tuple(p.strip() for entry in platforms for p in entry.split(",") if p.strip())
    return (f"{base.os or 'linux'}/{base.architecture}",) if base.architecture else ()


def extensions_of(
    requests: Sequence[ExtensionRequest], base_dir: Path, applied: Any
) -> tuple[ExtensionRecord, ...]:
    """Records of the extensions asked for; relative folders made absolute so the work can be
    redone from anywhere."""
    resolved = [(_absolute(r.uri, base_dir), r.id, r.version) for r in requests]
    records = extension_records(resolved, applied if isinstance(applied, list) else ())
    return tuple(
        replace(
            record,
            digest=request.digest,
            metadata=dict(request.metadata),
            sha256=request.sha256,
        )
        for record, request in zip(records, requests, strict=True)
    )


def _absolute(uri: str, base_dir: Path) -> str:
    if "://" in uri or uri.startswith("urn:") or posixpath.isabs(uri):
        return uri
    return posixpath.normpath(posixpath.join(base_dir.as_posix(), uri))


def image_provenance(
    *,
    command: str,
    role: str,
    base: BaseImage,
    given: str,
    platforms: Sequence[str],
    metadata: Mapping[str, Any],
    extensions: tuple[ExtensionRecord, ...] = (),
    build_id: str | None,
    run_image: RunImageRecord | None = None,
    lifecycle: dict[str, Any] | None = None,
    platform_env: Mapping[str, str] | None = None,
    app_dir: Path | None = None,
) -> Provenance:
    return Provenance(
        command=command,
        role=role,
        tool_version=__version__,
        base=base_record(base, given),
        platforms=platforms_of(platforms, base),
        metadata={k: v for k, v in metadata.items() if k != "extensions"},
        extensions=extensions,
        build_id=build_id,
        run_image=run_image,
        lifecycle=lifecycle,
        history=earlier_rounds(base.labels),
        platform_env=recorded_env(platform_env or {}),
        app=app_dir.resolve().as_posix() if app_dir is not None else None,
    )


def with_request(plan: Plan, request: Mapping[str, Any]) -> Plan:
    """``plan`` with ``request`` recorded in the provenance label of every image it makes
    (each platform's image of a multi-target builder too)."""

    def recorded(build: ImageBuild) -> ImageBuild:
        if PROVENANCE not in build.labels:
            return build
        provenance = Provenance.from_dict(json.loads(build.labels[PROVENANCE]))
        build = with_provenance(build, replace(provenance, request=dict(request)))
        return replace(build, per_platform=tuple(recorded(b) for b in build.per_platform))

    return replace(plan, builds=tuple(recorded(b) for b in plan.builds))


def with_provenance(build: ImageBuild, provenance: Provenance) -> ImageBuild:
    """``build`` also writing the provenance label, with the build's own judgement of its
    layers' rebasability (``build.rebasable``) in it."""
    value = replace(provenance, rebasable=build.rebasable).encode()
    change = LabelChange(PROVENANCE, build.result_labels.get(PROVENANCE), value)
    return replace(
        build,
        labels={**build.labels, PROVENANCE: value},
        result_labels={**build.result_labels, PROVENANCE: value},
        label_changes=tuple(
            sorted(
                [*(c for c in build.label_changes if c.name != PROVENANCE), change],
                key=lambda c: c.name,
            )
        ),
    )
