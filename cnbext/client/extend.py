"""The ``extend`` use case: extend any image with OS packages and image extensions."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from cnbext.client.facts import gather_image_facts
from cnbext.client.progress import Reporter
from cnbext.client.usecase import Result, normalize_names, plan_with_digests, run_use_case
from cnbext.config.extend import ExtendConfig, load_extend_config
from cnbext.engine.protocol import Engine
from cnbext.plan.extend import ExtendOptions, check_options, plan_extend
from cnbext.plan.model import Plan


def extend(
    config: str | os.PathLike[str] | ExtendConfig,
    options: ExtendOptions,
    *,
    dry_run: bool = False,
    reporter: Reporter | None = None,
    engine: Engine | None = None,
) -> Result:
    """Extend ``[extend] image`` of an extend.toml (a path, or one already loaded) and save it
    under ``options.names``; with ``dry_run``, only read the image and return the plan."""
    options = replace(options, names=normalize_names(options.names))
    check_options(options)
    loaded = config if isinstance(config, ExtendConfig) else _load(config)

    def plan_with(engine: Engine, reporter: Reporter, work_dir: Path) -> Plan:
        facts = gather_image_facts(
            engine,
            reporter,
            options,
            image=str(loaded.image),
            run_image_of=None,
            extend_run=False,
            config_extensions=loaded.extensions,
            base_dir=loaded.source_dir,
            work_dir=work_dir,
        )
        return plan_with_digests(
            engine,
            options,
            loaded.extensions,
            loaded.source_dir,
            lambda digested, planned: plan_extend(
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
        work_prefix="cnbext-extend-",
    )


def _load(path: str | os.PathLike[str]) -> ExtendConfig:
    return load_extend_config(Path(path), os.fspath(path))
