"""Executes plans with BuildKit (docker buildx) through python-on-whales.

Everything that reads or writes an image goes through :class:`DockerEngine`, the Docker
implementation of :class:`cnbext.engine.protocol.Engine`. Images are read without
running them (a scratch build copies files out), so any platform works; builds go through
buildx so the same code path pushes multi-platform results; extra names are copied
registry-side by digest (``imagetools create``), never rebuilt or re-uploaded.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

from python_on_whales import DockerClient
from python_on_whales.client_config import ClientNotFoundError
from python_on_whales.exceptions import DockerException
from python_on_whales.utils import run

from cnbext.client.progress import Reporter
from cnbext.engine.extension_steps import (
    BASE_CONTEXT,
    INDEX_MEDIA_TYPES,
    LayoutBuilder,
    LayoutImage,
    StepBuild,
    read_layout,
)
from cnbext.engine.models import (
    BaseImage,
    BuiltImage,
    ImageOrigin,
    ImageSource,
    ImageView,
    PhaseResult,
    PhaseRun,
)
from cnbext.engine.reading import ImageReader, context_dir, match_pattern
from cnbext.errors import BuildError, EngineError, ImageError, PublishError
from cnbext.plan.model import ImageBuild, PullPolicy


class DockerEngine:
    def __init__(
        self,
        reporter: Reporter,
        *,
        network: str | None = None,
        client: DockerClient | None = None,
        context: str | None = None,
        builder: str | None = None,
    ) -> None:
        """``context``: a docker context (else $DOCKER_CONTEXT / $DOCKER_HOST / the current
        one, as the docker CLI picks); ``builder``: a buildx builder of any driver (else
        $BUILDX_BUILDER, else the context's default). Every engine call goes through them."""
        self.reporter = reporter
        self.network = network
        self.docker = client or DockerClient(context=context or None)
        self.builder = builder or None
        self._driver: str | None = None
        self.reader = ImageReader(self.docker, self.builder, _last_lines)

    # -- availability -------------------------------------------------------------------------

    def ensure_available(self) -> None:
        try:
            # `docker version` with a format: one round trip to the daemon, nothing to parse
            # (python-on-whales' info() models the whole `docker info` document).
            run(
                [
                    *self.docker.client_config.docker_cmd,
                    "version",
                    "--format",
                    "{{.Server.Version}}",
                ],
                return_stderr=False,
            )
        except DockerException as err:
            raise EngineError(
                "no Docker daemon answers: " + _last_lines(err),
                hint="start Docker (on a Debian machine as root: `make engine`)",
            ) from None
        except (FileNotFoundError, ClientNotFoundError):
            raise EngineError("the docker client is not installed") from None
        self._driver = self._inspect_driver()

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
        return dict(self._image_config(reference, platform).get("Labels") or {})

    def _image_config(self, reference: str, platform: str | None) -> dict[str, Any]:
        """The config section (User, Env, Labels, ...) of a local or a registry image."""
        if self.docker.image.exists(reference):
            image = self.docker.image.inspect(reference)
            config = image.config
            return {
                "User": (config.user if config else "") or "",
                "Labels": dict((config.labels or {}) if config else {}),
            }
        document = self.reader.registry_config(reference, platform)
        section: dict[str, Any] = document.get("config", {})
        return section

    # -- running extension phases ---------------------------------------------------------------

    def run_phase(self, phase: PhaseRun) -> PhaseResult:
        """Run an extension's detect or generate in a container of ``phase.image``, as the
        image's CNB user, with its mounts and environment; killed after ``phase.timeout``."""
        container = self.docker.run(
            phase.image,
            list(phase.command),
            detach=True,
            envs=dict(phase.env),
            volumes=[
                (str(host), target, "ro" if ro else "rw") for host, target, ro in phase.mounts
            ],
            user=phase.user,
            workdir=phase.workdir,
            entrypoint="",
            networks=[self.network] if self.network else [],
            platform=phase.platform,
            memory=phase.memory_bytes,
            memory_swap=phase.memory_bytes,  # no swap beyond the memory limit
            pids_limit=phase.pids_limit,
        )
        deadline = time.monotonic() + phase.timeout
        try:
            while True:
                state = self.docker.container.inspect(container.id).state
                if not state.running:
                    logs = str(self.docker.container.logs(container.id, tail=40))
                    return PhaseResult(int(state.exit_code or 0), logs, timed_out=False)
                if time.monotonic() > deadline:
                    self.docker.container.kill(container.id)
                    logs = str(self.docker.container.logs(container.id, tail=40))
                    return PhaseResult(None, logs, timed_out=True)
                time.sleep(0.1)
        finally:
            self.docker.container.remove(container.id, force=True)

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
        command = [*self.docker.client_config.docker_cmd, "buildx", "inspect"]
        if self.builder:
            command.append(self.builder)
        try:
            output: str = run(command, return_stderr=False)
        except DockerException as err:
            if "is not a docker command" in (err.stderr or ""):
                raise EngineError(
                    "docker buildx is not available", hint="install the docker-buildx plugin"
                ) from None
            raise EngineError(f"the buildx builder does not answer: {_last_lines(err)}") from None
        fields = dict(
            (key.strip(), value.strip())
            for key, _, value in (line.partition(":") for line in output.splitlines())
        )
        if fields.get("Error") or not fields.get("Driver"):
            raise EngineError(
                f"the buildx builder {fields.get('Name', self.builder or '')} does not answer: "
                f"{fields.get('Error') or 'no driver'}"
            )
        return fields["Driver"]

    def build(
        self, build: ImageBuild, *, publish: bool, pull: bool, by_digest: bool = False
    ) -> BuiltImage:
        """Build ``build`` once. With ``publish``, push it under its first name, or with
        ``by_digest`` to that name's repository under no name (the client names it with
        :meth:`copy_by_digest` when the publish order allows); the pushed manifest's digest
        comes back. Else load it into the daemon under every name; its image id comes back."""
        if publish:
            repository = _strip_tag(build.primary_name)
            output = {"type": "image", "push": "true"}
            if by_digest:
                # store=false: nothing is kept in the engine's image store as an unnamed image.
                output |= {"name": repository, "push-by-digest": "true", "store": "false"}
            else:
                output |= {"name": build.primary_name}
            metadata = self._buildx(build, pull, output=output)
            digest = str(metadata["containerimage.digest"])
            if build.expected_diff_ids:
                self._check_diff_ids(build, self.registry_diff_ids(f"{repository}@{digest}"))
            names = () if by_digest else build.names[:1]
            return BuiltImage(names, digest, dict(build.result_labels), published=not by_digest)
        self._buildx(build, pull, load=True, tags=list(build.names))
        image = self.docker.image.inspect(build.primary_name)
        self._check_diff_ids(build, [list(image.root_fs.layers or [])])
        labels = dict((image.config.labels or {}) if image.config else {})
        return BuiltImage(build.names, image.id, labels, published=False)

    def prebuild(self, build: ImageBuild, *, pull: bool) -> None:
        """Build into BuildKit's cache only: a later :meth:`build` of the same plan is then a
        cached solve and an export (where the builder cannot push by digest, this is how
        builds overlap while pushes keep the publish order)."""
        self._buildx(build, pull, output={"type": "cacheonly"})

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
        return LayoutBuilder(self.docker, self.reporter, self.network, self.builder)

    def _buildx(self, build: ImageBuild, pull: bool, **outputs: Any) -> dict[str, Any]:
        """Run the build; BuildKit's metadata about the result (digests)."""
        build_args = dict(build.build_args)
        contexts: dict[str, str] = {}
        if build.base_context is not None:
            # The extension steps' last result, an OCI layout: FROM ${base_image} builds on
            # it, every platform on its own (nothing was loaded into the daemon).
            build_args["base_image"] = BASE_CONTEXT
            contexts[BASE_CONTEXT] = build.base_context
        with tempfile.TemporaryDirectory(prefix="cnbext-build-") as tmp:
            context = context_dir(tmp)
            _materialize_context(context, build)
            metadata_file = Path(tmp, "metadata.json")
            options: dict[str, Any] = {
                "builder": self.builder,
                "metadata_file": metadata_file,
                "build_args": build_args,
                "labels": build.labels,
                "platforms": list(build.platforms) or None,
                "network": self.network,
                "pull": pull,
                "build_contexts": contexts,
                # Attestation manifests turn the result into an index with "unknown/unknown"
                # entries, which older lifecycles and pack mis-handle; builds stay plain images.
                "provenance": False,
                "sbom": False,
                **outputs,
            }
            pushing = _pushes(outputs)
            verb = "Building and pushing" if pushing else "Building"
            with self.reporter.step(f"{verb} {build.role} {build.primary_name}"):
                self._run_build(context, options, build, pushing=pushing)
            metadata: dict[str, Any] = json.loads(metadata_file.read_text() or "{}")
            return metadata

    @staticmethod
    def _check_diff_ids(build: ImageBuild, per_platform: list[list[str]]) -> None:
        """Labels name layers by diffID (io.buildpacks.buildpack.layers): they must be real."""
        for layers in per_platform:
            missing = [d for d in build.expected_diff_ids if d not in layers]
            if missing:
                raise BuildError(
                    f"the {build.role} {build.primary_name} lacks the module layers its labels "
                    f"name: {', '.join(missing)}"
                )

    def layer_diff_ids(self, context_trees: Mapping[str, Path]) -> dict[str, str]:
        """The diffID each tree gets as a ``COPY --link`` layer, by context path.

        A --link layer is computed against an empty filesystem, so it is the same on any base:
        building the trees on scratch and reading the OCI config gives the diffIDs the real
        image will have, before it is built (the builder's labels must name them).
        """
        if not context_trees:
            return {}
        paths = sorted(context_trees)
        lines = ["FROM scratch", *(f"COPY --link {path}/ /" for path in paths)]
        with tempfile.TemporaryDirectory(prefix="cnbext-layers-") as tmp:
            context = context_dir(tmp)
            context.mkdir()
            for path in paths:
                _copy_tree(context_trees[path], context / path)
            _normalize_times(context)
            (context / "Dockerfile").write_text("\n".join(lines) + "\n")
            layout = Path(tmp, "layout")
            try:
                self.docker.buildx.build(
                    context,
                    output={"type": "oci", "tar": "false", "dest": str(layout)},
                    builder=self.builder,
                    progress=False,
                )
            except DockerException as err:
                raise BuildError(f"cannot build module layers: {_last_lines(err)}") from None
            diff_ids = read_layout(layout).configs[0].diff_ids
        if len(diff_ids) != len(paths):
            raise BuildError(f"expected {len(paths)} module layers, BuildKit made {len(diff_ids)}")
        return dict(zip(paths, diff_ids, strict=True))

    def registry_diff_ids(self, reference: str) -> list[list[str]]:
        """The layer diffIDs of a published image, one list per platform."""
        output = self._imagetools_format(reference, "{{json .Image}}")
        config: Any = json.loads(output)
        configs = list(config.values()) if "rootfs" not in config else [config]
        return [list(c.get("rootfs", {}).get("diff_ids", [])) for c in configs]

    def export_tree(
        self, reference: str, paths: Sequence[str], dest: Path, *, platform: str | None = None
    ) -> None:
        """Copy directories out of an image into ``dest`` (``dest/<path>``), never running it;
        paths the image lacks are simply absent."""
        lines = [f"FROM {reference} AS source", "FROM scratch"]
        for path in paths:
            lines.append(f"COPY --from=source {match_pattern(path)} {path.rstrip('/')}/")
        with tempfile.TemporaryDirectory(prefix="cnbext-export-") as tmp:
            context = context_dir(tmp)
            context.mkdir()
            (context / "Dockerfile").write_text("\n".join(lines) + "\n")
            try:
                self.docker.buildx.build(
                    context,
                    output={"type": "local", "dest": str(dest)},
                    platforms=[platform] if platform else None,
                    builder=self.builder,
                    progress=False,
                )
            except DockerException as err:
                raise ImageError(f"cannot read {reference}: {_last_lines(err)}") from None

    def _run_build(
        self, context: Path, options: dict[str, Any], build: ImageBuild, *, pushing: bool
    ) -> None:
        # Streaming is the only way python-on-whales captures buildx's log (otherwise it goes
        # straight to our stderr); keep the tail to explain a failure without --verbose.
        tail: deque[str] = deque(maxlen=30)
        try:
            lines = self.docker.buildx.build(context, stream_logs=True, progress="plain", **options)
            for line in cast(Iterator[str], lines):
                text = str(line).rstrip("\n")
                tail.append(text)
                self.reporter.build_log(text)
        except DockerException as err:
            log = "\n".join(tail) or _last_lines(err, 25)
            push_failure = next((t for t in reversed(tail) if "failed to push" in t), None)
            if pushing and push_failure is not None:
                reason = push_failure.split("failed to push ")[-1]
                raise PublishError(
                    f"cannot push {build.primary_name}: {reason}",
                    hint=_push_hint(push_failure, build.primary_name),
                ) from None
            raise BuildError(
                f"building the {build.role} {build.primary_name} failed:\n{log}",
                hint="re-run with --verbose for the whole build log",
            ) from None

    # -- registries ---------------------------------------------------------------------------

    def push_platform_image(self, build: ImageBuild, *, pull: bool) -> str:
        """Build a one-platform ``build``, push it under its first name and return its
        manifest digest (from BuildKit's metadata), checked against the registry; its layers
        are checked too. (Pushing by digest alone is not possible with the docker driver.)"""
        output = {"type": "image", "push": "true", "name": build.primary_name}
        digest = str(self._buildx(build, pull, output=output)["containerimage.digest"])
        if self.registry_digest(build.primary_name) != digest:
            raise PublishError(f"{build.primary_name} does not have the digest pushed, {digest}")
        self._check_diff_ids(
            build, self.registry_diff_ids(f"{_strip_tag(build.primary_name)}@{digest}")
        )
        return digest

    def create_index(self, target: str, sources: Sequence[str]) -> str:
        """Join images (``repository@digest``) into one image index under ``target``,
        registry-side (``imagetools create``: nothing is rebuilt or re-uploaded)."""
        with self.reporter.step(f"Joining {len(sources)} images into the index {target}"):
            try:
                self.docker.buildx.imagetools.create(
                    sources=list(sources), tags=[target], builder=self.builder
                )
            except DockerException as err:
                raise PublishError(f"cannot publish {target}: {_last_lines(err)}") from None
        return self.registry_digest(target)

    def image_platforms(self, reference: str) -> tuple[str, ...] | None:
        """The platforms a registry serves for ``reference`` (an index's entries, or a single
        image's own); None when the registry cannot be read for it."""
        try:
            descriptor = self._registry_descriptor(reference)
            if descriptor.get("mediaType") in INDEX_MEDIA_TYPES:
                entries = [m.get("platform") or {} for m in descriptor.get("manifests", [])]
            else:
                entries = [json.loads(self._imagetools_format(reference, "{{json .Image}}"))]
        except (PublishError, json.JSONDecodeError):
            return None
        return tuple(
            "/".join(p for p in (e.get("os"), e.get("architecture"), e.get("variant")) if p)
            for e in entries
            if e.get("os") not in (None, "unknown")
        )

    def registry_digest(self, reference: str) -> str:
        """The manifest (or index) digest a registry serves for ``reference``."""
        return str(self._registry_descriptor(reference)["digest"])

    def _registry_descriptor(self, reference: str) -> dict[str, Any]:
        descriptor: dict[str, Any] = json.loads(
            self._imagetools_format(reference, "{{json .Manifest}}")
        )
        return descriptor

    def _imagetools_format(self, reference: str, template: str) -> str:
        return self.reader.imagetools_format(reference, template)

    def copy_by_digest(self, source_repository: str, digest: str, target: str) -> str:
        """Copy ``source_repository@digest`` to ``target`` registry-side; its new digest."""
        source = f"{source_repository}@{digest}"
        with self.reporter.step(f"Copying {source} to {target}"):
            try:
                self.docker.buildx.imagetools.create(
                    sources=[source], tags=[target], builder=self.builder
                )
            except DockerException as err:
                raise PublishError(f"cannot copy to {target}: {_last_lines(err)}") from None
        return self.registry_digest(target)

    def registry_origin(self, reference: str) -> ImageOrigin:
        from cnbext.engine.registry import Registry, origin_of_reference

        return origin_of_reference(Registry(), reference)

    def read_image(self, reference: str, *, daemon: bool = True) -> ImageView:
        from cnbext.engine.images import read_image
        from cnbext.engine.registry import Registry

        return read_image(reference, Registry(), self.docker if daemon else None)


def _materialize_context(context: Path, build: ImageBuild) -> None:
    """The build context: Dockerfile, staged trees and generated files, all with mtime 0 so
    the same inputs always give the same layers."""
    context.mkdir()
    for path, tree in build.context_trees.items():
        _copy_tree(tree, context / path)
    for path, text in build.context_files.items():
        target = context / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        target.chmod(0o644)
    _normalize_times(context)
    (context / "Dockerfile").write_text(build.dockerfile)


def _copy_tree(source: Path, target: Path) -> None:
    shutil.copytree(source, target, symlinks=True, dirs_exist_ok=True)


def _normalize_times(root: Path) -> None:
    for directory, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            os.utime(Path(directory, name), (0, 0), follow_symlinks=False)
    os.utime(root, (0, 0))


def _pushes(options: Mapping[str, Any]) -> bool:
    """Whether a build pushes: ``push=True``, or an image output with ``push=true``."""
    output = options.get("output") or {}
    return bool(options.get("push")) or output.get("push") == "true"


def _strip_tag(reference: str) -> str:
    """``host:5000/a/b:tag`` -> ``host:5000/a/b`` (a ':' after the last '/' starts the tag)."""
    head, slash, tail = reference.rpartition("/")
    return f"{head}{slash}{tail.split(':', 1)[0]}"


def _push_hint(failure: str, reference: str) -> str | None:
    if "401" in failure or "unauthorized" in failure.lower() or "denied" in failure.lower():
        registry = reference.split("/", 1)[0]
        return f"log in first: docker login {registry}"
    return None


def _last_lines(err: DockerException, count: int = 6) -> str:
    text = (err.stderr or err.stdout or str(err) or "").strip()
    lines = [line for line in text.splitlines() if line.strip()]
    return "\n".join(lines[-count:]) if lines else "unknown error"
