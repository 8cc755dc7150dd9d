"""Gathering what a builder is made of besides its image facts: modules, lifecycle, diffIDs.

This is the I/O half of create-builder planning (the pure half is cnbext.plan.create_builder):
modules and the lifecycle are fetched from their sources, staged as normalized trees (so the
same module always gives the same layer), and the engine reports each module layer's diffID.
"""

from __future__ import annotations

import json
import os
import platform as host_platform
import shutil
from functools import partial
from pathlib import Path

import tomlkit

from cnbext.client.progress import Reporter
from cnbext.config.builder import BuilderConfig, ModuleEntry
from cnbext.engine.protocol import Engine
from cnbext.plan.create_builder import BuilderInputs, BuilderOptions, FetchedModule
from cnbext.plan.facts import ImageFacts
from cnbext.sources.cache import cache_dir
from cnbext.sources.lifecycle import DEFAULT_DOWNLOAD_BASE_URL, Lifecycle, fetch_lifecycle
from cnbext.sources.modules import fetch_modules, stage_module

LIFECYCLE_BASE_URL_ENV = "CNBEXT_LIFECYCLE_BASE_URL"


def gather_builder_inputs(
    engine: Engine,
    reporter: Reporter,
    config: BuilderConfig,
    options: BuilderOptions,
    facts: ImageFacts,
    work_dir: Path,
) -> BuilderInputs:
    platform = options.platforms[0] if options.platforms else None
    cache = cache_dir()
    context = work_dir / "context"

    def export_modules(image: str, dest: Path) -> None:
        engine.export_tree(image, ["/cnb/buildpacks", "/cnb/extensions"], dest, platform=platform)

    module_trees: dict[str, Path] = {}

    def fetch(entries: tuple[ModuleEntry, ...], prefix: str) -> tuple[FetchedModule, ...]:
        fetched = []
        for index, entry in enumerate(entries):
            uri = entry.uri if entry.uri is not None else f"docker://{entry.image}"
            with reporter.step(f"Fetching {entry.kind} {uri}"):
                modules = fetch_modules(
                    uri,
                    kind=entry.kind,
                    base_dir=config.base_dir,
                    work_dir=work_dir / "fetch" / f"{prefix}-{index}",
                    cache_dir=cache,
                    image_exporter=export_modules,
                )
            for module_index, module in enumerate(modules):
                path = f"{prefix}/{index}-{module_index}"
                stage_module(module, context / path)
                module_trees[path] = context / path
                fetched.append(FetchedModule(entry, module, path))
        return tuple(fetched)

    buildpacks = fetch(config.buildpacks, "buildpacks")
    extensions = fetch(config.extensions, "extensions")

    lifecycles: dict[str, Lifecycle] = {}
    lifecycle_trees: dict[str, Path] = {}
    source = config.lifecycle
    base_url = os.environ.get(LIFECYCLE_BASE_URL_ENV, DEFAULT_DOWNLOAD_BASE_URL)
    for arch in _architectures(options.platforms, facts.base.architecture):
        with reporter.step(f"Fetching the lifecycle for linux/{arch}"):
            lifecycle = fetch_lifecycle(
                version=source.version if source else None,
                uri=source.uri if source else None,
                arch=arch,
                base_dir=config.base_dir,
                work_dir=work_dir / "fetch" / f"lifecycle-{arch}",
                cache_dir=cache,
                download_base_url=base_url,
                image_exporter=partial(_export_lifecycle, engine, f"linux/{arch}"),
            )
        lifecycles[arch] = lifecycle
        path = f"lifecycle/{arch}"
        _stage_lifecycle(lifecycle, context / path)
        lifecycle_trees[path] = context / path

    workdirs = work_dir / "workdirs"
    for name in ("workspace", "layers"):
        (workdirs / name).mkdir(parents=True, exist_ok=True)
        (workdirs / name).chmod(0o755)

    with reporter.step("Computing module layers"):
        diff_ids = engine.layer_diff_ids(module_trees)
    return BuilderInputs(
        buildpacks=buildpacks,
        extensions=extensions,
        lifecycles=lifecycles,
        lifecycle_trees=lifecycle_trees,
        module_trees=module_trees,
        workdirs_tree=workdirs,
        diff_ids=diff_ids,
    )


LIFECYCLE_VERSION_LABEL = "io.buildpacks.lifecycle.version"
LIFECYCLE_APIS_LABEL = "io.buildpacks.lifecycle.apis"


def _export_lifecycle(engine: Engine, platform: str, image: str, dest: Path) -> None:
    """A lifecycle image's /cnb/lifecycle, plus a lifecycle.toml made from its labels: the
    buildpacksio/lifecycle images record version and APIs only there."""
    engine.export_tree(image, ["/cnb/lifecycle"], dest, platform=platform)
    labels = engine.image_labels(image, platform=platform)
    version = labels.get(LIFECYCLE_VERSION_LABEL)
    if version is None or (dest / "cnb" / "lifecycle" / "lifecycle.toml").exists():
        return
    try:
        apis = json.loads(labels.get(LIFECYCLE_APIS_LABEL, "{}"))
    except json.JSONDecodeError:
        apis = {}
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
    shutil.copytree(lifecycle.root / "lifecycle", target, symlinks=True, dirs_exist_ok=True)
    for directory, dirnames, filenames in os.walk(dest):
        for name in dirnames:
            Path(directory, name).chmod(0o755)
        for name in filenames:
            path = Path(directory, name)
            if not path.is_symlink():
                path.chmod(0o755)
