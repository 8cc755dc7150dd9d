"""The provenance of ``create-builder``'s images (see cnbext.cnb.provenance). Pure."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cnbext.cnb.provenance import BaseRecord, RunImageRecord
from cnbext.plan.model import ImageBuild
from cnbext.plan.provenance import base_record, extensions_of, image_provenance, with_provenance

if TYPE_CHECKING:
    from cnbext.config.builder import BuilderConfig
    from cnbext.plan.create_builder import BuilderInputs, BuilderOptions


def create_builder_provenance(
    config: BuilderConfig,
    options: BuilderOptions,
    inputs: BuilderInputs,
    builder: ImageBuild,
    run_build: ImageBuild | None,
) -> tuple[ImageBuild, ImageBuild | None]:
    """The builder records its build image, run image (base, names) and lifecycle; an extended
    run image records its own base."""
    given_run = config.run_images[0].image
    if inputs.run_base is not None:
        run_base_record = base_record(inputs.run_base, given_run)
    elif inputs.run_origin is not None:
        origin = inputs.run_origin
        run_base_record = BaseRecord(given_run, origin.digest, dict(origin.platforms))
    else:
        run_base_record = BaseRecord(given_run)
    records = extensions_of((*config.extend_extensions, *options.extensions), config.base_dir, None)
    if run_build is not None and inputs.run_base is not None:
        run_build = with_provenance(
            run_build,
            image_provenance(
                command="create-builder",
                role="run image",
                base=inputs.run_base,
                given=given_run,
                platforms=options.platforms,
                metadata=config.extend_run,
                extensions=records,
                build_id=options.build_id,
            ),
        )
    run_record = RunImageRecord(
        options.run_image or given_run,
        options.run_image_mirrors if options.run_image else config.run_images[0].mirrors,
        run_base_record,
        dict(config.extend_run) if options.run_image else {},
    )
    lifecycle = next(iter(inputs.lifecycles.values()))
    source = config.lifecycle
    lifecycle_record: dict[str, Any] = {
        "version": lifecycle.version,
        "requested": (
            {"version": source.version}
            if source and source.version
            else {"uri": source.uri}
            if source and source.uri
            else {"default": True}
        ),
    }
    builder = with_provenance(
        builder,
        image_provenance(
            command="create-builder",
            role="builder",
            base=inputs.build_base,
            given=config.build_image,
            platforms=options.platforms,
            metadata=config.extend_build,
            extensions=records,
            build_id=options.build_id,
            run_image=run_record,
            lifecycle=lifecycle_record,
        ),
    )
    return builder, run_build
