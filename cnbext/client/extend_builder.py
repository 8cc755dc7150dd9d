"""The ``extend_builder`` use case: extend a builder and, with ``run_image``, its run image."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from cnbext.client.facts import gather_image_facts
from cnbext.client.progress import Reporter
from cnbext.client.usecase import (
    Result,
    normalize_builder_options,
    plan_with_digests,
    run_use_case,
)
from cnbext.config.extend_builder import ExtendBuilderConfig, load_extend_builder_config
from cnbext.engine.models import BaseImage
from cnbext.engine.protocol import Engine
from cnbext.plan.create_builder import BuilderOptions
from cnbext.plan.extend_builder import check_options, plan_extend_builder, read_builder
from cnbext.plan.model import Plan


def extend_builder(
    config: str | os.PathLike[str] | ExtendBuilderConfig,
    options: BuilderOptions,
    *,
    dry_run: bool = False,
    reporter: Reporter | None = None,
    engine: Engine | None = None,
) -> Result:
    """Extend the builder an extend-builder.toml names (a path, or one already loaded) and
    save it as ``options.names[0]``; with ``options.run_image``, extend its run image too and
    publish that (and its mirrors) first. With ``dry_run``, only read and plan."""
    options = normalize_builder_options(options)
    loaded = (
        config
        if isinstance(config, ExtendBuilderConfig)
        else load_extend_builder_config(Path(config), os.fspath(config))
    )
    check_options(options, loaded)

    def run_image_of(builder: BaseImage) -> str:
        return read_builder(builder).run_image

    def plan_with(engine: Engine, reporter: Reporter, work_dir: Path) -> Plan:
        facts = gather_image_facts(
            engine,
            reporter,
            options,
            image=str(loaded.image),
            run_image_of=run_image_of,
            extend_run=options.run_image is not None,
            config_extensions=loaded.extensions,
            base_dir=loaded.source_dir,
            work_dir=work_dir,
        )
        return plan_with_digests(
            engine,
            options,
            loaded.extensions,
            loaded.source_dir,
            lambda digested, planned: plan_extend_builder(
                replace(loaded, extensions=digested), planned, facts
            ),
        )

    return run_use_case(
        plan_with,
        engine=engine,
        reporter=reporter,
        network=options.network,
        context=options.context,
        builder=options.builder,
        dry_run=dry_run,
        work_prefix="cnbext-extend-builder-",
    )
