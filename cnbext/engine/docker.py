"""Executes plans with BuildKit (docker buildx) through python-on-whales.

Everything that reads or writes an image goes through :class:`DockerEngine`, the Docker
implementation of :class:`cnbext.engine.protocol.Engine`. Images are read without
running them (a scratch build copies files out), so any platform works; builds go through
buildx so the same code path pushes multi-platform results; extra names are copied
registry-side by digest (cnbext.engine.naming, through cnbext's registry client, as
``imagetools create`` would copy them), never rebuilt or re-uploaded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from cnbext.cnb.imageref import parse_reference
from cnbext.engine.models import (
    Attestations,
    BuiltFiles,
    BuiltImage,
    ImageSource,
    ImageView,
    PhaseResult,
    PhaseRun,
    label_dict,
    refusals_naming,
)
from cnbext.engine.settings import EngineSettings
from cnbext.errors import EngineError, PublishError
from cnbext.progress import Reporter

# The build machinery (BuildKit runs, layouts, Dockerfile-reading facts) is
# imported where it is first used: a registry-only command (an upgrade by rebase, --check)
# reads images through this engine and loads none of it.
if TYPE_CHECKING:
    from python_on_whales import DockerClient

    from cnbext.engine.builds import BuildRunner
    from cnbext.engine.extension_steps import LayoutBuilder, LayoutImage, StepBuild
    from cnbext.engine.naming import RegistryNaming
    from cnbext.engine.reading import ImageReader
    from cnbext.engine.registry import Registry
    from cnbext.plan.facts import BaseImage
    from cnbext.plan.model import ImageBuild, PullPolicy

# Drivers whose builders keep results away from the context's engine (pods in a cluster):
# results can be pushed, not loaded.
NO_SHARED_STORE = frozenset({"kubernetes"})


class DockerEngine:
    def __init__(
        self,
        reporter: Reporter,
        settings: EngineSettings | None = None,
        *,
        client: DockerClient | None = None,
    ) -> None:
        """``settings.context``: a docker context (else $DOCKER_CONTEXT / $DOCKER_HOST / the
        current one, as the docker CLI picks); ``settings.builder``: a buildx builder of any
        driver (else $BUILDX_BUILDER, else the context's default). Every engine call goes
        through them."""
        settings = settings or EngineSettings()
        self.settings = settings
        self.reporter = reporter
        self.network = settings.network
        self.builder = settings.builder or None
        self._driver: str | None = None
        self._builder_identity = ""  # what may change a layer's tar (cnbext.engine.layer_cache)
        self._server_version = ""
        self._registry: Registry | None = None
        if client is not None:
            self.docker = client

    # python-on-whales (and pydantic under it, ~0.15 s) is imported when the daemon or buildx
    # is first needed: a registry-only command (upgrade --publish by rebase, --check) never
    # loads it.
    @cached_property
    def docker(self) -> DockerClient:
        from python_on_whales import DockerClient

        return DockerClient(context=self.settings.context or None)

    @cached_property
    def reader(self) -> ImageReader:
        from cnbext.engine.reading import ImageReader

        return ImageReader(self.docker, self.builder, self.registry())

    @cached_property
    def builds(self) -> BuildRunner:
        from cnbext.engine.builds import BuildRunner

        cache = self.settings.build_cache
        return BuildRunner(self.docker, self.reporter, self.network, self.builder, cache=cache)

    @cached_property
    def naming(self) -> RegistryNaming:
        from cnbext.engine.naming import RegistryNaming

        return RegistryNaming(self.registry(), self.reporter)

    # -- availability -------------------------------------------------------------------------

    def ensure_available(self) -> None:
        """EngineError unless the Docker server and the buildx builder answer."""
        from cnbext.engine.availability import Probe

        probe = Probe.start(self._docker_command(), self.builder)
        self.docker  # noqa: B018 -- python-on-whales is imported while both commands run
        answers = probe.answers()
        self._server_version, self._driver = answers.server_version, answers.driver
        self._builder_identity = answers.identity

    def _docker_command(self) -> list[str]:
        """The docker client with its global flags, as python-on-whales runs it (built here
        when the client is not made yet, so the probe need not wait for its import)."""
        if "docker" in self.__dict__:
            return list(self.docker.client_config.docker_cmd)
        context = self.settings.context
        return ["docker", *(["--context", context] if context else [])]

    # -- reading images -----------------------------------------------------------------------

    def locate_image(
        self, reference: str, pull_policy: PullPolicy, platform: str | None = None
    ) -> ImageSource:
        """Where ``reference`` is read from and its content digest; pulls nothing."""
        # BuildKit's docker driver builds FROM the daemon's copy when there is one; any other
        # driver fetches from the registry, so that is what is read.
        return self.reader.locate(
            reference, pull_policy, platform, daemon=self.driver() == "docker"
        )

    def read_base(self, source: ImageSource, platform: str | None = None) -> BaseImage:
        """What planning needs from an image, read without running or pulling it."""
        from cnbext.cnb.package_managers import PROBE_PATHS

        with self.reporter.step(f"Reading {source.reference}"):
            return self.reader.read(source, platform, PROBE_PATHS)

    def image_labels(self, reference: str, *, platform: str | None = None) -> dict[str, str]:
        """Labels of an image in the daemon, else of the one its registry serves."""
        with refusals_naming(reference):
            return label_dict(self.reader.config_section(reference, platform).get("Labels"))

    # -- running extension phases ---------------------------------------------------------------

    def run_phase(self, phase: PhaseRun) -> PhaseResult:
        """Run an extension's detect or generate in a container of ``phase.image``, as the
        image's CNB user, with no capabilities and no way to gain privileges, its output in a
        capped tmpfs copied out once it ends (cnbext.engine.phases)."""
        from cnbext.engine.phases import run_phase

        return run_phase(self.docker, phase, self.network)

    # -- building -----------------------------------------------------------------------------

    def pushes_by_digest(self) -> bool:
        """Every BuildKit driver can push a result under no name (``push-by-digest``) but
        the docker driver, whose exporter pushes from the daemon's image store by name."""
        return self.driver() != "docker"

    def driver(self) -> str:
        """The buildx driver of the builder every build goes to (docker, docker-container,
        remote, kubernetes)."""
        if self._driver is None:
            self._driver = self._inspect_driver()
        return self._driver

    def _inspect_driver(self) -> str:
        from cnbext.engine.availability import inspect_builder

        driver, self._builder_identity = inspect_builder(self._docker_command(), self.builder)
        return driver

    def build(
        self, build: ImageBuild, *, publish: bool, pull: bool, by_digest: bool = False
    ) -> BuiltImage:
        """Build ``build`` once. With ``publish``, push it under its first name, or with
        ``by_digest`` to that name's repository under no name (the client names it with
        :meth:`copy_by_digest` when the publish order allows); the pushed manifest's digest
        comes back. Else load it into the daemon under every name; its image id comes back."""
        from cnbext.engine.builds import built_digest, check_diff_ids, strip_tag

        if not publish:
            self._check_loads()
        if publish:
            repository = strip_tag(build.primary_name)
            output = {"type": "image", "push": "true"}
            if by_digest:
                # store=false: nothing is kept in the engine's image store as an unnamed image.
                output |= {"name": repository, "push-by-digest": "true", "store": "false"}
            else:
                output |= {"name": build.primary_name}
            metadata = self.builds.run(build, pull, output=self._reproducible(build, output))
            digest = built_digest(metadata)
            if build.expected_diff_ids:
                check_diff_ids(build, self.naming.diff_ids(f"{repository}@{digest}"))
            names = () if by_digest else build.names[:1]
            return BuiltImage(names, digest, dict(build.result_labels), published=not by_digest)
        self.builds.run(build, pull, load=True, tags=list(build.names))
        image = self.docker.image.inspect(build.primary_name)
        check_diff_ids(build, [list(image.root_fs.layers or [])])
        labels = dict((image.config.labels or {}) if image.config else {})
        return BuiltImage(build.names, image.id, labels, published=False)

    def _check_loads(self) -> None:
        """Refuse loading results from a builder that shares no image store with this engine:
        a kubernetes builder's pods would stream every image back through this client, and
        what cnbext loads is meant to be the daemon's copy the next run builds on."""
        if self.driver() in NO_SHARED_STORE:
            raise EngineError(
                f"the buildx builder {self.builder or '(default)'} uses the {self.driver()} "
                "driver, which shares no image store with this Docker engine: it can only "
                "publish",
                hint="add --publish (to a registry both the cluster and this machine reach)",
            )

    def _reproducible(self, build: ImageBuild, output: dict[str, str]) -> dict[str, str]:
        """``output`` with BuildKit's rewrite-timestamp (every file's time in the layers the
        build adds clamped to SOURCE_DATE_EPOCH) when the build sets SOURCE_DATE_EPOCH and
        the driver allows it: the docker driver's exporter always unpacks into the daemon's
        store, which BuildKit refuses to combine with it (the generated Dockerfiles set the
        times of what they install themselves, see cnbext.cnb.dockerfile)."""
        from cnbext.engine.builds import SOURCE_DATE_EPOCH

        if SOURCE_DATE_EPOCH not in build.build_args or self.driver() == "docker":
            return output
        return {**output, "rewrite-timestamp": "true"}

    def prebuild(self, build: ImageBuild, *, pull: bool) -> None:
        """Build into BuildKit's cache only: a later :meth:`build` of the same plan is then a
        cached solve and an export (where the builder cannot push by digest, this is how
        builds overlap while pushes keep the publish order)."""
        self.builds.run(build, pull, output={"type": "cacheonly"})

    def export_layout(
        self, reference: str, platforms: Sequence[str], dest: Path, *, pull: bool
    ) -> LayoutImage:
        """``reference`` for every platform as an OCI layout (cnbext.engine.extension_steps)."""
        return self._layouts.export(reference, platforms, dest, pull=pull)

    def build_layout(self, step: StepBuild, dest: Path) -> LayoutImage:
        """One extension step into an OCI layout (cnbext.engine.extension_steps)."""
        return self._layouts.build(step, dest)

    @property
    def _layouts(self) -> LayoutBuilder:
        # The same buildx builder as every other build (--builder, --context, DOCKER_HOST).
        from cnbext.engine.extension_steps import LayoutBuilder

        cache = self.settings.build_cache
        return LayoutBuilder(self.docker, self.reporter, self.network, self.builder, cache=cache)

    def built_files(
        self, build: ImageBuild, paths: Sequence[str], *, pull: bool, max_bytes: int
    ) -> dict[str, BuiltFiles]:
        """Files of ``build``'s base and result per platform (cnbext.engine.builds)."""
        return self.builds.built_files(build, paths, pull=pull, max_bytes=max_bytes)

    def layer_diff_ids(self, context_trees: Mapping[str, Path]) -> dict[str, str]:
        """The diffID each tree gets as a ``COPY --link`` layer (cnbext.engine.builds),
        from the cache when these trees were measured on this builder before."""
        from cnbext.engine import layer_cache

        if not context_trees:
            return {}
        self.driver()  # knows the builder's identity from here on
        if not self._server_version:  # ensure_available was not asked: no identity to key on
            return self.builds.layer_diff_ids(context_trees)
        identity = f"{self._builder_identity} docker {self._server_version}"
        key = layer_cache.cache_key(context_trees, identity)
        if self.settings.fact_cache:
            known = layer_cache.load(key, sorted(context_trees))
            if known is not None:
                return known
        measured = self.builds.layer_diff_ids(context_trees)
        layer_cache.store(key, measured)
        return measured

    def export_tree(
        self, reference: str, paths: Sequence[str], dest: Path, *, platform: str | None = None
    ) -> None:
        """Copy directories out of an image into ``dest`` without running it."""
        self.reader.export_tree(reference, paths, dest, platform=platform)

    # -- registries ---------------------------------------------------------------------------

    def push_platform_image(self, build: ImageBuild, *, pull: bool) -> str:
        """Build a one-platform ``build``, push it under its first name and return its
        manifest digest (from BuildKit's metadata), checked against the registry; its layers
        are checked too. (Pushing by digest alone is not possible with the docker driver.)"""
        from cnbext.engine.builds import built_digest, check_diff_ids, strip_tag

        output = {"type": "image", "push": "true", "name": build.primary_name}
        output = self._reproducible(build, output)
        digest = built_digest(self.builds.run(build, pull, output=output))
        repository = strip_tag(build.primary_name)
        check_diff_ids(build, self.naming.diff_ids(f"{repository}@{digest}"))
        if self.naming.digest(build.primary_name) != digest:
            self._name_exactly(build.primary_name, repository, digest)
        return digest

    def _name_exactly(self, name: str, repository: str, digest: str) -> None:
        """Point ``name`` at ``repository@digest`` itself, when a push left it where it was
        (at an index holding this very image, see built_digest). The manifest is stored
        under the name as it is: naming it would wrap it in an index of its own."""
        manifest = self.registry().manifest(f"{repository}@{digest}")
        tag = parse_reference(name).tag or "latest"
        self.registry().put_manifest(repository, tag, manifest.raw, manifest.media_type)
        if self.naming.digest(name) != digest:
            raise PublishError(f"{name} does not have the digest pushed, {digest}")

    def create_index(self, target: str, sources: Sequence[str]) -> str:
        """Join images into one index under ``target``, registry-side (cnbext.engine.naming)."""
        return self.naming.create_index(target, sources)

    def copy_by_digest(self, source_repository: str, digest: str, target: str) -> str:
        """Copy ``source_repository@digest`` to ``target`` registry-side; its new digest."""
        return self.naming.copy_by_digest(source_repository, digest, target)

    def image_platforms(self, reference: str) -> tuple[str, ...] | None:
        return self.naming.platforms(reference)

    def sign(self, reference: str, key: str) -> None:
        """Sign ``repository@digest`` with cosign (cnbext.engine.signing)."""
        from cnbext.engine.signing import Cosign

        with self.reporter.step(f"Signing {reference}"):
            Cosign().sign(reference, key)

    def verify_signature(self, reference: str, key: str) -> str | None:
        from cnbext.engine.signing import Cosign

        return Cosign().verify(reference, key)

    def attest(self, reference: str, key: str, predicate: bytes, kind: str) -> None:
        """Attach a signed in-toto statement with cosign (cnbext.engine.signing)."""
        from cnbext.engine.signing import Cosign

        with self.reporter.step(f"Attesting {reference} ({kind})"):
            Cosign().attest(reference, key, predicate, kind)

    def verify_attestations(self, reference: str, key: str, kind: str) -> Attestations:
        from cnbext.engine.signing import Cosign

        return Cosign().verify_attestations(reference, key, kind)

    def registry(self) -> Registry:
        """The registries' API with the user's docker login credentials (one client, so its
        tokens are shared by every call of a run)."""
        if self._registry is None:
            from cnbext.engine.registry import Registry

            self._registry = Registry()
        return self._registry

    def read_image(self, reference: str, *, daemon: bool = True) -> ImageView:
        from cnbext.engine.images import read_image

        return read_image(reference, self.registry(), self.docker if daemon else None)
