"""Gathering where a base image came from, before planning, for the provenance label.

The digest recorded is the one of the image actually used: the daemon's repository digest for
the base's repository (a local copy older than the registry's tag is recorded as that older
image, so a later check rightly calls it stale). The registry is asked only for an image the
daemon knows by a registry digest, so purely local images cause no network traffic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from cnbext.cnb.imageref import parse_reference
from cnbext.config.extension_request import ExtensionRequest
from cnbext.engine.protocol import Engine, RegistryAccess
from cnbext.errors import ImageError
from cnbext.plan.facts import BaseImage, ImageOrigin
from cnbext.sources.download import file_sha256


def with_origin(base: BaseImage, reference: str, registry: RegistryAccess) -> BaseImage:
    """``base`` with its origin: ``reference`` as the user gave it, and its digests."""
    return replace(base, origin=origin_of(base, reference, registry))


def origin_of(base: BaseImage, reference: str, registry: RegistryAccess) -> ImageOrigin:
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
        _, platforms = _served(registry, f"{repository}@{digest}")
    except ImageError:
        platforms = {}  # the registry no longer serves it (or is unreachable): digest only
    return ImageOrigin(reference, digest, platforms)


def registry_origin(registry: RegistryAccess, reference: str) -> ImageOrigin:
    """What ``reference``'s registry serves now: index and per-platform digests (digest None
    when it cannot be read). Reads the registry only; nothing is pulled."""
    try:
        digest, platforms = _served(registry, reference)
    except ImageError:
        return ImageOrigin(reference, None)
    return ImageOrigin(reference, digest, platforms)


def _served(registry: RegistryAccess, reference: str) -> tuple[str, dict[str, str]]:
    """The digest a registry serves for ``reference`` and each platform's manifest digest."""
    manifest = registry.manifest(reference)
    return manifest.digest, {p: m.digest for p, m in registry.platform_manifests(manifest).items()}


def _same_repository(a: str, b: str) -> bool:
    try:
        return parse_reference(a).repository == parse_reference(b).repository
    except ValueError:
        return False


def with_digests(
    requests: Sequence[ExtensionRequest], base_dir: Path, engine: Engine
) -> tuple[ExtensionRequest, ...]:
    """``requests`` with the digest of each one's content: a folder's staged-content digest,
    an archive's sha256, a docker:// image's registry digest, a download's sha256."""
    return tuple(
        replace(r, digest=r.digest or source_digest(r.uri, base_dir, engine, r.sha256))
        for r in requests
    )


def source_digest(
    uri: str, base_dir: Path, engine: Engine, sha256: str | None = None
) -> str | None:
    from cnbext.errors import CnbextError
    from cnbext.sources.staging import tree_digest
    from cnbext.sources.uri import resolve_uri

    try:
        resolved = resolve_uri(uri, base_dir=base_dir, error_type=CnbextError)
    except CnbextError:
        return None  # planning reports the bad uri
    if resolved.scheme == "docker":
        return registry_origin(engine.registry(), resolved.location).digest
    if resolved.scheme == "http":
        return _download_digest(uri, sha256)
    if resolved.scheme != "path":
        return None
    path = Path(resolved.location)
    if path.is_dir():
        return tree_digest(path)
    if path.is_file():
        return f"sha256:{file_sha256(path)}"
    return None


def _download_digest(url: str, sha256: str | None) -> str | None:
    """The sha256 of the archive downloaded from ``url``. Gathering the extensions already
    fetched it into the download cache (checked against ``sha256`` when pinned), so this is
    a cache hit, not a second download."""
    from cnbext.errors import CnbextError
    from cnbext.sources.cache import cache_dir
    from cnbext.sources.download import download_to_cache

    try:
        path = download_to_cache(
            url, cache_dir(), error_type=CnbextError, hint="", subject=None, sha256=sha256
        )
    except CnbextError:
        return None  # the extension's own fetch reports why
    return f"sha256:{file_sha256(path)}"
