"""Running one plan build with buildx: its context on disk, its log, BuildKit's metadata.

The context is materialized with every mtime at 0, so the same inputs always give the same
layers; the log is streamed to the reporter and its tail kept to explain a failure; the
metadata file carries the digest BuildKit pushed. Module layers (``COPY --link`` trees) get
their diffIDs from a scratch build before the real one, and are checked after it.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, cast

from cnbext.engine.extension_steps import BASE_CONTEXT, read_layout
from cnbext.engine.failures import last_lines, push_hint
from cnbext.engine.models import BuiltFiles
from cnbext.engine.reading import context_dir, match_pattern
from cnbext.errors import BuildError, PublishError
from cnbext.plan.model import ImageBuild
from cnbext.progress import Reporter
from cnbext.sources import disk

if TYPE_CHECKING:
    from python_on_whales import DockerClient

# BuildKit's build arg for reproducible builds (the engine may not import cnbext.cnb).
SOURCE_DATE_EPOCH = "SOURCE_DATE_EPOCH"


class BuildRunner:
    """Runs builds on one buildx builder, with the engine's client, network and reporter."""

    def __init__(
        self,
        docker: DockerClient,
        reporter: Reporter,
        network: str | None,
        builder: str | None,
        *,
        cache: bool = True,
    ) -> None:
        self.docker = docker
        self.reporter = reporter
        self.network = network
        self.builder = builder
        self.cache = cache

    def run(
        self, build: ImageBuild, pull: bool, *, step: str | None = None, **outputs: Any
    ) -> dict[str, Any]:
        """Run the build with ``outputs`` (buildx's output/load/tags); BuildKit's metadata
        about the result (digests). ``step`` is what the reporter shows."""
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
                "cache": self.cache,
                # Attestation manifests turn the result into an index with "unknown/unknown"
                # entries, which older lifecycles and pack mis-handle; builds stay plain images.
                "provenance": False,
                "sbom": False,
                **outputs,
            }
            pushing = _pushes(outputs)
            verb = "Building and pushing" if pushing else "Building"
            with self.reporter.step(step or f"{verb} {build.role} {build.primary_name}"):
                self._stream(context, options, build, pushing=pushing)
            metadata: dict[str, Any] = json.loads(metadata_file.read_text() or "{}")
            return metadata

    def _stream(
        self, context: Path, options: dict[str, Any], build: ImageBuild, *, pushing: bool
    ) -> None:
        # Streaming is the only way python-on-whales captures buildx's log (otherwise it goes
        # straight to our stderr); keep the tail to explain a failure without --verbose.
        tail: deque[str] = deque(maxlen=30)
        from python_on_whales.exceptions import DockerException

        try:
            lines = self.docker.buildx.build(context, stream_logs=True, progress="plain", **options)
            for line in cast(Iterator[str], lines):
                text = str(line).rstrip("\n")
                tail.append(text)
                self.reporter.build_log(text)
        except DockerException as err:
            log = "\n".join(tail) or last_lines(err, 25)
            push_failure = next((t for t in reversed(tail) if "failed to push" in t), None)
            if pushing and push_failure is not None:
                reason = push_failure.split("failed to push ")[-1]
                raise PublishError(
                    f"cannot push {build.primary_name}: {reason}",
                    hint=push_hint(push_failure, build.primary_name),
                ) from None
            raise BuildError(
                f"building the {build.role} {build.primary_name} failed:\n{log}",
                hint="re-run with --verbose for the whole build log",
            ) from None

    def built_files(
        self, build: ImageBuild, paths: Sequence[str], *, pull: bool, max_bytes: int
    ) -> dict[str, BuiltFiles]:
        """Files of ``build``'s base and of its result, per platform, copied out (never run)
        by a build of the same Dockerfile with a ``FROM scratch`` stage appended: the same
        solve the image's own build then finds in the cache. Nothing is loaded or pushed.

        The build's Dockerfile must be one stage (``--from=0``: every Dockerfile cnbext
        generates is). Each platform's files land under its ``$TARGETPLATFORM``, with a
        marker, so a platform without any of ``paths`` is still seen."""
        lines = [
            build.dockerfile.rstrip("\n"),
            f"FROM {build.base} AS {_BASE_STAGE}",
            "FROM scratch",
            "ARG TARGETPLATFORM",
            f"COPY {_MARKER} /${{TARGETPLATFORM}}/",
        ]
        for stage, side in (("0", "result"), (_BASE_STAGE, "base")):
            for path in paths:
                parent = str(PurePosixPath(path).parent).rstrip("/")
                target = f"/${{TARGETPLATFORM}}/{side}{parent}/"
                lines.append(f"COPY --from={stage} {match_pattern(path)} {target}")
        reading = replace(
            build,
            dockerfile="\n".join(lines) + "\n",
            labels={},
            context_files={**build.context_files, _MARKER: ""},
        )
        with tempfile.TemporaryDirectory(prefix="cnbext-built-files-") as tmp:
            dest = Path(tmp, "out")
            step = f"Reading the packages of {build.role} {build.primary_name}"
            self.run(reading, pull, step=step, output={"type": "local", "dest": str(dest)})
            return {
                _platform_of(marker.parent, dest): _collect(marker.parent, paths, max_bytes)
                for marker in sorted(dest.rglob(_MARKER))
            }

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
                disk.copy_tree(context_trees[path], context / path)
            _normalize_times(context)
            (context / "Dockerfile").write_text("\n".join(lines) + "\n")
            layout = Path(tmp, "layout")
            from python_on_whales.exceptions import DockerException

            try:
                self.docker.buildx.build(
                    context,
                    output={"type": "oci", "tar": "false", "dest": str(layout)},
                    builder=self.builder,
                    progress=False,
                )
            except DockerException as err:
                raise BuildError(f"cannot build module layers: {last_lines(err)}") from None
            diff_ids = read_layout(layout).configs[0].diff_ids
        if len(diff_ids) != len(paths):
            raise BuildError(f"expected {len(paths)} module layers, BuildKit made {len(diff_ids)}")
        return dict(zip(paths, diff_ids, strict=True))


_BASE_STAGE = "cnbext-base"
_MARKER = "cnbext-platform.marker"


def _platform_of(folder: Path, dest: Path) -> str:
    """``dest/linux/arm64`` (one platform) or ``dest/linux_arm64/linux/arm64`` (BuildKit's
    local exporter puts several platforms each in its own folder) -> ``linux/arm64``."""
    parts = folder.relative_to(dest).parts
    if len(parts) > 1 and parts[0] == "_".join(parts[1:]):
        parts = parts[1:]
    return "/".join(parts)


def _collect(folder: Path, paths: Sequence[str], max_bytes: int) -> BuiltFiles:
    found: dict[str, dict[str, bytes]] = {"base": {}, "result": {}}
    for side, files in found.items():
        for path in paths:
            candidate = folder / side / path.lstrip("/")
            # Never follow a link the image put there: only regular files are read.
            if candidate.is_symlink() or not candidate.is_file():
                continue
            if candidate.stat().st_size > max_bytes:
                raise BuildError(
                    f"{path} is over {max_bytes} bytes; refusing to read it as a package database"
                )
            files[path] = candidate.read_bytes()
    return BuiltFiles(base=found["base"], result=found["result"])


def built_digest(metadata: Mapping[str, object]) -> str:
    """The digest of the image a build made, from BuildKit's metadata.

    ``containerimage.descriptor`` is the manifest (or index) the exporter wrote. The docker
    driver's ``containerimage.digest`` is what the pushed name resolves to afterwards, and
    that is not always the same: when the registry's tag already names an index that holds
    this very manifest (the per-platform pushes of a multi-platform publish that is run
    again), the push leaves the tag at that index and the index's digest is reported.
    """
    descriptor = metadata.get("containerimage.descriptor")
    if isinstance(descriptor, Mapping) and isinstance(descriptor.get("digest"), str):
        return str(descriptor["digest"])
    return str(metadata["containerimage.digest"])


def check_diff_ids(build: ImageBuild, per_platform: list[list[str]]) -> None:
    """Labels name layers by diffID (io.buildpacks.buildpack.layers): they must be real."""
    for layers in per_platform:
        missing = [d for d in build.expected_diff_ids if d not in layers]
        if missing:
            raise BuildError(
                f"the {build.role} {build.primary_name} lacks the module layers its labels "
                f"name: {', '.join(missing)}"
            )


def strip_tag(reference: str) -> str:
    """``host:5000/a/b:tag`` -> ``host:5000/a/b`` (a ':' after the last '/' starts the tag)."""
    head, slash, tail = reference.rpartition("/")
    return f"{head}{slash}{tail.split(':', 1)[0]}"


def _materialize_context(context: Path, build: ImageBuild) -> None:
    """The build context: Dockerfile, staged trees and generated files, all with mtime 0 so
    the same inputs always give the same layers."""
    context.mkdir()
    for path, tree in build.context_trees.items():
        disk.copy_tree(tree, context / path)
    for path, text in build.context_files.items():
        target = context / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        target.chmod(0o644)
    _normalize_times(context)
    (context / "Dockerfile").write_text(build.dockerfile)


def _normalize_times(root: Path) -> None:
    for directory, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            os.utime(Path(directory, name), (0, 0), follow_symlinks=False)
    os.utime(root, (0, 0))


def _pushes(options: Mapping[str, Any]) -> bool:
    """Whether a build pushes: ``push=True``, or an image output with ``push=true``."""
    output = options.get("output") or {}
    return bool(options.get("push")) or output.get("push") == "true"
