"""What the rest of cnbext needs from an engine, as a typing.Protocol.

The client and the fact gatherers are written against :class:`Engine`, never against the
Docker implementation (:class:`cnbext.engine.docker.DockerEngine`), so their order of work and
failure reporting are unit-tested with a fake engine (tests/client/fake_engine.py); only the
engine tests talk to a real Docker daemon.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

# Names for the signatures only: importing the plan and the extension-step code here would
# load them (~40 ms) into every command that merely reads a registry.
if TYPE_CHECKING:
    from cnbext.engine.extension_steps import LayoutImage, StepBuild
    from cnbext.engine.models import (
        Attestations,
        BuiltFiles,
        BuiltImage,
        ImageSource,
        ImageView,
        Manifest,
        PhaseResult,
        PhaseRun,
    )
    from cnbext.engine.settings import EngineSettings
    from cnbext.plan.facts import BaseImage
    from cnbext.plan.model import ImageBuild, PullPolicy


class RegistryAccess(Protocol):
    """A registry's distribution API, spoken directly with the user's docker login
    credentials: what day-2 work (staleness checks, rebase) reads and writes without pulling.
    Raises ``NotFoundError`` (cnbext.engine.models) for what the registry does not have."""

    def manifest(self, reference: str) -> Manifest: ...

    def digest(self, reference: str) -> str | None:
        """The digest served for ``reference``; None when the registry does not have it."""
        ...

    def platform_manifests(self, manifest: Manifest) -> dict[str, Manifest]:
        """Each platform's manifest, by os/arch[/variant] (a single manifest: its own)."""
        ...

    def json_blob(self, repository: str, digest: str) -> dict[str, Any]: ...

    def ensure_blob(self, repository: str, digest: str, source_repository: str) -> None:
        """Make ``repository`` hold the blob, mounting it from ``source_repository``."""
        ...

    def put_blob(self, repository: str, data: bytes) -> str: ...

    def put_manifest(self, repository: str, target: str, raw: bytes, media_type: str) -> str:
        """Upload a manifest under ``target`` (a tag or its digest); its digest."""
        ...


class Engine(Protocol):
    # What the engine was made with (network, context, builder, fact cache).
    settings: EngineSettings

    def ensure_available(self) -> None:
        """Raise EngineError when there is no engine to talk to."""
        ...

    def locate_image(
        self, reference: str, pull_policy: PullPolicy, platform: str | None = None
    ) -> ImageSource:
        """Where ``reference`` is read from (the daemon's copy, unless the pull policy says
        always or there is none; else its registry) and its content digest. Pulls nothing."""
        ...

    def read_base(self, source: ImageSource, platform: str | None = None) -> BaseImage:
        """What planning needs from an image (config, os-release, package-manager binaries),
        read without running it and without pulling it into the daemon."""
        ...

    def image_labels(self, reference: str, *, platform: str | None = None) -> dict[str, str]:
        """Labels of an image in the daemon, else of the one its registry serves."""
        ...

    def export_tree(
        self, reference: str, paths: Sequence[str], dest: Path, *, platform: str | None = None
    ) -> None:
        """Copy directories out of an image into ``dest`` without running it."""
        ...

    def built_files(
        self, build: ImageBuild, paths: Sequence[str], *, pull: bool, max_bytes: int
    ) -> dict[str, BuiltFiles]:
        """``paths`` of ``build``'s base and of its result, by platform, copied out of a
        build of the same Dockerfile (which the image's own build then finds in the cache);
        nothing loaded, pushed or run. Files over ``max_bytes`` are refused."""
        ...

    def layer_diff_ids(self, context_trees: Mapping[str, Path]) -> dict[str, str]:
        """The diffID each tree gets as a ``COPY --link`` layer, by context path."""
        ...

    def run_phase(self, phase: PhaseRun) -> PhaseResult:
        """Run an extension's detect or generate in a container."""
        ...

    def pushes_by_digest(self) -> bool:
        """Whether :meth:`build` can push a result under no name (``by_digest``)."""
        ...

    def export_layout(
        self, reference: str, platforms: Sequence[str], dest: Path, *, pull: bool
    ) -> LayoutImage:
        """``reference`` for every platform, unchanged, as an OCI layout at ``dest``."""
        ...

    def build_layout(self, step: StepBuild, dest: Path) -> LayoutImage:
        """One Dockerfile on layouts named as contexts, into an OCI layout at ``dest``."""
        ...

    def prebuild(self, build: ImageBuild, *, pull: bool) -> None:
        """Build into the build cache only, so a later :meth:`build` is just an export."""
        ...

    def build(
        self, build: ImageBuild, *, publish: bool, pull: bool, by_digest: bool = False
    ) -> BuiltImage:
        """Build ``build``; without ``publish``, load it into the daemon under every name.
        With ``publish``, push it under its first name, or with ``by_digest`` to its first
        name's repository under no name; either way the client then names it (as an index)
        with :meth:`copy_by_digest`, in publish order."""
        ...

    def copy_by_digest(self, source_repository: str, digest: str, target: str) -> str:
        """Copy ``source_repository@digest`` to ``target`` registry-side; its new digest."""
        ...

    def push_platform_image(self, build: ImageBuild, *, pull: bool) -> str:
        """Build a one-platform ``build`` and push it under its first name; its manifest
        digest."""
        ...

    def create_index(self, target: str, sources: Sequence[str]) -> str:
        """Join images (``repository@digest``) into one image index under ``target``; its
        digest."""
        ...

    def sign(self, reference: str, key: str) -> None:
        """Sign ``reference`` (``repository@digest``) with the cosign ``key`` (a key file or
        a KMS URI), the signature kept in that repository. PublishError when it cannot."""
        ...

    def verify_signature(self, reference: str, key: str) -> str | None:
        """None when ``reference`` carries a signature ``key`` verifies, else why not."""
        ...

    def attest(self, reference: str, key: str, predicate: bytes, kind: str) -> None:
        """Attach ``predicate`` (JSON) to ``reference`` (``repository@digest``) as an in-toto
        statement of cosign's ``--type kind``, signed with ``key``, replacing an earlier one of
        that type. PublishError when it cannot."""
        ...

    def verify_attestations(self, reference: str, key: str, kind: str) -> Attestations:
        """The statements of ``--type kind`` on ``reference`` that ``key`` verifies."""
        ...

    def image_platforms(self, reference: str) -> tuple[str, ...] | None:
        """The platforms (os/arch[/variant]) a registry serves for ``reference``; None when
        it cannot be read there."""
        ...

    def read_image(self, reference: str, *, daemon: bool = True) -> ImageView:
        """``reference`` where it already is, never pulled: the daemon's copy (``daemon``) when
        it is not just a stale cache of the registry's, else its registry's manifests and
        config. ImageError when neither has it."""
        ...

    def registry(self) -> RegistryAccess:
        """The registries' API, for reads and registry-side writes no build is needed for."""
        ...
