"""The ``create_builder`` use case: a builder from pack's builder.toml plus [extend]."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from cnbext.client.builder_inputs import gather_builder_inputs, select_platforms
from cnbext.client.facts import gather_image_facts
from cnbext.client.lock import as_locked
from cnbext.client.usecase import (
    Result,
    normalize_builder_options,
    plan_with_digests,
    run_use_case,
)
from cnbext.config.builder import BuilderConfig, load_builder_config
from cnbext.config.extension_request import ExtensionRequest
from cnbext.engine.protocol import Engine
from cnbext.engine.settings import EngineSettings
from cnbext.plan.builder_options import BuilderInputs, BuilderOptions
from cnbext.plan.builder_targets import (
    check_run_image_platforms,
    join_platform_builds,
    run_image_references,
)
from cnbext.plan.create_builder import check_options, plan_create_builder
from cnbext.plan.facts import ImageFacts
from cnbext.plan.model import Plan
from cnbext.plan.request import record_request
from cnbext.progress import Reporter


def create_builder(
    config: str | os.PathLike[str] | BuilderConfig,
    options: BuilderOptions,
    *,
    dry_run: bool = False,
    reporter: Reporter | None = None,
    engine: Engine | None = None,
    settings: EngineSettings | None = None,
) -> Result:
    """Create the builder a builder.toml describes (a path, or one already loaded) as
    ``options.names[0]``; with ``options.run_image``, extend its run image too and publish
    that (and its mirrors) first. With ``dry_run``, fetch, read and plan, but build nothing."""
    options = normalize_builder_options(options)
    loaded = (
        config
        if isinstance(config, BuilderConfig)
        else load_builder_config(Path(config), os.fspath(config))
    )
    request = record_request("create-builder", options, loaded.source.data(), loaded.base_dir)
    # The targets (options.targets, else [[targets]]) decide the platforms, as pack decides.
    options = replace(options, platforms=select_platforms(loaded, options))
    check_options(options, loaded)
    # Recorded as written above: an upgrade reads the lock again.
    loaded = as_locked(loaded, options, extend_run=options.run_image is not None)

    def plan_with(engine: Engine, reporter: Reporter, work_dir: Path) -> Plan:
        checked: tuple[str, ...] = ()
        if options.publish and options.platforms:
            checked = _check_run_images(engine, reporter, loaded, options.platforms)

        def planner(digested: tuple[ExtensionRequest, ...], planned: BuilderOptions) -> Plan:
            config = replace(loaded, extend_extensions=digested)
            if options.publish and len(options.platforms) > 1:
                return _plan_per_platform(engine, reporter, loaded, config, planned, work_dir)
            facts, inputs = _gather(engine, reporter, loaded, options, work_dir)
            return plan_create_builder(config, planned, facts, inputs)

        plan = plan_with_digests(
            engine, options, loaded.extend_extensions, loaded.base_dir, planner
        )
        return replace(plan, warnings=(*plan.warnings, *checked))

    return run_use_case(
        plan_with,
        request,
        engine=engine,
        settings=settings,
        reporter=reporter,
        dry_run=dry_run,
        work_prefix="cnbext-builder-",
    )


def _gather(
    engine: Engine,
    reporter: Reporter,
    loaded: BuilderConfig,
    options: BuilderOptions,
    work_dir: Path,
) -> tuple[ImageFacts, BuilderInputs]:
    """Facts and inputs for ``options.platforms``: images read for its first platform, the
    lifecycle for each of its architectures."""
    facts = gather_image_facts(
        engine,
        reporter,
        options,
        image=loaded.build_image,
        run_image_of=lambda _build_image: loaded.run_images[0].image,
        extend_run=options.run_image is not None,
        config_extensions=loaded.extend_extensions,
        base_dir=loaded.base_dir,
        work_dir=work_dir,
    )
    return facts, gather_builder_inputs(engine, reporter, loaded, options, facts, work_dir)


def _plan_per_platform(
    engine: Engine,
    reporter: Reporter,
    loaded: BuilderConfig,
    config: BuilderConfig,
    options: BuilderOptions,
    work_dir: Path,
) -> Plan:
    """pack's multi-arch builder: one builder per target, each planned from that platform's
    build image, lifecycle and modules, joined into one index under NAME. The plan around it
    (the run image, built once for every platform; what --dry-run shows) is the first
    platform's, with every platform's lifecycle. ``loaded`` is read, ``config`` planned (it
    carries the extensions' digests)."""
    gathered = [
        _gather(engine, reporter, loaded, replace(options, platforms=(p,)), work_dir / f"t{i}")
        for i, p in enumerate(options.platforms)
    ]
    facts, first = gathered[0]
    every = replace(
        first,
        lifecycles={a: lc for _, i in gathered for a, lc in i.lifecycles.items()},
        lifecycle_trees={p: t for _, i in gathered for p, t in i.lifecycle_trees.items()},
    )
    plan = plan_create_builder(config, options, facts, every)
    per_platform = [
        plan_create_builder(config, replace(options, platforms=(p,)), f, i).builds[-1]
        for p, (f, i) in zip(options.platforms, gathered, strict=True)
    ]
    *run_builds, builder = plan.builds
    joined = join_platform_builds(builder, per_platform, suffix=options.append_image_name_suffix)
    return replace(plan, builds=(*run_builds, joined))


def _check_run_images(
    engine: Engine, reporter: Reporter, loaded: BuilderConfig, platforms: tuple[str, ...]
) -> tuple[str, ...]:
    """Every run image serves every target platform, checked before any work (pack fetches
    each run image for each target); pack's warnings for those it cannot read."""
    with reporter.step("Checking the run images' platforms"):
        served = {ref: engine.image_platforms(ref) for ref in run_image_references(loaded)}
    return check_run_image_platforms(loaded, platforms, served)
