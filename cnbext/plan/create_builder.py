"""Planning ``cnbext create-builder``: builder.toml + flags + facts -> a Plan.

Pure: the client gathers the facts (base images read by the engine, modules and lifecycle
fetched and staged, each module layer's diffID) and this module decides everything else, with
pack's checks and messages, located in builder.toml.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cnbext.cnb.builder_layout import (
    BuildEnvFile,
    BuilderContents,
    ModuleLayer,
    RunImage,
    cnb_files,
)
from cnbext.cnb.extender import applied_extensions
from cnbext.cnb.labels import (
    EXTEND_METADATA,
    STACK_ID,
)
from cnbext.config.builder import (
    BuilderConfig,
    has_run_table,
    scope_problem,
)
from cnbext.errors import UsageError
from cnbext.plan.builder_image import (
    BUILDER_LABELS,
    BUILDPACK_LAYERS,
    builder_dockerfile,
    builder_labels,
    check_build_image,
    existing_layers,
    previous_metadata,
)
from cnbext.plan.builder_modules import (
    EXTENSIONS_PLATFORM_API,
    FetchedModule,
    ResolvedModules,
    module_label,
    resolve_modules,
)
from cnbext.plan.builder_options import BuilderInputs, BuilderOptions
from cnbext.plan.builder_provenance import create_builder_provenance
from cnbext.plan.builder_run_image import (
    check_run_image_flags,
    check_run_image_request,
    plan_extended_run_image,
)
from cnbext.plan.extend import (
    PackageInstall,
    apply_extension_plan,
    base_build_args,
    check_lock_flags,
    check_publish_flags,
    image_build,
    plan_packages,
)
from cnbext.plan.facts import BaseImage, ImageFacts
from cnbext.plan.model import CreatedBuilderDetails, ImageBuild, Plan
from cnbext.sources.lifecycle import Lifecycle

__all__ = [
    "EXTENSIONS_PLATFORM_API",
    "FetchedModule",
    "check_options",
    "check_run_image_flags",
    "plan_create_builder",
    "plan_extended_run_image",
]


def check_options(options: BuilderOptions, config: BuilderConfig) -> None:
    if not options.names:
        raise UsageError("give the builder's NAME")
    reserved = sorted(BUILDER_LABELS & set(options.labels))
    if reserved:
        raise UsageError(
            f"--label {', '.join(reserved)}: cnbext writes this label; it says what the builder is"
        )
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
        run_metadata=config.extend_run,
        run_table=has_run_table(config.source),
        config_name="builder.toml",
        has_extensions=bool(config.extend_extensions or options.extensions),
    )


def plan_create_builder(
    config: BuilderConfig, options: BuilderOptions, facts: ImageFacts, inputs: BuilderInputs
) -> Plan:
    """The plan for ``cnbext create-builder``; ``options`` were checked by
    :func:`check_options`. ``facts.base`` is the build image, ``facts.run`` the run image when
    --run-image extends it."""
    user_id, group_id = check_build_image(config, facts.base)
    lifecycle = next(iter(inputs.lifecycles.values()))
    modules = resolve_modules(
        config,
        inputs.buildpacks,
        inputs.extensions,
        lifecycle,
        experimental=options.experimental,
    )
    _check_flatten(options, modules)
    run_images, run_build = _plan_run_images(config, options, facts)
    contents = _contents(config, facts, inputs, modules, lifecycle, run_images)
    builder = _builder_build(config, options, facts, inputs, modules, contents, bool(group_id))
    builder, run_build = create_builder_provenance(
        config, options, facts, inputs, (builder, run_build)
    )
    builds = (run_build, builder) if run_build is not None else (builder,)
    details = CreatedBuilderDetails(
        build_image=facts.base.reference,
        user=f"{user_id}:{group_id}",
        lifecycle=lifecycle.version,
        run_images=tuple(run_images),
        buildpacks=tuple(module_label(f.module) for f in modules.buildpacks),
        extensions=tuple(module_label(f.module) for f in modules.extensions),
        files=dict(cnb_files(contents)),
        flattened=options.flatten,
    )
    plans = facts.extensions
    return Plan(
        command="create-builder",
        builds=builds,
        publish=options.publish,
        pull_policy=options.pull_policy,
        sbom=options.sbom,
        sign_key=options.sign_key,
        warnings=(
            *(str(w) for w in config.warnings),
            *inputs.warnings,
            *_exec_env_warnings(config),
            *_suffix_warnings(options),
            *modules.warnings,
            *(plans.warnings if plans else ()),
        ),
        details=details,
    )


def _exec_env_warnings(config: BuilderConfig) -> tuple[str, ...]:
    # pack parses [[build.env]] exec-env but writes no file for it either.
    return tuple(
        f"{config.problem(env.path, 'exec-env is accepted but not yet written to the builder')}"
        for env in config.build_env
        if env.exec_env
    )


def _suffix_warnings(options: BuilderOptions) -> tuple[str, ...]:
    if not options.append_image_name_suffix:
        return ()
    if not options.publish:
        # pack's own words: the flag only means something when publishing.
        return ("--append-image-name-suffix will be ignored, use combined with --publish",)
    return ()


def _check_flatten(options: BuilderOptions, modules: ResolvedModules) -> None:
    """Every --flatten module must be on the builder: a typo would silently flatten nothing."""
    on_builder = {module_label(f.module) for f in (*modules.buildpacks, *modules.extensions)}
    missing = [m for group in options.flatten for m in group if m not in on_builder]
    if missing:
        raise UsageError(
            f"--flatten names {', '.join(missing)}, which the builder does not have",
            hint="modules on the builder: " + ", ".join(sorted(on_builder)),
        )


def _plan_run_images(
    config: BuilderConfig, options: BuilderOptions, facts: ImageFacts
) -> tuple[list[RunImage], ImageBuild | None]:
    """The run images the builder names, and the extended run image's build if any."""
    plans = facts.extensions
    run_steps = plans.run.steps if plans else ()
    check_run_image_request(
        run_image=options.run_image,
        run_steps=run_steps,
        config_changes_run=bool(config.extend_run),
        config_name="builder.toml",
    )
    run_images = [RunImage(r.image, r.mirrors) for r in config.run_images]
    if options.run_image is None:
        return run_images, None
    run_images[0] = RunImage(options.run_image, options.run_image_mirrors)
    run_build = plan_extended_run_image(
        scope_problem(config.source, config.pins, "run"), facts, config.extend_run, options
    )
    return run_images, run_build


def _layer_path(inputs: BuilderInputs, fetched: FetchedModule) -> str:
    """The context path of the layer that holds the module (its own, or a --flatten one)."""
    return inputs.flattened.get(fetched.context_path, fetched.context_path)


def _contents(
    config: BuilderConfig,
    facts: ImageFacts,
    inputs: BuilderInputs,
    modules: ResolvedModules,
    lifecycle: Lifecycle,
    run_images: Sequence[RunImage],
) -> BuilderContents:
    def layers(fetched: Sequence[FetchedModule]) -> tuple[ModuleLayer, ...]:
        return tuple(
            ModuleLayer(f.module, inputs.diff_ids[_layer_path(inputs, f)]) for f in fetched
        )

    labels = facts.base.labels
    return BuilderContents(
        description=config.description,
        buildpacks=layers(modules.buildpacks),
        extensions=layers(modules.extensions),
        order=modules.order,
        order_extensions=modules.order_extensions,
        system_pre=modules.system_pre,
        system_post=modules.system_post,
        run_images=tuple(run_images),
        lifecycle=lifecycle,
        build_env=tuple(BuildEnvFile(e.name, e.value, e.suffix, e.delim) for e in config.build_env),
        stack_id=config.stack_id or labels.get(STACK_ID),
        extra_metadata=previous_metadata(labels),
    )


def _module_layer_paths(
    base: BaseImage, inputs: BuilderInputs, modules: ResolvedModules, contents: BuilderContents
) -> list[str]:
    """The module layers to add, each once: a module the base already has in the very same
    layer is not added again; a --flatten group is one layer for all its modules."""
    existing = existing_layers(base.labels, BUILDPACK_LAYERS)
    new = [
        fetched
        for fetched, layer in zip(modules.buildpacks, contents.buildpacks, strict=True)
        if fetched.context_path in inputs.flattened
        or existing.get((layer.module.descriptor.id, layer.module.descriptor.version))
        != layer.diff_id
    ]
    paths = [_layer_path(inputs, f) for f in [*new, *modules.extensions]]
    return list(dict.fromkeys(paths))


def _build_scope(
    config: BuilderConfig, facts: ImageFacts
) -> tuple[dict[str, Any], PackageInstall | None]:
    """The builder's build-scope metadata (with the extensions applied to it) and the
    packages it installs, if it has any."""
    build_scope = dict(config.extend_build)
    plans = facts.extensions
    if plans and plans.build.steps:
        build_scope["extensions"] = applied_extensions(plans.build)
    if not build_scope:
        return build_scope, None
    install = plan_packages(
        facts.base,
        build_scope,
        scope_problem(config.source, config.pins, "build"),
    )
    return build_scope, install


def _builder_build(
    config: BuilderConfig,
    options: BuilderOptions,
    facts: ImageFacts,
    inputs: BuilderInputs,
    modules: ResolvedModules,
    contents: BuilderContents,
    user_has_group: bool,
) -> ImageBuild:
    build_base = facts.base
    plans = facts.extensions
    labels = builder_labels(contents, build_base.labels)
    build_scope, install = _build_scope(config, facts)
    if install is not None:
        labels[EXTEND_METADATA] = install.labels[EXTEND_METADATA]
    labels.update(options.labels)
    module_paths = _module_layer_paths(build_base, inputs, modules, contents)
    dockerfile = builder_dockerfile(
        install.install_command if install else None,
        lifecycle_by_arch=sorted(inputs.lifecycles),
        module_paths=module_paths,
        user_has_group=user_has_group,
    )
    trees = {**inputs.lifecycle_trees, "workdirs": inputs.workdirs_tree}
    trees.update({path: inputs.module_trees[path] for path in module_paths})
    builder = image_build(
        build_base,
        install,
        role="builder",
        dockerfile=dockerfile,
        build_args=base_build_args(build_base, options.build_id, options.source_date_epoch),
        labels=labels,
        names=options.names,
        platforms=options.platforms,
        context_files={f"files/{path}": text for path, text in cnb_files(contents).items()},
        context_trees=trees,
        expected_diff_ids=tuple(inputs.diff_ids[p] for p in module_paths),
    )
    if not (plans and plans.build.steps):
        return builder
    return apply_extension_plan(
        builder,
        plans.build,
        build_id=options.build_id,
        app_dir=options.app_dir,
        metadata=build_scope,
    )
