"""The run image of the builder commands: when it is extended (--run-image) and how.

Shared by create-builder and extend-builder: the run image is extended exactly when --run-image
names the result, with the extensions' run.Dockerfiles first, then the run scope's packages.
Upgrading such a run image by its own name plans it alone (:func:`plan_run_image_alone`),
from the same request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from cnbext.cnb.extender import applied_extensions
from cnbext.cnb.provenance import ExtensionRecord
from cnbext.config.builder import scope_problem
from cnbext.config.lock import LockedPins
from cnbext.config.toml_source import TomlSource
from cnbext.errors import ImageError, UsageError
from cnbext.plan.extend import PackageProblem, apply_extension_plan, plan_image_build
from cnbext.plan.model import ImageBuild, Plan
from cnbext.plan.provenance import image_provenance, with_provenance

if TYPE_CHECKING:
    from cnbext.plan.builder_options import BuilderOptions
    from cnbext.plan.facts import BaseImage, ImageFacts


def check_run_image_flags(
    *,
    run_image: str | None,
    mirrors: Sequence[str],
    run_metadata: Mapping[str, Any],
    run_table: bool,
    config_name: str,
    has_extensions: bool = False,
) -> None:
    """The run image is extended exactly when --run-image names the result. [extend.metadata]
    alone then extends only the builder; [extend.metadata.run] asks for the run image, so it
    needs --run-image."""
    if mirrors and run_image is None:
        raise UsageError("--run-image-mirror needs --run-image: mirrors of which image?")
    if run_table and run_image is None:
        raise UsageError(
            f"{config_name} has [extend.metadata.run]: give --run-image NAME for the extended "
            "run image",
            hint="the builder will name it (and each --run-image-mirror) as its run image",
        )
    # With extensions, whether one changes the run image is known only after generate.
    if run_image is not None and not run_metadata and not has_extensions:
        raise UsageError(
            f"--run-image names the extended run image, but {config_name} has no "
            "[extend.metadata] or [extend.metadata.run] to extend it with"
        )


def check_run_image_request(
    *, run_image: str | None, run_steps: Sequence[Any], config_changes_run: bool, config_name: str
) -> None:
    """After generate: the extensions' run.Dockerfiles need --run-image to name their result,
    and --run-image needs something (the config or a run.Dockerfile) to change the run image."""
    if run_steps and run_image is None:
        raise UsageError(
            "extensions generated run.Dockerfiles for the run image: give --run-image NAME "
            "for the extended run image"
        )
    if run_image is not None and not config_changes_run and not run_steps:
        raise UsageError(
            f"--run-image names the extended run image, but neither {config_name} nor any "
            "extension (no run.Dockerfile was generated) changes the run image"
        )


def plan_extended_run_image(
    package_problem: PackageProblem,
    facts: ImageFacts,
    run_metadata: Mapping[str, Any],
    options: BuilderOptions,
) -> ImageBuild:
    """The run image of a builder command (``facts.run``): extensions' run.Dockerfiles first,
    then the run scope's packages, saved as --run-image and every --run-image-mirror."""
    assert options.run_image is not None
    if facts.run is None:
        raise ImageError("the run image was not read; it is needed to extend it")
    run_base = facts.run
    run_plan = facts.extensions.run if facts.extensions else None
    metadata = dict(run_metadata)
    if run_plan is not None and run_plan.steps:
        metadata["extensions"] = applied_extensions(run_plan)
    build = plan_image_build(
        role="run image",
        base=run_base,
        metadata=metadata,
        names=(options.run_image, *options.run_image_mirrors),
        platforms=options.platforms,
        build_id=options.build_id,
        package_problem=package_problem,
        source_date_epoch=options.source_date_epoch,
    )
    if run_plan is None or not run_plan.steps:
        return build
    return apply_extension_plan(
        build, run_plan, build_id=options.build_id, app_dir=options.app_dir, metadata=metadata
    )


def with_run_image_provenance(
    run_build: ImageBuild,
    *,
    command: str,
    base: BaseImage,
    given: str,
    run_metadata: Mapping[str, Any],
    records: tuple[ExtensionRecord, ...],
    options: BuilderOptions,
) -> ImageBuild:
    """The extended run image records its own ``base`` (``given`` as the builder names it),
    and what its extensions saw (env, app folder), so it can be checked and redone alone."""
    return with_provenance(
        run_build,
        image_provenance(
            command=command,
            role="run image",
            base=base,
            given=given,
            platforms=options.platforms,
            metadata=run_metadata,
            extensions=records,
            build_id=options.build_id,
            platform_env=options.platform_env,
            app_dir=options.app_dir,
        ),
    )


def plan_run_image_alone(
    command: str,
    source: TomlSource,
    facts: ImageFacts,
    *,
    given: str,
    run_metadata: Mapping[str, Any],
    records: tuple[ExtensionRecord, ...],
    options: BuilderOptions,
    warnings: Sequence[str] = (),
    pins: LockedPins | None = None,
) -> Plan:
    """The run image part of a builder command's plan, on its own: the same checks, build and
    provenance as the command gives it, saved as --run-image and every mirror; no builder (the
    builders name it by tag). ``facts.base`` is where the extensions ran."""
    run_steps = facts.extensions.run.steps if facts.extensions else ()
    check_run_image_request(
        run_image=options.run_image,
        run_steps=run_steps,
        config_changes_run=bool(run_metadata),
        config_name=source.display_name,
    )
    if options.run_image is None:
        raise UsageError(f"the recorded {command} request extends no run image")
    build = plan_extended_run_image(
        scope_problem(source, pins, "run"), facts, run_metadata, options
    )
    assert facts.run is not None  # plan_extended_run_image refuses it otherwise
    build = with_run_image_provenance(
        build,
        command=command,
        base=facts.run,
        given=given,
        run_metadata=run_metadata,
        records=records,
        options=options,
    )
    return Plan(
        command=command,
        builds=(build,),
        publish=options.publish,
        pull_policy=options.pull_policy,
        sbom=options.sbom,
        sign_key=options.sign_key,
        warnings=(*warnings, *(facts.extensions.warnings if facts.extensions else ())),
    )
