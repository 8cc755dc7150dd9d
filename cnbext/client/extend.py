"""The ``extend`` use case: extend any image with OS packages and image extensions."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from cnbext.client.lock import locked_config, run_locked, write_lock
from cnbext.client.names import normalize_names
from cnbext.client.usecase import Result, image_config_planner, run_use_case
from cnbext.config.extend import ExtendConfig, load_extend_config
from cnbext.engine.protocol import Engine
from cnbext.engine.settings import EngineSettings
from cnbext.plan.extend import ExtendOptions, check_options, plan_extend
from cnbext.plan.model import Plan
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
    planned: list[str | None] = []

    def run() -> Result:
        def recording(engine: Engine, reporter: Reporter, work_dir: Path) -> Plan:
            plan = plan_with(engine, reporter, work_dir)
            planned.append(plan.builds[0].package_manager)
            return plan

        return run_use_case(
            recording,
            request,
            engine=engine,
            settings=settings,
            reporter=reporter,
            dry_run=dry_run,
            work_prefix="cnbext-extend-",
        )

    if options.locked:
        return run_locked(run, lambda: planned[0] if planned else None)
    result = run()
    if options.lock is not None and not dry_run and result.plan.builds[0].packages:
        write_lock(options.lock, result)
    return result


def _load(path: str | os.PathLike[str]) -> ExtendConfig:
    return load_extend_config(Path(path), os.fspath(path))
