"""The ``create_builder`` use case: a builder from pack's builder.toml plus [extend]."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from cnbext.client.builder_inputs import gather_builder_inputs, select_platforms
from cnbext.client.facts import gather_image_facts
from cnbext.client.origin import with_digests
from cnbext.client.progress import Reporter
from cnbext.client.usecase import Result, normalize_builder_options, run_use_case
from cnbext.config.builder import BuilderConfig, load_builder_config
from cnbext.engine.protocol import Engine
from cnbext.plan.create_builder import BuilderOptions, check_options, plan_create_builder
from cnbext.plan.model import Plan


def create_builder(
    config: str | os.PathLike[str] | BuilderConfig,
    options: BuilderOptions,
    *,
    dry_run: bool = False,
    reporter: Reporter | None = None,
    engine: Engine | None = None,
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
    # The targets (options.targets, else [[targets]]) decide the platforms, as pack decides.
    options = replace(options, platforms=select_platforms(loaded, options))
    check_options(options, loaded)

    def plan_with(engine: Engine, reporter: Reporter, work_dir: Path) -> Plan:
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
        inputs = gather_builder_inputs(engine, reporter, loaded, options, facts, work_dir)
        # The extensions' content digests, for the provenance label.
        config = replace(
            loaded,
            extend_extensions=with_digests(loaded.extend_extensions, loaded.base_dir, engine),
        )
        requests = with_digests(options.extensions, Path.cwd(), engine)
        return plan_create_builder(config, replace(options, extensions=requests), facts, inputs)

    return run_use_case(
        plan_with,
        engine=engine,
        reporter=reporter,
        network=options.network,
        dry_run=dry_run,
        work_prefix="cnbext-builder-",
    )
