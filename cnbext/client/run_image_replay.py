"""Upgrading a builder command's run image by its own name: its part of the request, alone.

extend-builder and create-builder record their request whole in the run image they extend as
well as in the builder (cnbext.plan.request). ``cnbext upgrade RUN_IMAGE`` replays that
request's run image part only: the recorded config is read as the command reads it, the facts
are gathered as the command gathers them (the builder, or the build image, in which the
extensions detect and generate; the run image's base, as the builder or builder.toml names
it), and the run image is planned by the command's own planner (cnbext.plan.builder_run_image)
and saved as the recorded --run-image and every --run-image-mirror. No builder is built: the
builders that name the run image name it by tag, so they use the new one as it is published.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnbext.client.lock import as_locked
from cnbext.client.replay import recorded_config, replay_overrides, warn_unknown
from cnbext.client.usecase import (
    PlanWith,
    Result,
    normalize_builder_options,
    plan_with_digests,
    run_use_case,
)
from cnbext.cnb.provenance import Provenance
from cnbext.config.extension_request import ExtensionRequest
from cnbext.plan.builder_options import BuilderOptions
from cnbext.plan.builder_run_image import plan_run_image_alone
from cnbext.plan.model import Plan
from cnbext.plan.provenance import extensions_of
from cnbext.plan.request import record_request, replay_options
from cnbext.progress import Reporter

if TYPE_CHECKING:
    from cnbext.client.upgrade_model import UpgradeOptions
    from cnbext.engine.protocol import Engine


def replay_run_image(
    names: tuple[str, ...],
    provenance: Provenance,
    options: UpgradeOptions,
    extensions: tuple[ExtensionRequest, ...],
    work: Path,
    reporter: Reporter,
    engine: Engine | None,
) -> Result:
    """The run image ``provenance`` records, made again from its recorded request with the
    upgrade's own choices over it, and saved under the recorded run image and mirror names
    (plus any other of ``names`` it was saved as)."""
    assert provenance.request is not None
    request = provenance.request
    command = str(request.get("command") or provenance.command)
    recorded, overrides = replay_overrides(names, provenance, options, extensions)
    warn_unknown(reporter, names[0], BuilderOptions, recorded)
    builder_options = normalize_builder_options(
        replay_options(BuilderOptions, recorded, **overrides)
    )
    run_image = builder_options.run_image or names[0]
    saved = (run_image, *builder_options.run_image_mirrors)
    builder_options = replace(
        builder_options,
        run_image=run_image,
        run_image_mirrors=(*saved[1:], *(n for n in names if n not in saved)),
    )
    # A create-builder run image never needs the modules: the recorded document as it is.
    path = recorded_config(names[0], command, request, options, work, None, reporter)
    if command == "extend-builder":
        plan_with, recorded_request = _extend_builder_part(path, builder_options)
    else:
        plan_with, recorded_request = _create_builder_part(path, builder_options)
    return run_use_case(
        plan_with,
        recorded_request,
        engine=engine,
        settings=None,
        reporter=reporter,
        dry_run=False,
        work_prefix="cnbext-run-image-",
    )


def _extend_builder_part(path: Path, options: BuilderOptions) -> tuple[PlanWith, dict[str, Any]]:
    from cnbext.client.facts import gather_image_facts
    from cnbext.config.extend_builder import load_extend_builder_config
    from cnbext.plan.extend_builder import read_builder

    loaded = load_extend_builder_config(path, f"recorded {path.name}")
    request = record_request("extend-builder", options, loaded.source.data(), loaded.source_dir)
    # With --locked recorded, the run scope installs exactly the lock's run-image pins.
    loaded = as_locked(loaded, options, extend_run=True)

    def plan_with(engine: Engine, reporter: Reporter, work_dir: Path) -> Plan:
        facts = gather_image_facts(
            engine,
            reporter,
            options,
            image=str(loaded.image),
            run_image_of=lambda builder: read_builder(builder).run_image,
            extend_run=True,
            config_extensions=loaded.extensions,
            base_dir=loaded.source_dir,
            work_dir=work_dir,
        )
        plans = facts.extensions
        applied = None
        if plans is not None:
            from cnbext.cnb.extender import applied_extensions

            applied = applied_extensions(plans.build) + applied_extensions(plans.run)
        return plan_with_digests(
            engine,
            options,
            loaded.extensions,
            loaded.source_dir,
            lambda digested, planned: plan_run_image_alone(
                "extend-builder",
                loaded.source,
                facts,
                given=read_builder(facts.base).run_image,
                run_metadata=loaded.run_metadata,
                records=extensions_of((*digested, *planned.extensions), loaded.source_dir, applied),
                options=planned,
                warnings=[str(w) for w in loaded.warnings],
                pins=loaded.pins,
            ),
        )

    return plan_with, request


def _create_builder_part(path: Path, options: BuilderOptions) -> tuple[PlanWith, dict[str, Any]]:
    from cnbext.client.builder_inputs import select_platforms
    from cnbext.client.facts import gather_image_facts
    from cnbext.config.builder import load_builder_config

    loaded = load_builder_config(path, f"recorded {path.name}")
    request = record_request("create-builder", options, loaded.source.data(), loaded.base_dir)
    # The targets decide the platforms, as create-builder decides them.
    options = replace(options, platforms=select_platforms(loaded, options))
    # With --locked recorded, the run scope installs exactly the lock's run-image pins.
    loaded = as_locked(loaded, options, extend_run=True)
    given = loaded.run_images[0].image

    def plan_with(engine: Engine, reporter: Reporter, work_dir: Path) -> Plan:
        facts = gather_image_facts(
            engine,
            reporter,
            options,
            image=loaded.build_image,
            run_image_of=lambda _build_image: given,
            extend_run=True,
            config_extensions=loaded.extend_extensions,
            base_dir=loaded.base_dir,
            work_dir=work_dir,
        )
        return plan_with_digests(
            engine,
            options,
            loaded.extend_extensions,
            loaded.base_dir,
            lambda digested, planned: plan_run_image_alone(
                "create-builder",
                loaded.source,
                facts,
                given=given,
                run_metadata=loaded.extend_run,
                records=extensions_of((*digested, *planned.extensions), loaded.base_dir, None),
                options=planned,
                warnings=[str(w) for w in loaded.warnings],
                pins=loaded.pins,
            ),
        )

    return plan_with, request
