"""A stand-in registry for unit tests of the day-2 checks: tags to digests (and each
platform's), answering the reads ``cnbext.engine.protocol.RegistryAccess`` names. Uploads are
kept (the names record beside an image is one) and read back; it refuses blob mounts, as a
registry the user may only push small artifacts to would; rebase and the real client are
tested over an in-memory registry instead (tests/fixtures/oci_registry.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Never

from cnbext.cnb.imageref import parse_reference
from cnbext.engine.models import Manifest, NotFoundError, digest_of, platform_of
from cnbext.engine.protocol import RegistryAccess
from cnbext.errors import ImageError
from tests.fixtures.oci_registry import OCI_INDEX as INDEX
from tests.fixtures.oci_registry import OCI_MANIFEST as IMAGE


@dataclass
class FakeManifest:
    digest: str
    platforms: dict[str, str] = field(default_factory=dict)


def _manifest(reference: str, digest: str, media_type: str, **document: Any) -> Manifest:
    repository = parse_reference(reference).repository
    return Manifest(repository, digest, media_type, b"", {"mediaType": media_type, **document})


@dataclass
class FakeRegistry(RegistryAccess):
    tags: dict[str, FakeManifest]
    # What was uploaded: manifests by repository:tag and repository@digest, blobs by digest.
    uploaded: dict[str, Manifest] = field(default_factory=dict)
    blobs: dict[str, bytes] = field(default_factory=dict)

    def manifest(self, reference: str) -> Manifest:
        """What was uploaded under ``reference``; else an index when the tag has platforms,
        else an image manifest."""
        if reference in self.uploaded:
            return self.uploaded[reference]
        if reference not in self.tags:
            raise NotFoundError(f"{reference} is not in its registry")
        found = self.tags[reference]
        if not found.platforms:
            return _manifest(reference, found.digest, IMAGE)
        keys = ("os", "architecture", "variant")
        entries = [
            {"digest": d, "platform": dict(zip(keys, p.split("/"), strict=False))}
            for p, d in found.platforms.items()
        ]
        return _manifest(reference, found.digest, INDEX, manifests=entries)

    def platform_manifests(self, manifest: Manifest) -> dict[str, Manifest]:
        """Each index entry's manifest (the fake's single manifests name no platform)."""
        entries = manifest.document.get("manifests", [])
        return {platform_of(e): _manifest(manifest.repository, e["digest"], IMAGE) for e in entries}

    def digest(self, reference: str) -> str | None:
        found = self.tags.get(reference)
        return found.digest if found else None

    def json_blob(self, repository: str, digest: str) -> dict[str, Any]:
        raise NotFoundError(f"blob {digest} is not in {repository}")

    def ensure_blob(self, repository: str, digest: str, source_repository: str) -> None:
        self._refuse(repository)

    def put_blob(self, repository: str, data: bytes) -> str:
        digest = digest_of(data)
        self.blobs[digest] = data
        return digest

    def put_manifest(self, repository: str, target: str, raw: bytes, media_type: str) -> str:
        digest = digest_of(raw)
        manifest = Manifest(repository, digest, media_type, raw, json.loads(raw))
        separator = "@" if target.startswith("sha256:") else ":"
        self.uploaded[f"{repository}{separator}{target}"] = manifest
        self.uploaded[f"{repository}@{digest}"] = manifest
        return digest

    def _refuse(self, repository: str) -> Never:
        raise ImageError(f"cannot write to {repository}: denied (pull access only)")
