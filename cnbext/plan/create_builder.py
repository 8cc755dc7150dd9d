"""Planning ``cnbext create-builder``: builder.toml + flags + facts -> a Plan.

Pure: the client gathers the facts (base images read by the engine, modules and lifecycle
fetched and staged, each module layer's diffID) and this module decides everything else, with
pack's checks and messages, located in builder.toml.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnbext.cnb.builder_layout import (
    BuildEnvFile,
    BuilderContents,
    GroupEntry,
    ModuleLayer,
    Order,
    RunImage,
    builder_metadata,
    cnb_files,
    module_layers_label,
    order_label,
)
from cnbext.cnb.dockerfile import install_lines, is_root_user, restore_user_lines
from cnbext.cnb.extender import ExtenderPlan, applied_extensions
from cnbext.cnb.labels import (
    BUILDER_METADATA,
    EXTEND_METADATA,
    STACK_ID,
    encode_json_label,
    label_changes,
    parse_json_label,
)
from cnbext.config.builder import (
    BuilderConfig,
    ConfigPath,
    ModuleEntry,
    OrderEntry,
    has_run_table,
    scoped_package_problem,
)
from cnbext.config.extension_request import ExtensionRequest
from cnbext.config.toml_source import TomlSource
from cnbext.engine.models import BaseImage
from cnbext.errors import ConfigError, ConfigProblem, ImageError, UsageError
from cnbext.plan.extend import (
    apply_extension_plan,
    base_build_args,
    check_publish_flags,
    plan_image_build,
    plan_packages,
)
from cnbext.plan.facts import ImageFacts
from cnbext.plan.model import CreatedBuilderDetails, ImageBuild, Plan, PullPolicy
from cnbext.sources.lifecycle import Lifecycle
from cnbext.sources.modules import Module

BUILDPACK_LAYERS = "io.buildpacks.buildpack.layers"
EXTENSION_LAYERS = "io.buildpacks.extension.layers"
BUILDPACK_ORDER = "io.buildpacks.buildpack.order"
EXTENSION_ORDER = "io.buildpacks.buildpack.order-extensions"
EXTENSIONS_PLATFORM_API = "0.13"


@dataclass(frozen=True)
class BuilderOptions:
    """The flags of the builder commands (create-builder, extend-builder)."""

    names: tuple[str, ...]  # the builder's name (one); normalized by the client
    run_image: str | None = None
    run_image_mirrors: tuple[str, ...] = ()
    publish: bool = False
    pull_policy: PullPolicy = PullPolicy.IF_NOT_PRESENT
    network: str | None = None
    platforms: tuple[str, ...] = ()
    build_id: str | None = None
    # Image extensions to apply ahead of time (--extension), their platform env (--env) and
    # the app folder detect and generate see (--app; default: an empty folder).
    extensions: tuple[ExtensionRequest, ...] = ()
    platform_env: dict[str, str] = field(default_factory=dict)
    app_dir: Path | None = None
    # Package extensions with a lifecycle older than Platform API 0.13, where the lifecycle
    # supports them only as an experimental feature (pack: `experimental = true`).
    experimental: bool = False


@dataclass(frozen=True)
class FetchedModule:
    entry: ModuleEntry  # the builder.toml entry that brought it in
    module: Module
    context_path: str  # where its staged tree sits in the build context


@dataclass(frozen=True)
class BuilderInputs:
    """What the client fetched and staged for a builder, besides the image facts."""

    buildpacks: tuple[FetchedModule, ...]
    extensions: tuple[FetchedModule, ...]
    lifecycles: Mapping[str, Lifecycle]  # by target architecture (amd64, arm64)
    lifecycle_trees: Mapping[str, Path]  # context path -> staged lifecycle, per architecture
    module_trees: Mapping[str, Path]  # context path -> staged module
    workdirs_tree: Path  # empty workspace/ and layers/ folders, chowned to the CNB user
    diff_ids: Mapping[str, str]  # context path -> layer diffID
    warnings: tuple[str, ...] = field(default_factory=tuple)


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


def check_options(options: BuilderOptions, config: BuilderConfig) -> None:
    if not options.names:
        raise UsageError("give the builder's NAME")
    check_publish_flags(
        publish=options.publish, pull_policy=options.pull_policy, platforms=options.platforms
    )
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
    problems: list[ConfigProblem] = []
    build_base = facts.base
    user_id, group_id = _check_build_image(config, build_base)

    buildpacks = _unique_modules(config, inputs.buildpacks, problems)
    extensions = _unique_modules(config, inputs.extensions, problems)
    lifecycle = next(iter(inputs.lifecycles.values()))
    for fetched in buildpacks:
        api = fetched.module.descriptor.api
        if not lifecycle.supports_buildpack_api(api):
            supported = ", ".join(lifecycle.buildpack_apis.supported)
            problems.append(
                config.problem(
                    fetched.entry.path,
                    f"buildpack {_label(fetched.module)} (Buildpack API {api}) is incompatible "
                    f"with lifecycle {lifecycle.version} (Buildpack API(s) {supported})",
                )
            )
    experimental_warnings: list[str] = []
    if extensions and not lifecycle.platform_api_at_least(EXTENSIONS_PLATFORM_API):
        problem = config.problem(
            ("extensions",),
            f"image extensions need a lifecycle with Platform API {EXTENSIONS_PLATFORM_API} "
            f"or newer; lifecycle {lifecycle.version} supports "
            f"{', '.join(lifecycle.platform_apis.supported)}",
        )
        if options.experimental:
            experimental_warnings.append(f"{problem} (packaged anyway: --experimental)")
        else:
            problems.append(problem)
    available = [f.module for f in buildpacks]
    for fetched in buildpacks:
        for group in fetched.module.descriptor.order:
            for ref in group:
                _resolve(config, fetched.entry.path, ref.id, ref.version, available, problems)
    order = _resolve_order(config, config.order, available, "buildpack", problems)
    order_extensions = _resolve_order(
        config, config.order_extensions, [f.module for f in extensions], "extension", problems
    )
    system_pre = _resolve_entries(config, config.system_pre, available, problems)
    system_post = _resolve_entries(config, config.system_post, available, problems)
    if problems:
        raise ConfigError(problems)

    plans = facts.extensions
    run_steps = plans.run.steps if plans else ()
    if run_steps and options.run_image is None:
        raise UsageError(
            "extensions generated run.Dockerfiles for the run image: give --run-image NAME "
            "for the extended run image"
        )
    if options.run_image is not None and not config.extend_run and not run_steps:
        raise UsageError(
            "--run-image names the extended run image, but neither builder.toml nor any "
            "extension (no run.Dockerfile was generated) changes the run image"
        )
    run_images = [RunImage(r.image, r.mirrors) for r in config.run_images]
    run_build = None
    if options.run_image is not None:
        run_images[0] = RunImage(options.run_image, options.run_image_mirrors)
        if facts.run is None:
            raise ImageError("the run image was not read; it is needed to extend it")
        run_build = plan_extended_run_image(
            config.source,
            facts.run,
            config.extend_run,
            options,
            plans.run if plans else None,
        )

    existing = _existing_layers(build_base.labels, BUILDPACK_LAYERS)
    bp_layers = [ModuleLayer(f.module, inputs.diff_ids[f.context_path]) for f in buildpacks]
    ext_layers = [ModuleLayer(f.module, inputs.diff_ids[f.context_path]) for f in extensions]
    # A module the base already has, in the very same layer, is not added again.
    new_buildpacks = [
        f
        for f, layer in zip(buildpacks, bp_layers, strict=True)
        if existing.get((layer.module.descriptor.id, layer.module.descriptor.version))
        != layer.diff_id
    ]
    contents = BuilderContents(
        description=config.description,
        buildpacks=tuple(bp_layers),
        extensions=tuple(ext_layers),
        order=order,
        order_extensions=order_extensions,
        system_pre=system_pre,
        system_post=system_post,
        run_images=tuple(run_images),
        lifecycle=lifecycle,
        build_env=tuple(BuildEnvFile(e.name, e.value, e.suffix, e.delim) for e in config.build_env),
        stack_id=config.stack_id or build_base.labels.get(STACK_ID),
        extra_metadata=_previous_metadata(build_base.labels),
    )
    labels = _builder_labels(contents, build_base.labels)
    build_scope = dict(config.extend_build)
    if plans and plans.build.steps:
        build_scope["extensions"] = applied_extensions(plans.build)
    install = None
    if build_scope:
        install = plan_packages(
            build_base,
            build_scope,
            lambda i, why: scoped_package_problem(config.source, "build", i, why),
        )
        labels[EXTEND_METADATA] = install.labels[EXTEND_METADATA]

    module_paths = [f.context_path for f in [*new_buildpacks, *extensions]]
    dockerfile = _builder_dockerfile(
        install.install_command if install else None,
        lifecycle_by_arch=sorted(inputs.lifecycles),
        module_paths=module_paths,
        user_has_group=bool(group_id),
    )
    files = {f"files/{path}": text for path, text in cnb_files(contents).items()}
    trees = {**inputs.lifecycle_trees, "workdirs": inputs.workdirs_tree}
    trees.update({path: inputs.module_trees[path] for path in module_paths})
    builder = ImageBuild(
        role="builder",
        base=build_base.reference,
        dockerfile=dockerfile,
        build_args=base_build_args(build_base, options.build_id),
        labels=labels,
        result_labels={**build_base.labels, **labels},
        label_changes=tuple(label_changes(build_base.labels, labels)),
        names=options.names,
        platforms=options.platforms,
        package_manager=install.manager_name if install else None,
        packages=install.packages if install else (),
        base_user=build_base.user,
        context_files=files,
        context_trees=trees,
        expected_diff_ids=tuple(inputs.diff_ids[p] for p in module_paths),
    )
    if plans and plans.build.steps:
        builder = apply_extension_plan(
            builder,
            plans.build,
            build_id=options.build_id,
            app_dir=options.app_dir,
            metadata=build_scope,
        )
    builds = (run_build, builder) if run_build is not None else (builder,)
    details = CreatedBuilderDetails(
        build_image=build_base.reference,
        user=f"{user_id}:{group_id}",
        lifecycle=lifecycle.version,
        run_images=tuple(run_images),
        buildpacks=tuple(_label(f.module) for f in buildpacks),
        extensions=tuple(_label(f.module) for f in extensions),
        files=dict(cnb_files(contents)),
    )
    exec_env_warnings = tuple(
        f"{config.problem(env.path, 'exec-env is accepted but not yet written to the builder')}"
        for env in config.build_env
        if env.exec_env
    )
    return Plan(
        command="create-builder",
        builds=builds,
        publish=options.publish,
        pull_policy=options.pull_policy,
        network=options.network,
        warnings=(
            *(str(w) for w in config.warnings),
            *inputs.warnings,
            *exec_env_warnings,
            *experimental_warnings,
            *(plans.warnings if plans else ()),
        ),
        details=details,
    )


def _check_build_image(config: BuilderConfig, base: BaseImage) -> tuple[str, str]:
    """pack's build-image requirements: integer CNB_USER_ID / CNB_GROUP_ID, non-root user."""
    problems = []
    ids = []
    for name in ("CNB_USER_ID", "CNB_GROUP_ID"):
        value = base.env.get(name)
        if value is None or not value.strip().isdigit():
            shown = "missing" if value is None else f"{value!r}, not an integer"
            problems.append(
                config.problem(
                    _build_image_path(config),
                    f"build image {base.reference} must set {name} to an integer ({shown})",
                )
            )
        else:
            ids.append(value.strip())
    if is_root_user(base.user):
        problems.append(
            config.problem(
                _build_image_path(config),
                f"build image {base.reference} runs as root (User {base.user or 'empty'}); "
                "a build image must name its non-root CNB user",
            )
        )
    if problems:
        raise ConfigError(problems)
    return ids[0], ids[1]


def _build_image_path(config: BuilderConfig) -> ConfigPath:
    data = config.source.data()
    return ("build", "image") if "image" in data.get("build", {}) else ("stack", "build-image")


def _unique_modules(
    config: BuilderConfig, fetched: Sequence[FetchedModule], problems: list[ConfigProblem]
) -> list[FetchedModule]:
    """Every module once (a buildpackage may repeat one); each entry's id/version must match."""
    seen: dict[tuple[str, str], FetchedModule] = {}
    by_entry: dict[ConfigPath, list[FetchedModule]] = {}
    for item in fetched:
        by_entry.setdefault(item.entry.path, []).append(item)
        key = (item.module.descriptor.id, item.module.descriptor.version)
        seen.setdefault(key, item)
    for path, items in by_entry.items():
        entry = items[0].entry
        if entry.id is None:
            continue
        source = entry.uri or entry.image or ""
        matches = [i for i in items if i.module.descriptor.id == entry.id]
        if not matches:
            found = ", ".join(sorted({i.module.descriptor.id for i in items}))
            problems.append(
                config.problem(
                    path,
                    f"{entry.kind} from URI {source!r} has ID {found!r} which does not match "
                    f"ID {entry.id!r} from builder config",
                )
            )
        elif entry.version is not None and not any(
            i.module.descriptor.version == entry.version for i in matches
        ):
            found = ", ".join(sorted({i.module.descriptor.version for i in matches}))
            problems.append(
                config.problem(
                    path,
                    f"{entry.kind} from URI {source!r} has version {found!r} which does not "
                    f"match version {entry.version!r} from builder config",
                )
            )
    return list(seen.values())


def _resolve(
    config: BuilderConfig,
    path: ConfigPath,
    module_id: str,
    version: str | None,
    available: Sequence[Module],
    problems: list[ConfigProblem],
    kind: str = "buildpack",
) -> str | None:
    """pack's rule: an order entry without a version takes the only version on the builder."""
    versions = sorted({m.descriptor.version for m in available if m.descriptor.id == module_id})
    if version is not None:
        if version not in versions:
            problems.append(
                config.problem(path, f"{kind} {module_id}@{version} was not found on the builder")
            )
            return None
        return version
    if not versions:
        problems.append(
            config.problem(path, f"no versions of {kind} {module_id} were found on the builder")
        )
        return None
    if len(versions) > 1:
        problems.append(
            config.problem(
                path, f"multiple versions of {module_id} - must specify an explicit version"
            )
        )
        return None
    return versions[0]


def _resolve_entries(
    config: BuilderConfig,
    entries: Sequence[OrderEntry],
    available: Sequence[Module],
    problems: list[ConfigProblem],
    kind: str = "buildpack",
) -> tuple[GroupEntry, ...]:
    resolved = []
    for entry in entries:
        version = _resolve(config, entry.path, entry.id, entry.version, available, problems, kind)
        if version is not None:
            resolved.append(GroupEntry(entry.id, version, entry.optional))
    return tuple(resolved)


def _resolve_order(
    config: BuilderConfig,
    groups: Sequence[Any],
    available: Sequence[Module],
    kind: str,
    problems: list[ConfigProblem],
) -> Order:
    return tuple(
        _resolve_entries(config, group.entries, available, problems, kind) for group in groups
    )


def _existing_layers(labels: Mapping[str, str], name: str) -> dict[tuple[str, str], str]:
    try:
        label = parse_json_label(labels, name) or {}
    except (ValueError, json.JSONDecodeError):
        return {}
    return {
        (module_id, version): str(entry.get("layerDiffID", ""))
        for module_id, versions in label.items()
        if isinstance(versions, dict)
        for version, entry in versions.items()
        if isinstance(entry, dict)
    }


def _previous_metadata(labels: Mapping[str, str]) -> dict[str, Any]:
    """Fields of an existing builder metadata label that cnbext does not write survive."""
    try:
        return parse_json_label(labels, BUILDER_METADATA) or {}
    except (ValueError, json.JSONDecodeError):
        return {}


def _builder_labels(contents: BuilderContents, base_labels: Mapping[str, str]) -> dict[str, str]:
    previous_layers: dict[str, Any] = {}
    try:
        previous_layers = parse_json_label(base_labels, BUILDPACK_LAYERS) or {}
    except (ValueError, json.JSONDecodeError):
        previous_layers = {}
    layers = dict(previous_layers)
    for module_id, versions in module_layers_label(contents.buildpacks).items():
        layers[module_id] = {**layers.get(module_id, {}), **versions}
    labels = {
        BUILDER_METADATA: encode_json_label(builder_metadata(contents)),
        BUILDPACK_LAYERS: encode_json_label(layers),
        BUILDPACK_ORDER: json.dumps(order_label(contents.order), separators=(",", ":")),
    }
    if contents.extensions:
        labels[EXTENSION_LAYERS] = encode_json_label(module_layers_label(contents.extensions))
        labels[EXTENSION_ORDER] = json.dumps(
            order_label(contents.order_extensions, with_optional=False), separators=(",", ":")
        )
    if contents.stack_id:
        labels[STACK_ID] = contents.stack_id
    return labels


def _builder_dockerfile(
    install_command: str | None,
    *,
    lifecycle_by_arch: Sequence[str],
    module_paths: Sequence[str],
    user_has_group: bool,
) -> str:
    """Every module and the lifecycle in a layer of its own (``COPY --link``: the layer does
    not depend on what is below it, so the same module always has the same diffID)."""
    lines = ["# Generated by cnbext: builder", "ARG base_image", "FROM ${base_image}"]
    if install_command is not None:
        lines += install_lines(install_command)
    lines += ["ARG TARGETARCH"]
    if len(lifecycle_by_arch) == 1:
        lines.append(f"COPY --link lifecycle/{lifecycle_by_arch[0]}/ /")
    else:
        lines.append("COPY --link lifecycle/${TARGETARCH}/ /")
    lines += [f"COPY --link {path}/ /" for path in module_paths]
    lines += [
        "COPY --link files/ /",
        "ARG user_id",
        "ARG group_id",
        # /workspace and /layers belong to the CNB user: the lifecycle writes there.
        "COPY --link --chown=${user_id}:${group_id} workdirs/ /",
        *restore_user_lines(user_has_group=user_has_group)[2:],
        "WORKDIR /layers",
        "",
    ]
    return "\n".join(lines)


def _label(module: Module) -> str:
    return f"{module.descriptor.id}@{module.descriptor.version}"


def plan_extended_run_image(
    source: TomlSource,
    run_base: BaseImage,
    run_metadata: Mapping[str, Any],
    options: BuilderOptions,
    run_plan: ExtenderPlan | None,
) -> ImageBuild:
    """The run image of a builder command: extensions' run.Dockerfiles first, then the run
    scope's packages, saved as --run-image and every --run-image-mirror."""
    assert options.run_image is not None
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
    )
    if run_plan is None or not run_plan.steps:
        return build
    return apply_extension_plan(
        build, run_plan, build_id=options.build_id, app_dir=options.app_dir, metadata=metadata
    )
