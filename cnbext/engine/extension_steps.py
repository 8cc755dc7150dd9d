"""Chaining Dockerfiles inside BuildKit: each step's result is an OCI layout on disk.

A step is built with ``--output type=oci,tar=false,dest=DIR`` for every requested platform at
once, and the next step names that layout as a BuildKit named context
(``--build-context NAME=oci-layout://DIR@<digest>``), so each platform is built on the same
platform of the step before it, and nothing is loaded into the Docker daemon: its image list
holds only what the user named, and there are no throwaway images whose removal could let
containerd collect blobs other images still reference. The layouts live in a scratch folder the
caller owns and removes.

A layout's image configs are plain JSON: reading a step's User and labels, renaming its new
history entries or resetting a label is a rewrite of small blobs (layers are never touched),
after which the config, manifest and index digests are recomputed. Which rewrite to do, and
why, is the caller's business (cnbext.cnb.extender); this module only knows the mechanics.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import uuid
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from cnbext.engine.models import INDEX_TYPES
from cnbext.errors import BuildError
from cnbext.progress import Reporter
from cnbext.sources import disk

if TYPE_CHECKING:
    # Only the Docker engine builds layouts; the client imports this module for the layout
    # model and rewrites, and must not pay for importing the Docker client.
    from python_on_whales import DockerClient

# The named context the last step is given under: the `base_image` build arg names it.
BASE_CONTEXT = "cnbext-base"
# The Dockerfile that copies an image, unchanged, into a layout.
_EXPORT_DOCKERFILE = "ARG base_image\nFROM ${base_image}\n"


@dataclass(frozen=True)
class LayoutConfig:
    """One platform's image config in a layout: what the next step needs to know."""

    platform: str
    user: str
    labels: dict[str, str]
    history: int  # number of history entries
    diff_ids: tuple[str, ...] = ()  # rootfs.diff_ids, bottom layer first


@dataclass(frozen=True)
class LayoutImage:
    """An image (one or several platforms) in an OCI layout folder, named by its digest."""

    path: Path
    digest: str  # of the top index (several platforms) or manifest (one)
    configs: tuple[LayoutConfig, ...]

    @property
    def context(self) -> str:
        """The BuildKit named-context source for this image."""
        return f"oci-layout://{self.path}@{self.digest}"


@dataclass(frozen=True)
class StepBuild:
    """One Dockerfile built on layouts named as contexts (``FROM <name>`` resolves to them)."""

    title: str  # for progress and errors
    dockerfile: str
    context: Path | None  # the build context folder; None: an empty one
    build_args: dict[str, str]
    contexts: dict[str, LayoutImage]
    platforms: tuple[str, ...]


class StepBuildError(BuildError):
    """BuildKit failed a step; ``log`` holds the tail of its output."""

    def __init__(self, title: str, log: str) -> None:
        super().__init__(f"{title} failed:\n{log}")
        self.title = title
        self.log = log


class LayoutBuilder:
    """Builds steps into OCI layouts under a scratch folder, with buildx."""

    def __init__(
        self,
        docker: DockerClient,
        reporter: Reporter,
        network: str | None,
        builder: str | None = None,
        *,
        cache: bool = True,
    ) -> None:
        self.docker = docker
        self.reporter = reporter
        self.network = network
        # The buildx builder every other build goes to (--builder); the client (docker
        # context, DOCKER_HOST) is the one ``docker`` was made with.
        self.builder = builder
        self.cache = cache  # False: --no-cache, every step runs again like the image's own

    def export(
        self, reference: str, platforms: Sequence[str], dest: Path, *, pull: bool
    ) -> LayoutImage:
        """``reference`` for every platform, unchanged, as a layout at ``dest``."""
        with tempfile.TemporaryDirectory(prefix="cnbext-step-") as tmp:
            step = StepBuild(
                f"reading {reference}",
                _EXPORT_DOCKERFILE,
                None,
                {"base_image": reference},
                {},
                tuple(platforms),
            )
            self._build(step, Path(tmp), dest, pull=pull)
        return read_layout(dest)

    def build(self, step: StepBuild, dest: Path) -> LayoutImage:
        """Build ``step`` into a layout at ``dest``."""
        with tempfile.TemporaryDirectory(prefix="cnbext-step-") as tmp:
            self._build(step, Path(tmp), dest, pull=False)
        return read_layout(dest)

    def _build(self, step: StepBuild, tmp: Path, dest: Path, *, pull: bool) -> None:
        from python_on_whales.exceptions import DockerException

        # Named uniquely: BuildKit reuses a synced context by folder name and re-sends only
        # files whose size, mode or mtime changed (see reading.py's context_dir).
        context = tmp / f"context-{uuid.uuid4().hex}"
        if step.context is not None:
            disk.copy_tree(step.context, context)  # charged to the command's disk budget
        else:
            context.mkdir()
        dockerfile = tmp / "Dockerfile"
        dockerfile.write_text(step.dockerfile)
        tail: deque[str] = deque(maxlen=25)
        try:
            with self.reporter.step(step.title[:1].upper() + step.title[1:]):
                lines = self.docker.buildx.build(
                    context,
                    file=dockerfile,
                    build_args=step.build_args,
                    build_contexts={name: image.context for name, image in step.contexts.items()},
                    output={"type": "oci", "tar": "false", "dest": str(dest)},
                    platforms=list(step.platforms) or None,
                    network=self.network,
                    builder=self.builder,
                    pull=pull,
                    cache=self.cache,
                    provenance=False,
                    sbom=False,
                    stream_logs=True,
                    progress="plain",
                )
                for line in cast(Iterator[str], lines):
                    tail.append(str(line).rstrip("\n"))
                    self.reporter.build_log(tail[-1])
        except DockerException as err:
            text = (err.stderr or err.stdout or str(err) or "").strip()
            raise StepBuildError(step.title, "\n".join(tail) or text) from None


def read_layout(path: Path) -> LayoutImage:
    """The image an OCI layout's index.json names (BuildKit writes exactly one)."""
    layout = _Layout(path)
    top = layout.top()
    configs = [
        LayoutConfig(
            platform=_platform(config),
            user=str(config.get("config", {}).get("User") or ""),
            labels=dict(config.get("config", {}).get("Labels") or {}),
            history=len(config.get("history", [])),
            diff_ids=tuple(config.get("rootfs", {}).get("diff_ids", [])),
        )
        for _, config in layout.configs(top)
    ]
    return LayoutImage(path, str(top["digest"]), tuple(configs))


def rewrite_layout(
    image: LayoutImage,
    *,
    keep_history: Mapping[str, int] | None = None,
    history_template: str | None = None,
    labels: Mapping[str, str] | None = None,
    platform_labels: Mapping[str, Mapping[str, str | None]] | None = None,
) -> LayoutImage:
    """Rewrite each platform's config in place: history entries after the first
    ``keep_history[platform]`` become ``history_template`` with ``{created_by}`` replaced,
    ``labels`` are set, and so are ``platform_labels[platform]`` (a None value removes the
    label). Layers stay as they are; the new digests are returned."""
    if history_template is None and not labels and not platform_labels:
        return image
    layout = _Layout(image.path)
    top = layout.top()

    def edit(config: dict[str, Any]) -> None:
        if history_template is not None:
            keep = (keep_history or {}).get(_platform(config), 0)
            for entry in config.get("history", [])[keep:]:
                created_by = str(entry.get("created_by", ""))
                entry["created_by"] = history_template.replace("{created_by}", created_by)
        own = (platform_labels or {}).get(_platform(config), {})
        if labels or own:
            section = config.setdefault("config", {})
            merged = {**(section.get("Labels") or {}), **(labels or {}), **own}
            section["Labels"] = {k: v for k, v in merged.items() if v is not None}

    layout.rewrite(top, edit)
    layout.save_top(top)
    return read_layout(image.path)


class _Layout:
    """Blobs and index.json of an OCI layout folder."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def top(self) -> dict[str, Any]:
        index = json.loads((self.root / "index.json").read_text())
        manifests: list[dict[str, Any]] = index.get("manifests", [])
        if len(manifests) != 1:
            raise BuildError(f"{self.root}: expected one image in the layout, found {manifests}")
        return manifests[0]

    def save_top(self, top: dict[str, Any]) -> None:
        index = json.loads((self.root / "index.json").read_text())
        index["manifests"] = [top]
        (self.root / "index.json").write_text(json.dumps(index, separators=(",", ":")))

    def blob(self, digest: str) -> Any:
        return json.loads(self._path(digest).read_bytes())

    def store(self, document: Any) -> tuple[str, int]:
        data = json.dumps(document, separators=(",", ":")).encode()
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        self._path(digest).write_bytes(data)
        return digest, len(data)

    def manifests(self, descriptor: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Image manifest descriptors under ``descriptor``, in index order."""
        if descriptor["mediaType"] in INDEX_TYPES:
            for child in self.blob(descriptor["digest"]).get("manifests", []):
                yield from self.manifests(child)
        else:
            yield descriptor

    def configs(self, top: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
        for descriptor in self.manifests(top):
            manifest = self.blob(descriptor["digest"])
            yield descriptor, self.blob(manifest["config"]["digest"])

    def rewrite(self, descriptor: dict[str, Any], edit: Any) -> None:
        """Apply ``edit`` to every config under ``descriptor``, re-storing what changes."""
        document = self.blob(descriptor["digest"])
        if descriptor["mediaType"] in INDEX_TYPES:
            for child in document.get("manifests", []):
                self.rewrite(child, edit)
        else:
            config = self.blob(document["config"]["digest"])
            edit(config)
            digest, size = self.store(config)
            document["config"].update(digest=digest, size=size)
        digest, size = self.store(document)
        descriptor.update(digest=digest, size=size)

    def _path(self, digest: str) -> Path:
        algorithm, _, hexdigest = digest.partition(":")
        if algorithm != "sha256" or not hexdigest.isalnum():
            raise BuildError(f"{self.root}: unexpected digest {digest!r}")
        return self.root / "blobs" / algorithm / hexdigest


def _platform(config: dict[str, Any]) -> str:
    parts = [str(config.get("os") or ""), str(config.get("architecture") or "")]
    if config.get("variant"):
        parts.append(str(config["variant"]))
    return "/".join(parts)
