"""Where an image was saved, kept beside it and never in it.

The names an image is saved under are not part of the image (the same request saved under two
names gives the same image id and digests), yet ``upgrade`` must republish every one of them.
So each published name's repository gets a small OCI artifact next to the image: a manifest
whose ``subject`` is the image, tagged ``sha256-<hex>.names`` (the tag schema OCI 1.1 gives
registries without the referrers API, as cosign tags ``sha256-<hex>.sig``), whose annotation
``io.cnbext.names`` lists every name. In the daemon the image's own tags say the same.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from cnbext.cnb.imageref import parse_reference
from cnbext.cnb.provenance import Provenance
from cnbext.engine.models import ImageView
from cnbext.engine.protocol import RegistryAccess
from cnbext.errors import CnbextError, UsageError
from cnbext.progress import Reporter

if TYPE_CHECKING:
    from cnbext.client.publish import ImageResult
    from cnbext.engine.protocol import Engine

ARTIFACT_TYPE = "application/vnd.cnbext.names.v1+json"
ANNOTATION = "io.cnbext.names"
_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
_EMPTY_TYPE = "application/vnd.oci.empty.v1+json"
_EMPTY = b"{}"


def names_tag(digest: str) -> str:
    """The tag the names record of the image ``digest`` is kept under."""
    return f"{digest.replace(':', '-')}.names"


def record_names(registry: RegistryAccess, names: Sequence[str], digest: str) -> None:
    """Keep ``names`` beside the image ``digest`` in the repository of each of them."""
    annotation = json.dumps(list(names), separators=(",", ":"))
    for name in names:
        repository = parse_reference(name).repository
        subject = registry.manifest(f"{repository}@{digest}")
        empty = registry.put_blob(repository, _EMPTY)
        descriptor = {"mediaType": _EMPTY_TYPE, "digest": empty, "size": len(_EMPTY)}
        document = {
            "schemaVersion": 2,
            "mediaType": _MANIFEST,
            "artifactType": ARTIFACT_TYPE,
            "config": descriptor,
            "layers": [descriptor],
            "subject": {
                "mediaType": subject.media_type,
                "digest": digest,
                "size": len(subject.raw),
            },
            "annotations": {ANNOTATION: annotation},
        }
        raw = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
        registry.put_manifest(repository, names_tag(digest), raw, _MANIFEST)


def recorded_names(registry: RegistryAccess, name: str, digest: str) -> tuple[str, ...] | None:
    """The names the image ``digest`` (which ``name`` serves) was saved under, from the record
    beside it; None when there is none (made by cnbext 0.x, or the record was deleted)."""
    repository = parse_reference(name).repository
    try:
        record = registry.manifest(f"{repository}:{names_tag(digest)}")
    except CnbextError:  # not found, or unreadable: as good as no record
        return None
    subject = record.document.get("subject") or {}
    if subject.get("digest") != digest:
        return None  # not the record of this image: ignore it rather than trust it
    try:
        names = json.loads((record.document.get("annotations") or {}).get(ANNOTATION, "[]"))
    except json.JSONDecodeError:
        return None
    return tuple(str(n) for n in names) if isinstance(names, list) else None


def saved_names(
    name: str, provenance: Provenance, view: ImageView, registry: RegistryAccess
) -> tuple[str, ...] | None:
    """``name`` first (it is the one pushed), then the other names the image was saved as, so
    an upgrade republishes all of them: the daemon's tags of the image, the record kept beside
    a published one (cnbext.client.names), or what a format-1 label listed. None when a
    published image has no record."""
    others: Sequence[str] | None
    if provenance.format_version == 1:
        others = provenance.names
    elif view.source == "daemon":
        others = view.tags
    else:
        others = recorded_names(registry, name, view.digest) if view.digest else None
    if others is None:
        return None
    normalized = [_normalized(n) for n in others if n and "<none>" not in n]
    return (name, *(n for n in normalized if n != name))


def _normalized(name: str) -> str:
    from cnbext.cnb.imageref import InvalidReferenceError

    try:
        return str(parse_reference(name))
    except InvalidReferenceError:
        return name  # recorded by hand or by a foreign tool: kept as it is, refused when used


def normalize_names(names: Sequence[str]) -> tuple[str, ...]:
    """Output names, normalized; every bad one reported at once, before any work."""
    from cnbext.cnb.imageref import InvalidReferenceError

    normalized: list[str] = []
    problems: list[str] = []
    for name in names:
        try:
            reference = parse_reference(name)
        except InvalidReferenceError as err:
            problems.append(str(err))
            continue
        if reference.digest is not None:
            problems.append(f"{name}: an output name cannot have a digest; give a tag")
            continue
        normalized.append(str(reference))
    if problems:
        raise UsageError("; ".join(problems))
    return tuple(normalized)


def keep_names(engine: Engine, reporter: Reporter, images: Sequence[ImageResult]) -> None:
    """Record beside each published image every name it was saved under (for upgrade)."""
    registry = engine.registry()
    for image in images:
        try:
            record_names(registry, image.names, image.digest)
        except CnbextError as err:
            # The images are out there and correct; only a later upgrade's list is affected.
            reporter.warn(
                f"{image.names[0]}: cannot record its names beside it ({err.message}); "
                "`cnbext upgrade` will republish only the names it is given"
            )
