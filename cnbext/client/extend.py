"""The ``extend`` use case: extend any image with OS packages and image extensions."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from cnbext.client.lock import locked_config
from cnbext.client.names import normalize_names
from cnbext.client.usecase import Result, image_config_planner, run_use_case
from cnbext.config.extend import ExtendConfig, load_extend_config
from cnbext.engine.protocol import Engine
from cnbext.engine.settings import EngineSettings
from cnbext.plan.extend import ExtendOptions, check_options, plan_extend
from cnbext.plan.request import record_request
from cnbext.progress import Reporter


def extend(
    config: str | os.PathLike[str] | ExtendConfig,
    options: ExtendOptions,
    *,
    dry_run: bool = False,
    reporter: Reporter | None = None,
    engine: Engine | None = None,
    settings: EngineSettings | None = None,
) -> Result:
    """Extend ``[extend] image`` of an extend.toml (a path, or one already loaded) and save it
    under ``options.names``; with ``dry_run``, only read the image and return the plan. The
    work runs on ``engine``, else on the Docker engine ``settings`` name."""
    options = replace(options, names=normalize_names(options.names))
    check_options(options)
    loaded = config if isinstance(config, ExtendConfig) else _load(config)
    # The request records the config as written; --locked replays the lock again.
    request = record_request("extend", options, loaded.source.data(), loaded.source_dir)
    if options.locked and options.lock is not None:
        loaded = locked_config(loaded, options.lock, options.platforms)
    plan_with = image_config_planner(
        loaded, options, plan_extend, run_image_of=None, extend_run=False
    )
    return run_use_case(
        plan_with,
        request,
        engine=engine,
        settings=settings,
        reporter=reporter,
        dry_run=dry_run,
        work_prefix="cnbext-extend-",
    )


def _load(path: str | os.PathLike[str]) -> ExtendConfig:
    return load_extend_config(Path(path), os.fspath(path))
