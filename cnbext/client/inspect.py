"""``cnbext inspect``: what an image is, what was added to it, and whether it is still current.

Read-only: the daemon's copy is read when it has one, anything else comes from registries
(manifests and config blobs); nothing is pulled.
"""

from __future__ import annotations

import json
from typing import Any

from cnbext.client.image_checks import checked_view
from cnbext.client.names import saved_names
from cnbext.client.signatures import (
    platform_names,
    recorded_key,
    unverified,
    unverified_by_digest,
)
from cnbext.client.status import base_status, mirror_statuses
from cnbext.cnb.builder_layout import run_images_of
from cnbext.cnb.imageref import parse_reference
from cnbext.cnb.installed import PACKAGES_LABEL, parse_packages_label
from cnbext.cnb.labels import BUILDER_METADATA, EXTEND_METADATA, REBASABLE
from cnbext.cnb.provenance import PROVENANCE, Provenance, layers_rebasable, read_provenance
from cnbext.engine.models import ImageView
from cnbext.engine.protocol import Engine, RegistryAccess
from cnbext.engine.settings import EngineSettings
from cnbext.errors import CnbextError

ORDER = "io.buildpacks.buildpack.order"
ORDER_EXTENSIONS = "io.buildpacks.buildpack.order-extensions"


def inspect_image(
    reference: str, *, engine: Engine | None = None, settings: EngineSettings | None = None
) -> dict[str, Any]:
    """What ``reference`` is (read through ``engine``, else the Docker one ``settings`` name:
    context, builder) and its live status (registry lookups)."""
    from cnbext.client.engines import reading_engine

    engine = engine or reading_engine(settings=settings)
    registry = engine.registry()
    view = checked_view(engine.read_image(reference))
    provenance = _provenance(view)
    document: dict[str, Any] = {
        "reference": reference,
        "source": view.source,
        "digest": view.digest,
        "imageId": view.image_id,
        "kind": kind_of(view),
        "platforms": list(view.platforms),
        "user": view.user,
        "rebasable": view.labels.get(REBASABLE),
        # cnbext's own judgement of the image's layers (what upgrade rebases by).
        "layersRebasable": layers_rebasable(provenance, view.labels)
        if provenance is not None and provenance.role != "builder"
        else None,
        "extendMetadata": _json_label(view, EXTEND_METADATA),
        "provenance": _json_label(view, PROVENANCE),
        # Where it was saved (kept beside the image, not in it) and what was asked for.
        "names": list(saved_names(reference, provenance, view, registry) or (reference,))
        if provenance is not None
        else [reference],
        "request": provenance.request if provenance is not None else None,
        # What the packages asked for installed, per platform, as read from the result.
        "packages": _packages(view),
    }
    document["signatures"] = _signatures(engine, view, provenance, document["names"], registry)
    document["attestations"] = _attestations(engine, view, provenance, document["names"])
    document["status"] = _status(view, registry)
    if provenance is not None and (moved := _run_image_moved(engine, view, provenance)):
        document["status"]["runImage"] = moved
    if BUILDER_METADATA in view.labels:
        document["builder"] = builder_view(view, registry)
    return document


def _signatures(
    engine: Engine,
    view: ImageView,
    provenance: Provenance | None,
    names: list[str],
    registry: RegistryAccess,
) -> dict[str, Any] | None:
    """For a published image signed when it was made: the key, and per name "verified" or
    why not. None for an image that was not signed (or is only in the daemon)."""
    key = recorded_key(provenance) if provenance is not None else None
    if key is None or provenance is None or view.source != "registry" or not view.digest:
        return None
    failing = unverified(engine, names, view.digest, key)
    # --append-image-name-suffix: each platform's name serves (and was signed for) its own digest.
    own = platform_names(provenance, names[0], view, registry)
    failing |= unverified_by_digest(engine, own, key)
    return {"key": key, "names": {name: failing.get(name, "verified") for name in [*names, *own]}}


def _attestations(
    engine: Engine, view: ImageView, provenance: Provenance | None, names: list[str]
) -> dict[str, Any] | None:
    """For a published image signed when it was made: per name, per attestation it should
    carry (``provenance``, ``sbom (os/arch)``), "verified" or why not. None otherwise."""
    key = recorded_key(provenance) if provenance is not None else None
    if key is None or provenance is None or view.source != "registry" or not view.digest:
        return None
    from cnbext.client.attestations import attestation_states, published_attestations

    reference = f"{parse_reference(names[0]).repository}@{view.digest}"
    try:
        expected = published_attestations(
            engine, reference, view.labels, provenance, documents=False
        )
    except CnbextError as err:
        return {"key": key, "error": err.message, "names": {}}
    return {"key": key, "names": attestation_states(engine, names, expected, key)}


def _provenance(view: ImageView) -> Provenance | None:
    try:
        return read_provenance(view.labels)
    except (ValueError, KeyError):
        return None


def _packages(view: ImageView) -> dict[str, Any] | None:
    changes = parse_packages_label(view.labels.get(PACKAGES_LABEL))
    if changes is None:
        return None
    return {platform: change.to_dict() for platform, change in changes.items()}


def kind_of(view: ImageView) -> str:
    if BUILDER_METADATA in view.labels:
        return "builder"
    try:
        provenance = read_provenance(view.labels)
    except (ValueError, KeyError):
        provenance = None
    if provenance is not None and provenance.role == "run image":
        return "run image"
    if provenance is not None or EXTEND_METADATA in view.labels:
        return "extended image"
    if "CNB_USER_ID" in view.env:
        return "build image"
    return "image"


def _json_label(view: ImageView, name: str) -> Any:
    raw = view.labels.get(name)
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _status(view: ImageView, registry: RegistryAccess) -> dict[str, Any]:
    try:
        provenance = read_provenance(view.labels)
    except (ValueError, KeyError) as err:
        return {"state": "unknown", "why": f"unreadable provenance: {err}"}
    if provenance is None:
        return {"state": "unknown", "why": "no provenance: not made by cnbext"}
    base = base_status(provenance.base, registry)
    status: dict[str, Any] = {"base": base.to_dict()}
    states = [base.state]
    if provenance.run_image is not None and provenance.run_image.base is not None:
        run_base = base_status(provenance.run_image.base, registry)
        status["runImageBase"] = run_base.to_dict()
        states.append(run_base.state)
    if "stale" in states:
        status["state"] = "stale"
    elif "unknown" in states:
        status["state"] = "unknown"
    else:
        status["state"] = "up to date"
    return status


def _run_image_moved(
    engine: Engine, view: ImageView, provenance: Provenance
) -> dict[str, Any] | None:
    """For a builder whose run image it extended: whether that run image, as its name serves
    it now, is still on the base the builder recorded (``same``) or was upgraded on its own
    since (``moved``: the builder names it by tag, so builds already use it). None where the
    builder extended no run image."""
    run = provenance.run_image
    if provenance.role != "builder" or run is None or run.base is None or not run.base.digest:
        return None
    if run.image == run.base.reference:
        return None  # the builder names its run image as it found it
    entry: dict[str, Any] = {"image": run.image, "recorded": run.base.digest, "now": None}
    try:
        found = checked_view(engine.read_image(run.image, daemon=view.source != "registry"))
        now = read_provenance(found.labels)
    except (CnbextError, ValueError, KeyError) as err:
        why = err.message if isinstance(err, CnbextError) else f"unreadable provenance ({err})"
        return {**entry, "state": "unknown", "why": why}
    if now is None or now.role != "run image":
        return {**entry, "state": "unknown", "why": f"{run.image} has no run image provenance"}
    entry.update(now=now.base.digest, digest=found.digest)
    if now.base.digest == run.base.digest:
        return {**entry, "state": "same", "why": ""}
    why = (
        f"{run.image} moved since this builder was made: it is now on "
        f"{now.base.reference}@{now.base.digest} (the builder recorded {run.base.digest}); "
        "the builder names it by tag, so builds use it"
    )
    return {**entry, "state": "moved", "why": why}


def builder_view(view: ImageView, registry: RegistryAccess) -> dict[str, Any]:
    """What ``pack builder inspect`` shows, plus the run images' mirrors compared by digest."""
    metadata = _json_label(view, BUILDER_METADATA)
    if not isinstance(metadata, dict):
        return {"error": f"{BUILDER_METADATA} is not a JSON object"}
    lifecycle = metadata.get("lifecycle") or {}
    run_images = []
    for run_image in run_images_of(metadata):
        run, mirrors = mirror_statuses(run_image.image, run_image.mirrors, registry)
        run_images.append({**run.to_dict(), "mirrors": [m.to_dict() for m in mirrors]})
    created_by = metadata.get("createdBy") or {}
    return {
        "description": metadata.get("description", ""),
        "createdBy": f"{created_by.get('name', '')} {created_by.get('version', '')}".strip(),
        "stack": view.labels.get("io.buildpacks.stack.id"),
        "lifecycle": {
            "version": lifecycle.get("version"),
            "buildpackApis": (lifecycle.get("apis") or {}).get("buildpack"),
            "platformApis": (lifecycle.get("apis") or {}).get("platform"),
        },
        "runImages": run_images,
        "buildpacks": [_module(m) for m in metadata.get("buildpacks") or ()],
        "extensions": [_module(m) for m in metadata.get("extensions") or ()],
        "order": _json_label(view, ORDER) or [],
        "orderExtensions": _json_label(view, ORDER_EXTENSIONS) or [],
    }


def _module(entry: Any) -> dict[str, Any]:
    if not isinstance(entry, dict):
        return {"id": str(entry)}
    return {k: entry.get(k) for k in ("id", "name", "version", "homepage") if entry.get(k)}
