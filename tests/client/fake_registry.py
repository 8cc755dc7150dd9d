"""A stand-in registry for unit tests of the day-2 checks: tags to digests (and each
platform's), answering the reads ``cnbext.engine.protocol.RegistryAccess`` names."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from cnbext.engine.models import Manifest, NotFoundError, digest_of


@dataclass
class FakeManifest:
    digest: str
    platforms: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeRegistry:
    tags: dict[str, FakeManifest]
    # What was uploaded: manifests by repository:tag and repository@digest, blobs by digest.
    uploaded: dict[str, Manifest] = field(default_factory=dict)
    blobs: dict[str, bytes] = field(default_factory=dict)

    def manifest(self, reference: str) -> FakeManifest | Manifest:
        if reference in self.uploaded:
            return self.uploaded[reference]
        if reference not in self.tags:
            raise NotFoundError(f"{reference} is not in its registry")
        return self.tags[reference]

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

    def platform_manifests(self, manifest: FakeManifest) -> dict[str, FakeManifest]:
        return {p: FakeManifest(d) for p, d in manifest.platforms.items()}

    def digest(self, reference: str) -> str | None:
        found = self.tags.get(reference)
        return found.digest if found else None
