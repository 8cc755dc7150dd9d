"""The run image of the builder commands: when it is extended (--run-image) and how.

Shared by create-builder and extend-builder: the run image is extended exactly when --run-image
names the result, with the extensions' run.Dockerfiles first, then the run scope's packages.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from cnbext.cnb.extender import applied_extensions
from cnbext.config.builder import scoped_package_problem
from cnbext.config.toml_source import TomlSource
from cnbext.errors import ImageError, UsageError
from cnbext.plan.extend import apply_extension_plan, plan_image_build
from cnbext.plan.model import ImageBuild

if TYPE_CHECKING:
    from cnbext.plan.builder_options import BuilderOptions
    from cnbext.plan.facts import ImageFacts


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
    source: TomlSource,
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
        package_problem=lambda i, why: scoped_package_problem(source, "run", i, why),
        source_date_epoch=options.source_date_epoch,
    )
    if run_plan is None or not run_plan.steps:
        return build
    return apply_extension_plan(
        build, run_plan, build_id=options.build_id, app_dir=options.app_dir, metadata=metadata
    )
