"""A stand-in registry for unit tests of the day-2 checks: tags to digests (and each
platform's), answering the reads ``cnbext.engine.protocol.RegistryAccess`` names."""

from __future__ import annotations

from dataclasses import dataclass, field

from cnbext.engine.models import NotFoundError


@dataclass
class FakeManifest:
    digest: str
    platforms: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeRegistry:
    tags: dict[str, FakeManifest]

    def manifest(self, reference: str) -> FakeManifest:
        if reference not in self.tags:
            raise NotFoundError(f"{reference} is not in its registry")
        return self.tags[reference]

    def platform_manifests(self, manifest: FakeManifest) -> dict[str, FakeManifest]:
        return {p: FakeManifest(d) for p, d in manifest.platforms.items()}

    def digest(self, reference: str) -> str | None:
        found = self.tags.get(reference)
        return found.digest if found else None
