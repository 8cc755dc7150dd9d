"""The ``extend_builder`` use case: extend a builder and, with ``run_image``, its run image."""

from __future__ import annotations

import os
from pathlib import Path

from cnbext.client.lock import as_locked
from cnbext.client.usecase import (
    Result,
    image_config_planner,
    normalize_builder_options,
    run_use_case,
)
from cnbext.config.extend_builder import ExtendBuilderConfig, load_extend_builder_config
from cnbext.engine.protocol import Engine
from cnbext.engine.settings import EngineSettings
from cnbext.plan.builder_options import BuilderOptions
from cnbext.plan.extend_builder import check_options, plan_extend_builder, read_builder
from cnbext.plan.facts import BaseImage
from cnbext.plan.request import record_request
from cnbext.progress import Reporter


def extend_builder(
    config: str | os.PathLike[str] | ExtendBuilderConfig,
    options: BuilderOptions,
    *,
    dry_run: bool = False,
    reporter: Reporter | None = None,
    engine: Engine | None = None,
    settings: EngineSettings | None = None,
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
    request = record_request("extend-builder", options, loaded.source.data(), loaded.source_dir)
    # Recorded as written above: an upgrade reads the lock again.
    loaded = as_locked(loaded, options, extend_run=options.run_image is not None)

    def run_image_of(builder: BaseImage) -> str:
        return read_builder(builder).run_image

    plan_with = image_config_planner(
        loaded,
        options,
        plan_extend_builder,
        run_image_of=run_image_of,
        extend_run=options.run_image is not None,
    )
    return run_use_case(
        plan_with,
        request,
        engine=engine,
        settings=settings,
        reporter=reporter,
        dry_run=dry_run,
        work_prefix="cnbext-extend-builder-",
    )
