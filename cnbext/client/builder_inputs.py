"""Gathering what a builder is made of: base-image facts, modules, lifecycle, layer diffIDs.

This is the I/O half of create-builder planning (the pure half is cnbext.plan.create_builder):
modules and the lifecycle are fetched from their sources, staged as normalized trees (so the
same module always gives the same layer), and the engine reports each module layer's diffID.
"""

from __future__ import annotations

import json
import os
import platform as host_platform
from functools import partial
from pathlib import Path
from typing import Any

import tomlkit

from cnbext.client.origin import registry_origin
from cnbext.cnb.labels import BUILDER_METADATA
from cnbext.config.builder import BuilderConfig, ModuleEntry
from cnbext.config.targets import target_platforms
from cnbext.engine.protocol import Engine
from cnbext.errors import UsageError
from cnbext.plan.builder_modules import module_label
from cnbext.plan.builder_options import BuilderInputs, BuilderOptions
from cnbext.plan.create_builder import FetchedModule
from cnbext.plan.facts import ImageFacts
from cnbext.progress import Reporter
from cnbext.sources import disk
from cnbext.sources.cache import cache_dir
from cnbext.sources.lifecycle import Lifecycle, fetch_lifecycle
from cnbext.sources.lifecycle_release import DEFAULT_DOWNLOAD_BASE_URL
from cnbext.sources.modules import fetch_modules, stage_module
from cnbext.sources.uri import redact_url

LIFECYCLE_BASE_URL_ENV = "CNBEXT_LIFECYCLE_BASE_URL"


def gather_builder_inputs(
    engine: Engine,
    reporter: Reporter,
    config: BuilderConfig,
    options: BuilderOptions,
    facts: ImageFacts,
    work_dir: Path,
) -> BuilderInputs:
    """``options.platforms`` are the chosen ones (see :func:`select_platforms`); modules
    from images are read for the first (the client plans one builder per platform when it
    publishes several)."""
    platforms = options.platforms
    platform = platforms[0] if platforms else None
    context = work_dir / "context"
    modules = _ModuleFetcher(engine, reporter, config.base_dir, work_dir, context, platform)
    buildpacks = modules.fetch(config.buildpacks, "buildpacks")
    extensions = modules.fetch(config.extensions, "extensions")
    flattened = _stage_flattened(
        options.flatten, (*buildpacks, *extensions), context, modules.trees
    )
    lifecycles, lifecycle_trees = _lifecycles(
        engine, reporter, config, _architectures(platforms, facts.base.architecture), work_dir
    )
    workdirs = work_dir / "workdirs"
    for name in ("workspace", "layers"):
        (workdirs / name).mkdir(parents=True, exist_ok=True)
        (workdirs / name).chmod(0o755)
    with reporter.step("Computing module layers"):
        diff_ids = engine.layer_diff_ids(modules.trees)
    return BuilderInputs(
        buildpacks=buildpacks,
        extensions=extensions,
        lifecycles=lifecycles,
        lifecycle_trees=lifecycle_trees,
        module_trees=modules.trees,
        workdirs_tree=workdirs,
        diff_ids=diff_ids,
        flattened=flattened,
        run_origin=None
        if facts.run
        else registry_origin(engine.registry(), config.run_images[0].image),
    )


def select_platforms(config: BuilderConfig, options: BuilderOptions) -> tuple[str, ...]:
    """The platforms to build, as pack picks them: --target (or --platform) flags, else
    [[targets]]; with --publish every one of them (joined into one image index), without it
    only the daemon's, refused when no target names it. Without any target, the options'
    own platforms (the API's callers may set them directly)."""
    targets = options.targets or config.targets
    platforms = target_platforms(targets)
    if not platforms:
        return options.platforms
    if options.publish:
        return platforms
    daemon = f"linux/{_host_architecture()}"
    if any(p == daemon or p.startswith(daemon + "/") for p in platforms):
        return (daemon,)
    raise UsageError(
        f"no target matches the daemon's platform {daemon}: {', '.join(platforms)}",
        hint="add --publish to build every target into an image index in a registry, or add "
        f"--target {daemon}",
    )


class _ModuleFetcher:
    """Fetches [[buildpacks]] / [[extensions]] entries and stages each module as a tree."""

    def __init__(
        self,
        engine: Engine,
        reporter: Reporter,
        base_dir: Path,
        work_dir: Path,
        context: Path,
        platform: str | None,
    ) -> None:
        self.engine, self.reporter = engine, reporter
        self.base_dir, self.work_dir, self.context = base_dir, work_dir, context
        self.platform = platform
        self.trees: dict[str, Path] = {}  # context path -> staged module

    def _export(self, image: str, dest: Path) -> None:
        self.engine.export_tree(
            image, ["/cnb/buildpacks", "/cnb/extensions"], dest, platform=self.platform
        )

    def fetch(self, entries: tuple[ModuleEntry, ...], prefix: str) -> tuple[FetchedModule, ...]:
        fetched = []
        for index, entry in enumerate(entries):
            uri = entry.uri if entry.uri is not None else f"docker://{entry.image}"
            with self.reporter.step(f"Fetching {entry.kind} {redact_url(uri)}"):
                modules = fetch_modules(
                    uri,
                    kind=entry.kind,
                    base_dir=self.base_dir,
                    work_dir=self.work_dir / "fetch" / f"{prefix}-{index}",
                    cache_dir=cache_dir(),
                    image_exporter=self._export,
                    sha256=entry.sha256,
                )
            for module_index, module in enumerate(modules):
                path = f"{prefix}/{index}-{module_index}"
                stage_module(module, self.context / path)
                self.trees[path] = self.context / path
                fetched.append(FetchedModule(entry, module, path))
        return tuple(fetched)


def _stage_flattened(
    groups: tuple[tuple[str, ...], ...],
    fetched: tuple[FetchedModule, ...],
    context: Path,
    trees: dict[str, Path],
) -> dict[str, str]:
    """--flatten: each group's modules staged together as one tree (one layer); returns each
    flattened module's context path -> its group's. Modules the builder lacks are the
    planner's to report."""
    flattened: dict[str, str] = {}
    for index, group in enumerate(groups):
        members = [f for f in fetched if module_label(f.module) in group]
        if not members:
            continue
        path = f"flatten/{index}"
        for member in members:
            stage_module(member.module, context / path)
            flattened[member.context_path] = path
        trees[path] = context / path
    return flattened


def _lifecycles(
    engine: Engine,
    reporter: Reporter,
    config: BuilderConfig,
    architectures: list[str],
    work_dir: Path,
) -> tuple[dict[str, Lifecycle], dict[str, Path]]:
    """The lifecycle for each architecture (the release for that arch), staged."""
    lifecycles: dict[str, Lifecycle] = {}
    trees: dict[str, Path] = {}
    source = config.lifecycle
    base_url = os.environ.get(LIFECYCLE_BASE_URL_ENV, DEFAULT_DOWNLOAD_BASE_URL)
    for arch in architectures:
        with reporter.step(f"Fetching the lifecycle for linux/{arch}"):
            lifecycle = fetch_lifecycle(
                version=source.version if source else None,
                uri=source.uri if source else None,
                arch=arch,
                base_dir=config.base_dir,
                work_dir=work_dir / "fetch" / f"lifecycle-{arch}",
                cache_dir=cache_dir(),
                download_base_url=base_url,
                image_exporter=partial(_export_lifecycle, engine, f"linux/{arch}"),
                sha256=source.sha256 if source else None,
            )
        lifecycles[arch] = lifecycle
        path = f"lifecycle/{arch}"
        _stage_lifecycle(lifecycle, work_dir / "context" / path)
        trees[path] = work_dir / "context" / path
    return lifecycles, trees


LIFECYCLE_VERSION_LABEL = "io.buildpacks.lifecycle.version"
LIFECYCLE_APIS_LABEL = "io.buildpacks.lifecycle.apis"


def _export_lifecycle(engine: Engine, platform: str, image: str, dest: Path) -> None:
    """A lifecycle image's (or a builder's) /cnb/lifecycle, plus a lifecycle.toml made from its
    labels: the buildpacksio/lifecycle images record version and APIs only in their labels,
    a builder in its io.buildpacks.builder.metadata."""
    engine.export_tree(image, ["/cnb/lifecycle"], dest, platform=platform)
    if (dest / "cnb" / "lifecycle" / "lifecycle.toml").exists():
        return
    labels = engine.image_labels(image, platform=platform)
    version, apis = _labelled_lifecycle(labels)
    if version is None:
        return
    descriptor = {
        "apis": {
            kind: {
                "deprecated": list(apis.get(kind, {}).get("deprecated") or []),
                "supported": list(apis.get(kind, {}).get("supported") or []),
            }
            for kind in ("buildpack", "platform")
        },
        "lifecycle": {"version": version},
    }
    (dest / "cnb" / "lifecycle.toml").write_text(tomlkit.dumps(descriptor))


def _labelled_lifecycle(labels: dict[str, str]) -> tuple[str | None, dict[str, Any]]:
    """(version, apis) of the lifecycle an image's labels describe; (None, {}) if none do."""
    try:
        if LIFECYCLE_VERSION_LABEL in labels:
            apis = json.loads(labels.get(LIFECYCLE_APIS_LABEL, "{}"))
            return labels[LIFECYCLE_VERSION_LABEL], apis if isinstance(apis, dict) else {}
        metadata = json.loads(labels.get(BUILDER_METADATA, "{}"))
    except json.JSONDecodeError:
        return None, {}
    lifecycle = metadata.get("lifecycle") if isinstance(metadata, dict) else None
    if not isinstance(lifecycle, dict) or not isinstance(lifecycle.get("version"), str):
        return None, {}
    apis = lifecycle.get("apis")
    return lifecycle["version"], apis if isinstance(apis, dict) else {}


def _architectures(platforms: tuple[str, ...], base_architecture: str) -> list[str]:
    if platforms:
        return sorted({p.split("/")[1] for p in platforms if "/" in p})
    return [base_architecture or _host_architecture()]


def _host_architecture() -> str:
    machine = host_platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


def _stage_lifecycle(lifecycle: Lifecycle, dest: Path) -> None:
    """/cnb/lifecycle/<binaries> as a normalized tree (root-owned, 0755, mtime 0)."""
    target = dest / "cnb" / "lifecycle"
    disk.copy_tree(lifecycle.root / "lifecycle", target)
    for directory, dirnames, filenames in os.walk(dest):
        # os.walk lists links to folders with the folders; chmod would follow them.
        for name in [*dirnames, *filenames]:
            path = Path(directory, name)
            if not path.is_symlink():
                path.chmod(0o755)
