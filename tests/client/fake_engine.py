"""An Engine for unit tests: it records every call, answers from hand-made facts and can be
told to fail at a given step. Engine tests never use it; they run the real Docker engine.

It subclasses the ``Engine`` protocol, so mypy checks every method against the protocol's
signature and refuses to instantiate it while one is missing: the fake cannot drift."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cnbext.cnb.imageref import parse_reference
from cnbext.cnb.installed import DPKG_STATUS
from cnbext.cnb.slsa import COSIGN_TYPES, statement
from cnbext.engine.extension_steps import LayoutImage, StepBuild, read_layout
from cnbext.engine.models import (
    Attestations,
    BuiltFiles,
    BuiltImage,
    ImageSource,
    ImageView,
    PhaseResult,
    PhaseRun,
)
from cnbext.engine.protocol import Engine
from cnbext.engine.settings import EngineSettings
from cnbext.errors import BuildError, CnbextError, ImageError, PublishError
from cnbext.plan.facts import BaseImage
from cnbext.plan.model import ImageBuild, PullPolicy
from tests.client.fake_registry import FakeRegistry
from tests.fixtures.oci_layout import write_layout

BUILDING = (
    "prebuild",
    "build",
    "copy",
    "push-platform",
    "index",
    "sign",
    "attest",
)  # the calls that make or publish something


@dataclass(frozen=True)
class Call:
    method: str  # locate, resolve, export, labels, layers, phase, layout, step, installed,
    # prebuild, build, copy, push-platform, index, platforms, read
    target: str  # the image read, built (primary name) or copied to
    publish: bool = False  # build only


def digest_of(name: str) -> str:
    return "sha256:" + hashlib.sha256(name.encode()).hexdigest()


@dataclass
class FakeEngine(Engine):
    images: Mapping[str, BaseImage] = field(default_factory=dict)
    # What read_image finds (inspect, upgrade): by reference, daemon copies and registry ones.
    daemon_views: Mapping[str, ImageView] = field(default_factory=dict)
    registry_views: Mapping[str, ImageView] = field(default_factory=dict)
    # (method, target) -> the error that call raises
    failures: dict[tuple[str, str], CnbextError] = field(default_factory=dict)
    # Copies to these names come back with a different digest (a registry that rewrote it).
    wrong_digest: Collection[str] = ()
    # Calls that must be under way at the same time: each waits for the others, so a test
    # fails (BrokenBarrierError) when they run one after another.
    together: Collection[tuple[str, str]] = ()
    # What detect and generate do: given the phase, return its result (write outputs into
    # the mounted folders, as the container would).
    phase: Callable[[PhaseRun], PhaseResult] = lambda _: PhaseResult(0, "", timed_out=False)
    # Whether builds can push under no name (a BuildKit driver other than docker's).
    by_digest: bool = True
    calls: list[Call] = field(default_factory=list)
    # The platforms a registry serves per reference (image_platforms); absent: unreadable.
    platforms: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # What registry() answers: tags and their digests (empty: nothing is in any registry).
    served: FakeRegistry = field(default_factory=lambda: FakeRegistry({}))
    settings: EngineSettings = field(default_factory=EngineSettings)
    # Every build asked for, by its first name (the last one wins); one platform's image of
    # a per-platform build by NAME#PLATFORM.
    built: dict[str, ImageBuild] = field(default_factory=dict)
    # What built_files copies out, by primary name (else a dpkg base plus each package
    # asked for, at installed_version).
    package_files: Mapping[str, dict[str, BuiltFiles]] = field(default_factory=dict)
    # The files of each build's context trees as it was built, by the key of ``built``.
    tree_files: dict[str, dict[str, bytes]] = field(default_factory=dict)
    # What export_tree copies out of an image: by reference, file path -> content.
    image_files: Mapping[str, Mapping[str, bytes]] = field(default_factory=dict)
    installed_version: str = "1.0-1"
    # Signatures made (repository@digest, key), and repositories that take the image but
    # drop its signature (a registry refusing the .sig push).
    signatures: set[tuple[str, str]] = field(default_factory=set)
    refuses_signatures: Collection[str] = ()
    # (repository@digest, kind) -> (key, the statement cosign would make); repositories in
    # refuses_attestations drop them (a registry refusing the .att push).
    attestations: dict[tuple[str, str], tuple[str, dict[str, Any]]] = field(default_factory=dict)
    refuses_attestations: Collection[str] = ()

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._attesting: set[str] = set()
        self._barrier = threading.Barrier(len(self.together)) if self.together else None

    def _keep_trees(self, key: str, build: ImageBuild) -> None:
        # The context trees are in the work folder, which is gone once the use case returns.
        self.tree_files[key] = {
            f"{path}/{file.relative_to(tree)}": file.read_bytes()
            for path, tree in build.context_trees.items()
            for file in sorted(tree.rglob("*"))
            if file.is_file()
        }

    def _record(self, method: str, target: str, *, publish: bool = False) -> None:
        with self._lock:
            self.calls.append(Call(method, target, publish))
        if self._barrier is not None and (method, target) in self.together:
            self._barrier.wait(timeout=10)
        error = self.failures.get((method, target))
        if error is not None:
            raise error

    def made(self) -> list[Call]:
        """The calls that build or publish, in order."""
        return [c for c in self.calls if c.method in BUILDING]

    # -- the Engine protocol ------------------------------------------------------------------

    def ensure_available(self) -> None:
        self._record("ensure", "")

    def locate_image(
        self, reference: str, pull_policy: PullPolicy, platform: str | None = None
    ) -> ImageSource:
        self._record("locate", reference)
        if reference not in self.images:
            raise ImageError(f"cannot read {reference}: not found")
        return ImageSource(reference, self.images[reference].image_id, in_daemon=False)

    def read_base(self, source: ImageSource, platform: str | None = None) -> BaseImage:
        self._record("resolve", source.reference)
        image = self.images[source.reference]
        if source.in_daemon or image.repo_digests:
            return image
        # As DockerEngine: a registry image is known by the digest it was read by.
        repository = parse_reference(source.reference).repository
        return replace(image, repo_digests=(f"{repository}@{source.digest}",))

    def image_labels(self, reference: str, *, platform: str | None = None) -> dict[str, str]:
        self._record("labels", reference)
        return dict(self.images[reference].labels)

    def export_tree(
        self, reference: str, paths: Sequence[str], dest: Path, *, platform: str | None = None
    ) -> None:
        self._record("export", reference)
        for path, content in self.image_files.get(reference, {}).items():
            if any(path.startswith(p.rstrip("/") + "/") for p in paths):
                target = dest / path.lstrip("/")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(content)

    def built_files(
        self, build: ImageBuild, paths: Sequence[str], *, pull: bool, max_bytes: int
    ) -> dict[str, BuiltFiles]:
        """A dpkg base with base-files; the result adds each package asked for, at
        ``installed_version`` (or as ``package_files`` says, by primary name)."""
        self._record("installed", build.primary_name)
        if build.primary_name in self.package_files:
            return self.package_files[build.primary_name]
        base = fake_dpkg_status({"base-files": "12.4"})
        wanted = {p.split("=")[0]: self.installed_version for p in build.packages}
        result = fake_dpkg_status({"base-files": "12.4", **wanted})
        return {
            platform: BuiltFiles(base={DPKG_STATUS: base}, result={DPKG_STATUS: result})
            for platform in build.platforms or ("linux/amd64",)
        }

    def layer_diff_ids(self, context_trees: Mapping[str, Path]) -> dict[str, str]:
        self._record("layers", ",".join(sorted(context_trees)))
        return {path: digest_of(path) for path in context_trees}

    def run_phase(self, phase: PhaseRun) -> PhaseResult:
        self._record("phase", phase.command[0])
        return self.phase(phase)

    def pushes_by_digest(self) -> bool:
        return self.by_digest

    def export_layout(
        self, reference: str, platforms: Sequence[str], dest: Path, *, pull: bool
    ) -> LayoutImage:
        """The image as a layout with its User and labels (and one history entry)."""
        self._record("layout", reference)
        image = self.images[reference]
        spec = {"User": image.user, "Labels": dict(image.labels), "history": ["base"]}
        return read_layout(write_layout(dest, {p: spec for p in platforms or ("linux/amd64",)}))

    def build_layout(self, step: StepBuild, dest: Path) -> LayoutImage:
        """A step that keeps its base's User and labels and adds one history entry."""
        self._record("step", step.title)
        base = next(iter(step.contexts.values()))
        config = base.configs[0]
        spec = {"User": config.user, "Labels": config.labels, "history": ["base", "RUN step"]}
        platforms = step.platforms or ("linux/amd64",)
        return read_layout(write_layout(dest, {p: spec for p in platforms}))

    def prebuild(self, build: ImageBuild, *, pull: bool) -> None:
        self._record("prebuild", build.primary_name)

    def build(
        self, build: ImageBuild, *, publish: bool, pull: bool, by_digest: bool = False
    ) -> BuiltImage:
        assert not by_digest or self.by_digest, "pushed by digest on an engine that cannot"
        self._record("build", build.primary_name, publish=publish)
        self.built[build.primary_name] = build
        self._keep_trees(build.primary_name, build)
        # by_digest: pushed under no name yet (the client names it by copying).
        names = () if by_digest else build.names[:1] if publish else build.names
        labels = dict(build.result_labels)
        return BuiltImage(names, digest_of(build.primary_name), labels, publish and not by_digest)

    def registry(self) -> FakeRegistry:
        return self.served

    def copy_by_digest(self, source_repository: str, digest: str, target: str) -> str:
        self._record("copy", target)
        return digest_of(target) if target in self.wrong_digest else digest

    def read_image(self, reference: str, *, daemon: bool = True) -> ImageView:
        self._record("read", reference)
        if daemon and reference in self.daemon_views:
            return self.daemon_views[reference]
        if reference in self.registry_views:
            return self.registry_views[reference]
        raise ImageError(f"{reference} is neither in the daemon nor in its registry")

    def push_platform_image(self, build: ImageBuild, *, pull: bool) -> str:
        self._record("push-platform", build.primary_name, publish=True)
        self.built[f"{build.primary_name}#{build.platforms[0]}"] = build
        self._keep_trees(f"{build.primary_name}#{build.platforms[0]}", build)
        return digest_of(f"{build.primary_name}#{build.platforms[0]}")

    def create_index(self, target: str, sources: Sequence[str]) -> str:
        self._record("index", f"{target}<-{','.join(sources)}", publish=True)
        return digest_of(target)

    def image_platforms(self, reference: str) -> tuple[str, ...] | None:
        self._record("platforms", reference)
        return self.platforms.get(reference)

    def sign(self, reference: str, key: str) -> None:
        self._record("sign", reference, publish=True)
        if reference.split("@")[0] not in self.refuses_signatures:
            with self._lock:
                self.signatures.add((reference, key))

    def verify_signature(self, reference: str, key: str) -> str | None:
        """Verified only where sign() left a signature by ``key`` for that digest."""
        self._record("verify", reference)
        repository, _, digest = reference.partition("@")
        with self._lock:
            signed = (f"{repository}@{digest}", key) in self.signatures
        return None if signed else f"no signature by {key} for {digest} in {repository}"

    def attest(self, reference: str, key: str, predicate: bytes, kind: str) -> None:
        """Like cosign, rewrites the digest's one .att tag: two at once for one digest would
        lose one, so the fake refuses them."""
        self._record("attest", f"{reference}#{kind}", publish=True)
        with self._lock:
            if reference in self._attesting:
                raise AssertionError(f"two attestations of {reference} at once")
            self._attesting.add(reference)
        time.sleep(0.01)  # long enough for another thread to overlap
        with self._lock:
            self._attesting.discard(reference)
        repository, _, digest = reference.partition("@")
        predicate_type = next(t for t, k in COSIGN_TYPES.items() if k == kind)
        made = statement([(repository, digest)], predicate_type, json.loads(predicate))
        if repository not in self.refuses_attestations:
            with self._lock:
                self.attestations[(reference, kind)] = (key, made)

    def verify_attestations(self, reference: str, key: str, kind: str) -> Attestations:
        """The statement attest() left for that digest and kind, when made with ``key``."""
        self._record("verify-attestation", f"{reference}#{kind}")
        with self._lock:
            found = self.attestations.get((reference, kind))
        if found is None or found[0] != key:
            return Attestations(why=f"no {kind} attestation by {key} for {reference}")
        return Attestations(statements=(found[1],))


def fake_dpkg_status(packages: Mapping[str, str], architecture: str = "amd64") -> bytes:
    """A dpkg status file with ``packages`` (name -> version) fully installed."""
    stanzas = [
        f"Package: {name}\nStatus: install ok installed\nArchitecture: {architecture}\n"
        f"Version: {version}\n"
        for name, version in packages.items()
    ]
    return "\n".join(stanzas).encode()


def failing_build(name: str) -> dict[tuple[str, str], CnbextError]:
    return {("build", name): BuildError(f"building {name} failed")}


def failing_copy(name: str) -> dict[tuple[str, str], CnbextError]:
    return {("copy", name): PublishError(f"cannot copy to {name}: denied")}
