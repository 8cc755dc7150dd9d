"""Gathering where a base image came from, before planning, for the provenance label.

The digest recorded is the one of the image actually used: the daemon's repository digest for
the base's repository (a local copy older than the registry's tag is recorded as that older
image, so a later check rightly calls it stale). The registry is asked only for an image the
daemon knows by a registry digest, so purely local images cause no network traffic.
"""

from __future__ import annotations

from dataclasses import replace

from cnbext.cnb.imageref import parse_reference
from cnbext.engine.models import BaseImage, ImageOrigin
from cnbext.engine.registry import Registry
from cnbext.errors import ImageError


def with_origin(base: BaseImage, reference: str, registry: Registry | None = None) -> BaseImage:
    """``base`` with its origin: ``reference`` as the user gave it, and its digests."""
    return replace(base, origin=origin_of(base, reference, registry or Registry()))


def origin_of(base: BaseImage, reference: str, registry: Registry) -> ImageOrigin:
    repository = parse_reference(base.reference).repository
    digest = next(
        (
            entry.rsplit("@", 1)[1]
            for entry in base.repo_digests
            if "@" in entry and _same_repository(entry.rsplit("@", 1)[0], repository)
        ),
        None,
    )
    if digest is None:
        return ImageOrigin(reference, None)
    try:
        manifest = registry.manifest(f"{repository}@{digest}")
        platforms = {p: m.digest for p, m in registry.platform_manifests(manifest).items()}
    except ImageError:
        platforms = {}  # the registry no longer serves it (or is unreachable): digest only
    return ImageOrigin(reference, digest, platforms)


def _same_repository(a: str, b: str) -> bool:
    try:
        return parse_reference(a).repository == parse_reference(b).repository
    except ValueError:
        return False


def registry_origin(reference: str, registry: Registry | None = None) -> ImageOrigin:
    """What the registry serves for ``reference`` now (for an image that is named, not read:
    a builder's run image that is not extended); digest None when it cannot be read."""
    registry = registry or Registry()
    try:
        manifest = registry.manifest(reference)
        platforms = {p: m.digest for p, m in registry.platform_manifests(manifest).items()}
    except ImageError:
        return ImageOrigin(reference, None)
    return ImageOrigin(reference, manifest.digest, platforms)
