"""Naming, copying and joining published images by digest, registry-side (nothing is rebuilt
or re-uploaded), and reading what a registry serves for a name: its digest, platforms and
layers. All of it through cnbext's own registry client (cnbext.engine.registry, the user's
docker login credentials and proxy settings), a few HTTP requests each instead of a
``docker buildx imagetools`` process (~80 ms of start-up, then its own requests).

What a name is given is what ``docker buildx imagetools create`` gives it, byte for byte
(cnbext.engine.indexes): the same sources joined by hand name the same digest. Copies go as
buildx copies them: every blob and manifest a source is made of, into the target repository
(mounted from the source's repository within a registry, else streamed across), then the
index under the target's tag.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from cnbext.cnb.imageref import parse_reference
from cnbext.engine.indexes import joined_index
from cnbext.engine.models import Manifest, image_config
from cnbext.engine.registry import Registry
from cnbext.errors import ImageError, PublishError
from cnbext.progress import Reporter

# Blobs copied at the same time into a repository (buildx copies a graph's blobs concurrently).
BLOB_COPIES = 4


class RegistryNaming:
    def __init__(self, registry: Registry, reporter: Reporter) -> None:
        self.registry = registry
        self.reporter = reporter

    def create_index(self, target: str, sources: Sequence[str]) -> str:
        """Join images (``repository@digest``) into one image index under ``target``; the
        digest the registry then serves for it."""
        with self.reporter.step(f"Joining {len(sources)} images into the index {target}"):
            return self._publish(list(sources), target, "cannot publish")

    def copy_by_digest(self, source_repository: str, digest: str, target: str) -> str:
        """Copy ``source_repository@digest`` to ``target`` (an index stays itself, a single
        manifest gets buildx's one-entry index); the digest ``target`` then has."""
        source = f"{source_repository}@{digest}"
        with self.reporter.step(f"Copying {source} to {target}"):
            return self._publish([source], target, "cannot copy to")

    def _publish(self, sources: list[str], target: str, failure: str) -> str:
        try:
            manifests = [self.registry.manifest(source) for source in sources]
            raw, media_type = joined_index(
                [
                    (m.media_type, m.raw, None if m.is_index else image_config(self.registry, m))
                    for m in manifests
                ]
            )
            ref = parse_reference(target)
            for manifest in manifests:
                if manifest.repository != ref.repository:
                    self._copy(manifest, ref.repository)
            where = ref.digest or ref.tag or "latest"
            stored = self.registry.store_manifest(ref.repository, where, raw, media_type)
            # The registry's word for what the name now serves: its answer to the upload
            # (Docker-Content-Digest), else a read; the caller compares it.
            served = stored or self.registry.digest(target)
        except ImageError as err:
            raise PublishError(f"{failure} {target}: {err.message}", hint=err.hint) from None
        if served is None:
            raise PublishError(f"{failure} {target}: it is not in its registry after the push")
        return served

    def _copy(self, manifest: Manifest, repository: str) -> None:
        """``manifest`` and all it is made of into ``repository``, children first, each
        manifest under its digest (containerd's CopyChain, as buildx copies). A manifest the
        repository already has is complete there: registries accept none whose blobs they
        lack."""
        if self.registry.has_manifest(repository, manifest.digest):
            return
        if manifest.is_index:
            for entry in manifest.document.get("manifests") or []:
                child = self.registry.manifest(f"{manifest.repository}@{entry['digest']}")
                self._copy(child, repository)
        else:
            blobs = [manifest.document["config"], *(manifest.document.get("layers") or [])]
            digests = list(dict.fromkeys(str(b["digest"]) for b in blobs if not b.get("urls")))
            with ThreadPoolExecutor(BLOB_COPIES) as pool:
                list(
                    pool.map(
                        lambda d: self.registry.ensure_blob(repository, d, manifest.repository),
                        digests,
                    )
                )
        self.registry.put_manifest(repository, manifest.digest, manifest.raw, manifest.media_type)

    # -- reading ------------------------------------------------------------------------------

    def digest(self, reference: str) -> str:
        """The manifest (or index) digest a registry serves for ``reference``."""
        return self._manifest(reference).digest

    def platforms(self, reference: str) -> tuple[str, ...] | None:
        """The platforms a registry serves for ``reference`` (an index's entries, or a single
        image's own); None when the registry cannot be read for it."""
        try:
            manifest = self._manifest(reference)
            if manifest.is_index:
                entries = [m.get("platform") or {} for m in manifest.document.get("manifests", [])]
            else:
                entries = [image_config(self.registry, manifest)]
        except (PublishError, ImageError, KeyError, TypeError, AttributeError):
            return None
        return tuple(
            "/".join(p for p in (e.get("os"), e.get("architecture"), e.get("variant")) if p)
            for e in entries
            if e.get("os") not in (None, "unknown")
        )

    def diff_ids(self, reference: str) -> list[list[str]]:
        """The layer diffIDs of a published image, one list per platform."""
        try:
            per_platform = self.registry.platform_manifests(self._manifest(reference))
            configs = [image_config(self.registry, m) for m in per_platform.values()]
        except ImageError as err:
            raise PublishError(f"cannot inspect {reference}: {err.message}") from None
        return [list(c.get("rootfs", {}).get("diff_ids", [])) for c in configs]

    def _manifest(self, reference: str) -> Manifest:
        try:
            return self.registry.manifest(reference)
        except ImageError as err:
            message = f"cannot inspect {reference}: {err.message}"
            raise PublishError(message, hint=err.hint) from None
