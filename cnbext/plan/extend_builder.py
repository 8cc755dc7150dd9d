"""Planning ``cnbext extend-builder``: extend a builder and its run image together.

Pure, like the other planners. The builder gets the build-scope packages and, when the run
image is extended, a small layer with /cnb/run.toml and /cnb/stack.toml plus a rewritten
io.buildpacks.builder.metadata that name the new run image and its mirrors; every other field
of the metadata survives, including ones cnbext does not know.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cnbext.cnb.builder_layout import RunImage, rewrite_run_image, run_image_files, run_images_of
from cnbext.cnb.dockerfile import install_lines, restore_user_lines
from cnbext.cnb.extender import ExtensionPlans, applied_extensions
from cnbext.cnb.labels import (
    BUILDER_METADATA,
    EXTEND_METADATA,
    encode_json_label,
)
from cnbext.cnb.provenance import RunImageRecord
from cnbext.config.builder import scope_problem
from cnbext.config.extend_builder import ExtendBuilderConfig
from cnbext.errors import ImageError, UsageError
from cnbext.plan.builder_options import BuilderOptions
from cnbext.plan.builder_run_image import (
    check_run_image_flags,
    check_run_image_request,
    plan_extended_run_image,
    with_run_image_provenance,
)
from cnbext.plan.extend import (
    apply_extension_plan,
    base_build_args,
    check_lock_flags,
    check_publish_flags,
    image_build,
    plan_packages,
)
from cnbext.plan.facts import BaseImage, ImageFacts
from cnbext.plan.model import ExtendedBuilderDetails, ImageBuild, Plan
from cnbext.plan.provenance import base_record, extensions_of, image_provenance, with_provenance


def check_options(options: BuilderOptions, config: ExtendBuilderConfig) -> None:
    if not options.names:
        raise UsageError("give the extended builder's NAME")
    check_publish_flags(
        publish=options.publish,
        pull_policy=options.pull_policy,
        platforms=options.platforms,
        sign_key=options.sign_key,
    )
    check_lock_flags(options.lock, options.locked)
    check_run_image_flags(
        run_image=options.run_image,
        mirrors=options.run_image_mirrors,
        run_metadata=config.run_metadata,
        run_table=config.has_run_table,
        config_name="extend-builder.toml",
        has_extensions=bool(config.extensions or options.extensions),
    )


@dataclass(frozen=True)
class BuilderFacts:
    """What a builder says about itself, from io.buildpacks.builder.metadata."""

    metadata: dict[str, object]
    run_images: tuple[RunImage, ...]

    @property
    def run_image(self) -> str:
        return self.run_images[0].image


def read_builder(base: BaseImage) -> BuilderFacts:
    raw = base.labels.get(BUILDER_METADATA)
    if not raw:
        raise ImageError(
            f"{base.reference} is not a builder: it has no {BUILDER_METADATA} label",
            hint="extend a builder made by pack or cnbext create-builder; for any other "
            "image use cnbext extend",
        )
    try:
        metadata = json.loads(raw)
    except json.JSONDecodeError as err:
        raise ImageError(f"{base.reference}: {BUILDER_METADATA} is not JSON ({err})") from None
    if not isinstance(metadata, dict):
        raise ImageError(f"{base.reference}: {BUILDER_METADATA} is not a JSON object")
    run_images = run_images_of(metadata)
    if not run_images:
        raise ImageError(
            f"{base.reference}: its builder metadata names no run image (neither images nor "
            "stack.runImage)"
        )
    return BuilderFacts(metadata, tuple(run_images))


def plan_extend_builder(
    config: ExtendBuilderConfig, options: BuilderOptions, facts: ImageFacts
) -> Plan:
    """The plan for ``cnbext extend-builder``; ``options`` were checked by
    :func:`check_options`. ``facts.base`` is the builder, ``facts.run`` its run image when
    --run-image extends it."""
    builder_base, extensions = facts.base, facts.extensions
    builder_facts = read_builder(builder_base)
    build_metadata = _build_metadata(config, options, extensions)
    run_images, run_build, labels = _run_image(config, options, facts, builder_facts)
    files = run_image_files(run_images) if options.run_image is not None else {}
    builder = _builder_build(config, options, builder_base, build_metadata, labels, files)
    if extensions and extensions.build.steps:
        builder = apply_extension_plan(
            builder,
            extensions.build,
            build_id=options.build_id,
            app_dir=options.app_dir,
            metadata=build_metadata,
        )
    builder, run_build = _with_provenance(
        config, options, (builder_base, builder), (facts.run, run_build), builder_facts, extensions
    )
    return Plan(
        command="extend-builder",
        builds=(run_build, builder) if run_build is not None else (builder,),
        publish=options.publish,
        pull_policy=options.pull_policy,
        sbom=options.sbom,
        sign_key=options.sign_key,
        warnings=(
            *(str(w) for w in config.warnings),
            *(extensions.warnings if extensions else ()),
        ),
        details=ExtendedBuilderDetails(
            original=builder_base.reference,
            original_run_image=builder_facts.run_images[0],
            run_images=tuple(run_images),
            files=files,
        ),
    )


def _run_image(
    config: ExtendBuilderConfig,
    options: BuilderOptions,
    facts: ImageFacts,
    builder_facts: BuilderFacts,
) -> tuple[list[RunImage], ImageBuild | None, dict[str, str]]:
    """The builder's run images; with --run-image, the extended one first, its build, and
    the builder metadata label naming it."""
    run_images = list(builder_facts.run_images)
    if options.run_image is None:
        return run_images, None, {}
    run_images[0] = RunImage(options.run_image, options.run_image_mirrors)
    labels = {
        BUILDER_METADATA: encode_json_label(
            rewrite_run_image(builder_facts.metadata, run_images[0])
        )
    }
    run_build = plan_extended_run_image(
        scope_problem(config.source, config.pins, "run"), facts, config.run_metadata, options
    )
    return run_images, run_build, labels


def _build_metadata(
    config: ExtendBuilderConfig, options: BuilderOptions, extensions: ExtensionPlans | None
) -> dict[str, Any]:
    """The builder's own metadata (build scope plus applied extensions), once the run image
    request is known to make sense with what the extensions generated."""
    build_steps = extensions.build.steps if extensions else ()
    run_steps = extensions.run.steps if extensions else ()
    check_run_image_request(
        run_image=options.run_image,
        run_steps=run_steps,
        config_changes_run=bool(config.run_metadata),
        config_name="extend-builder.toml",
    )
    build_metadata = dict(config.build_metadata)
    if build_steps and extensions:
        build_metadata["extensions"] = applied_extensions(extensions.build)
    if not build_metadata and options.run_image is None:
        raise UsageError(
            "nothing to do: extend-builder.toml has no metadata for the builder, no "
            "extension changes it, and no --run-image is given"
        )
    return build_metadata


def _builder_build(
    config: ExtendBuilderConfig,
    options: BuilderOptions,
    builder_base: BaseImage,
    build_metadata: dict[str, Any],
    labels: dict[str, str],
    files: dict[str, str],
) -> ImageBuild:
    """The builder: build-scope packages installed as root, the rewritten /cnb/*.toml
    ``files`` copied in, then the builder's own user (the CNB user) restored."""
    lines = ["# Generated by cnbext: extend builder", "ARG base_image", "FROM ${base_image}"]
    install = None
    if build_metadata:
        install = plan_packages(
            builder_base,
            build_metadata,
            scope_problem(config.source, config.pins, "build"),
        )
        labels = {EXTEND_METADATA: install.labels[EXTEND_METADATA], **labels}
        if install.install_command is not None:
            lines += install_lines(install.install_command)
    if files:
        lines.append("COPY --link files/ /")
    build_args = base_build_args(builder_base, options.build_id, options.source_date_epoch)
    lines += [*restore_user_lines(user_has_group=bool(build_args["group_id"])), ""]
    return image_build(
        builder_base,
        install,
        role="builder",
        dockerfile="\n".join(lines),
        build_args=build_args,
        labels=labels,
        names=options.names,
        platforms=options.platforms,
        context_files={f"files/{path}": text for path, text in files.items()},
    )


def _with_provenance(
    config: ExtendBuilderConfig,
    options: BuilderOptions,
    builder_pair: tuple[BaseImage, ImageBuild],
    run_pair: tuple[BaseImage | None, ImageBuild | None],
    facts: BuilderFacts,
    extensions: ExtensionPlans | None,
) -> tuple[ImageBuild, ImageBuild | None]:
    """Both images record the builder's round: the builder names its run image's base and
    names, the run image its own base, so either can be checked on its own."""
    builder_base, builder = builder_pair
    run_base, run_build = run_pair
    records = extensions_of(
        (*config.extensions, *options.extensions),
        config.source_dir,
        applied_extensions(extensions.build) + applied_extensions(extensions.run)
        if extensions
        else None,
    )
    run_record = None
    if run_build is not None and run_base is not None and options.run_image is not None:
        run_record = RunImageRecord(
            options.run_image,
            options.run_image_mirrors,
            base_record(run_base, facts.run_image),
            dict(config.run_metadata),
        )
        run_build = with_run_image_provenance(
            run_build,
            command="extend-builder",
            base=run_base,
            given=facts.run_image,
            run_metadata=config.run_metadata,
            records=records,
            options=options,
        )
    builder = with_provenance(
        builder,
        image_provenance(
            command="extend-builder",
            role="builder",
            base=builder_base,
            given=str(config.image),
            platforms=options.platforms,
            metadata=config.build_metadata,
            extensions=records,
            build_id=options.build_id,
            run_image=run_record,
            platform_env=options.platform_env,
            app_dir=options.app_dir,
        ),
    )
    return builder, run_build
