"""The provenance of ``create-builder``'s images (see cnbext.cnb.provenance). Pure."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cnbext.cnb.provenance import BaseRecord, RunImageRecord, safe_uri
from cnbext.plan.builder_run_image import with_run_image_provenance
from cnbext.plan.model import ImageBuild
from cnbext.plan.provenance import base_record, extensions_of, image_provenance, with_provenance

if TYPE_CHECKING:
    from cnbext.config.builder import BuilderConfig
    from cnbext.plan.builder_options import BuilderInputs, BuilderOptions
    from cnbext.plan.facts import ImageFacts


def create_builder_provenance(
    config: BuilderConfig,
    options: BuilderOptions,
    facts: ImageFacts,
    inputs: BuilderInputs,
    builds: tuple[ImageBuild, ImageBuild | None],
) -> tuple[ImageBuild, ImageBuild | None]:
    """The builder records its build image, run image (base, names) and lifecycle; an extended
    run image records its own base."""
    builder, run_build = builds
    given_run = config.run_images[0].image
    records = extensions_of((*config.extend_extensions, *options.extensions), config.base_dir, None)
    if run_build is not None and facts.run is not None:
        run_build = with_run_image_provenance(
            run_build,
            command="create-builder",
            base=facts.run,
            given=given_run,
            run_metadata=config.extend_run,
            records=records,
            options=options,
        )
    run_record = RunImageRecord(
        options.run_image or given_run,
        options.run_image_mirrors if options.run_image else config.run_images[0].mirrors,
        _run_base_record(facts, inputs, given_run),
        dict(config.extend_run) if options.run_image else {},
    )
    builder = with_provenance(
        builder,
        image_provenance(
            command="create-builder",
            role="builder",
            base=facts.base,
            given=config.build_image,
            platforms=options.platforms,
            metadata=config.extend_build,
            extensions=records,
            build_id=options.build_id,
            run_image=run_record,
            lifecycle=_lifecycle_record(config, inputs),
            platform_env=options.platform_env,
            app_dir=options.app_dir,
        ),
    )
    return builder, run_build


def _run_base_record(facts: ImageFacts, inputs: BuilderInputs, given_run: str) -> BaseRecord:
    if facts.run is not None:
        return base_record(facts.run, given_run)
    if inputs.run_origin is not None:
        origin = inputs.run_origin
        return BaseRecord(given_run, origin.digest, dict(origin.platforms))
    return BaseRecord(given_run)


def _lifecycle_record(config: BuilderConfig, inputs: BuilderInputs) -> dict[str, Any]:
    """The lifecycle used, and what was asked for: only a default one can move under a
    builder (a newer cnbext defaults to a newer release)."""
    lifecycle = next(iter(inputs.lifecycles.values()))
    source = config.lifecycle
    requested: dict[str, Any] = {"default": True}
    if source and source.version:
        requested = {"version": source.version}
    elif source and source.uri:
        requested = {"uri": safe_uri(source.uri)}  # the label is public: no credentials
    return {"version": lifecycle.version, "requested": requested}
