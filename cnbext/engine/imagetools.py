"""Registry-side work through ``docker buildx imagetools``: naming, copying and joining
published images by digest (nothing is rebuilt or re-uploaded), and reading what a registry
serves for a name (its digest, platforms and layers) with the same credentials buildx uses."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from cnbext.engine.failures import last_lines
from cnbext.engine.models import INDEX_TYPES
from cnbext.engine.reading import ImageReader
from cnbext.errors import PublishError
from cnbext.progress import Reporter

if TYPE_CHECKING:
    from python_on_whales import DockerClient


class ImageTools:
    def __init__(
        self, docker: DockerClient, reporter: Reporter, builder: str | None, reader: ImageReader
    ) -> None:
        self.docker = docker
        self.reporter = reporter
        self.builder = builder
        self.reader = reader

    def create_index(self, target: str, sources: Sequence[str]) -> str:
        """Join images (``repository@digest``) into one image index under ``target``."""
        with self.reporter.step(f"Joining {len(sources)} images into the index {target}"):
            self._create(list(sources), target, "cannot publish")
        return self.digest(target)

    def copy_by_digest(self, source_repository: str, digest: str, target: str) -> str:
        """Copy ``source_repository@digest`` to ``target``; its new digest."""
        source = f"{source_repository}@{digest}"
        with self.reporter.step(f"Copying {source} to {target}"):
            self._create([source], target, "cannot copy to")
        return self.digest(target)

    def _create(self, sources: list[str], target: str, failure: str) -> None:
        from python_on_whales.exceptions import DockerException

        try:
            self.docker.buildx.imagetools.create(
                sources=sources, tags=[target], builder=self.builder
            )
        except DockerException as err:
            raise PublishError(f"{failure} {target}: {last_lines(err)}") from None

    def platforms(self, reference: str) -> tuple[str, ...] | None:
        """The platforms a registry serves for ``reference`` (an index's entries, or a single
        image's own); None when the registry cannot be read for it."""
        try:
            descriptor = self._descriptor(reference)
            if descriptor.get("mediaType") in INDEX_TYPES:
                entries = [m.get("platform") or {} for m in descriptor.get("manifests", [])]
            else:
                entries = [json.loads(self._format(reference, "{{json .Image}}"))]
        except (PublishError, json.JSONDecodeError):
            return None
        return tuple(
            "/".join(p for p in (e.get("os"), e.get("architecture"), e.get("variant")) if p)
            for e in entries
            if e.get("os") not in (None, "unknown")
        )

    def digest(self, reference: str) -> str:
        """The manifest (or index) digest a registry serves for ``reference``."""
        return str(self._descriptor(reference)["digest"])

    def diff_ids(self, reference: str) -> list[list[str]]:
        """The layer diffIDs of a published image, one list per platform."""
        config: Any = json.loads(self._format(reference, "{{json .Image}}"))
        configs = list(config.values()) if "rootfs" not in config else [config]
        return [list(c.get("rootfs", {}).get("diff_ids", [])) for c in configs]

    def _descriptor(self, reference: str) -> dict[str, Any]:
        descriptor: dict[str, Any] = json.loads(self._format(reference, "{{json .Manifest}}"))
        return descriptor

    def _format(self, reference: str, template: str) -> str:
        return self.reader.imagetools_format(reference, template)
