"""What every use case shares: checked names, a work folder, an engine, dry run or apply.

A use case (extend, extend_builder, create_builder) gives :func:`run_use_case` a function that
gathers facts and plans; this module runs it in a temporary work folder (removed on success,
failure and Ctrl-C) and then either returns the plan (dry run) or applies it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from cnbext.client.extension_chain import build_plan_steps
from cnbext.client.facts import gather_image_facts
from cnbext.client.installed import with_installed_packages
from cnbext.client.names import keep_names, normalize_names
from cnbext.client.origin import with_digests
from cnbext.client.publish import ImageResult, apply_plan, nothing_published
from cnbext.client.work_folder import work_folder
from cnbext.config.extend import ExtendConfig
from cnbext.config.extend_builder import ExtendBuilderConfig
from cnbext.config.extension_request import ExtensionRequest
from cnbext.engine.protocol import Engine
from cnbext.engine.settings import EngineSettings
from cnbext.errors import CnbextError
from cnbext.plan.builder_options import BuilderOptions
from cnbext.plan.extend import ExtendOptions
from cnbext.plan.facts import BaseImage, ImageFacts
from cnbext.plan.model import Plan
from cnbext.plan.provenance import with_request
from cnbext.progress import Reporter, SilentReporter


@dataclass(frozen=True)
class Result:
    """What a use case did: its plan, and the images it made (none on a dry run)."""

    plan: Plan
    images: tuple[ImageResult, ...] = ()
    dry_run: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The JSON document ``--output json`` prints."""
        if self.dry_run:
            return {"dryRun": True, "plan": self.plan.to_dict()}
        return {
            "command": self.plan.command,
            "images": [image.to_dict() for image in self.images],
            "warnings": list(self.plan.warnings),
        }


PlanWith = Callable[[Engine, Reporter, Path], Plan]
Options = TypeVar("Options", ExtendOptions, BuilderOptions)
ImageConfig = TypeVar("ImageConfig", ExtendConfig, ExtendBuilderConfig)


def run_use_case(
    plan_with: PlanWith,
    request: Mapping[str, Any],
    *,
    engine: Engine | None,
    settings: EngineSettings | None,
    reporter: Reporter | None,
    dry_run: bool,
    work_prefix: str,
) -> Result:
    """Plan with ``plan_with(engine, reporter, work_dir)``, record ``request``
    (cnbext.plan.request) in every image's provenance, then apply unless ``dry_run``. Without
    an ``engine``, the Docker engine ``settings`` name is used (and must answer). The
    request's ``lock`` option (--lock FILE) is where what was resolved is written; with its
    ``locked``, each locked version that is gone is named (cnbext.client.lock)."""
    from cnbext.client.lock import run_with_lock

    reporter = reporter if reporter is not None else SilentReporter()
    if engine is None:
        engine = docker_engine(reporter, settings)
    options = request.get("options") or {}
    apply = partial(
        _plan_and_apply, request=request, engine=engine, reporter=reporter, dry_run=dry_run
    )
    return run_with_lock(
        lambda planner: apply(planner, work_prefix),
        plan_with,
        lock=Path(options["lock"]) if options.get("lock") else None,
        locked=bool(options.get("locked")),
        dry_run=dry_run,
    )


def _plan_and_apply(
    plan_with: PlanWith,
    work_prefix: str,
    *,
    request: Mapping[str, Any],
    engine: Engine,
    reporter: Reporter,
    dry_run: bool,
) -> Result:
    with work_folder(work_prefix, reporter) as work_dir:
        plan = with_request(plan_with(engine, reporter, Path(work_dir)), request)
        if dry_run:
            return Result(plan, dry_run=True)
        for warning in plan.warnings:
            reporter.warn(warning)
        try:
            # Image extension steps first, into the work dir (removed on any exit, Ctrl-C
            # too); what the builds install is read before anything is published.
            built = build_plan_steps(engine, reporter, plan, Path(work_dir) / "steps")
            built = with_installed_packages(engine, built, Path(work_dir))
        except CnbextError as err:
            raise nothing_published(err, plan) if plan.publish else err from None
        images = apply_plan(engine, built)
        if plan.publish:
            keep_names(engine, reporter, images)
        return Result(plan, images)


def image_config_planner(
    loaded: ImageConfig,
    options: Options,
    planner: Callable[[ImageConfig, Options, ImageFacts], Plan],
    *,
    run_image_of: Callable[[BaseImage], str] | None,
    extend_run: bool,
) -> PlanWith:
    """The planning of a command whose config names one image (extend, extend-builder):
    gather the facts of ``loaded.image``, then plan with the extensions' digests."""

    def plan_with(engine: Engine, reporter: Reporter, work_dir: Path) -> Plan:
        facts = gather_image_facts(
            engine,
            reporter,
            options,
            image=str(loaded.image),
            run_image_of=run_image_of,
            extend_run=extend_run,
            config_extensions=loaded.extensions,
            base_dir=loaded.source_dir,
            work_dir=work_dir,
        )
        return plan_with_digests(
            engine,
            options,
            loaded.extensions,
            loaded.source_dir,
            lambda digested, planned: planner(replace(loaded, extensions=digested), planned, facts),
        )

    return plan_with


def plan_with_digests(
    engine: Engine,
    options: Options,
    configured: Sequence[ExtensionRequest],
    base_dir: Path,
    planner: Callable[[tuple[ExtensionRequest, ...], Options], Plan],
) -> Plan:
    """``planner(configured, options)`` with each extension's content digest filled in, for
    the provenance label: the config's ``configured`` ones resolved from ``base_dir``, the
    requested ``options.extensions`` from the working folder."""
    digested = with_digests(configured, base_dir, engine)
    requests = with_digests(options.extensions, Path.cwd(), engine)
    return planner(digested, replace(options, extensions=requests))


def docker_engine(reporter: Reporter, settings: EngineSettings | None = None) -> Engine:
    """The Docker engine ``settings`` name; it must answer."""
    # Imported here so that nothing that never reaches Docker imports its client.
    from cnbext.engine.docker import DockerEngine

    engine = DockerEngine(reporter, settings)
    engine.ensure_available()
    return engine


def normalize_builder_options(options: BuilderOptions) -> BuilderOptions:
    """The builder commands' image names normalized (bad ones refused, before any work)."""
    return replace(
        options,
        names=normalize_names(options.names),
        run_image=normalize_names([options.run_image])[0] if options.run_image else None,
        run_image_mirrors=normalize_names(options.run_image_mirrors),
    )
