"""builder.toml: pack's builder config, plus cnbext's ``[extend]`` section.

Operators already keep a builder.toml for ``pack builder create``, so cnbext accepts every key pack
accepts, with pack's meaning and, where pack has one, pack's wording for each mistake; users know
those messages. What pack does not give is a position: it reports line numbers for TOML syntax
errors only, and stops at the first problem. Here every problem carries file:line:col and a JSON
path, and all of them are reported at once.

builder.schema.json checks the shape of the file (and does the did-you-mean for typos); the rules
it cannot say well live in :mod:`cnbext.config.builder_rules`. The model is only built from a file
that passed both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from cnbext.cnb.imageref import parse_reference
from cnbext.cnb.labels import merge_metadata
from cnbext.cnb.semver import normalize_lifecycle_version
from cnbext.config.builder_rules import rule_problems, rule_warnings, stack_warnings
from cnbext.config.extend import metadata_warnings
from cnbext.config.extension_request import ExtensionRequest, requests_from_config
from cnbext.config.lock import LockedPins
from cnbext.config.toml_source import TomlSource, toml10_problems
from cnbext.config.validation import closest, schema_problems
from cnbext.errors import ConfigError, ConfigProblem

__all__ = [
    "BuilderConfig",
    "ConfigPath",
    "EnvVar",
    "LifecycleSource",
    "ModuleEntry",
    "OrderEntry",
    "OrderGroup",
    "RunImageEntry",
    "TargetEntry",
    "builder_config_problems",
    "load_builder_config",
]

ConfigPath = tuple[str | int, ...]

DOCKER_PREFIX = "docker://"

_SCOPES = {"build": "the build image", "run": "the run images"}


@dataclass(frozen=True)
class ModuleEntry:
    """A ``[[buildpacks]]`` or ``[[extensions]]`` entry: where to fetch the module from."""

    kind: Literal["buildpack", "extension"]
    id: str | None
    version: str | None
    uri: str | None  # as written; a relative path resolves against BuilderConfig.base_dir
    image: str | None  # normalized reference of `image =` or of a docker:// uri
    path: ConfigPath  # e.g. ("buildpacks", 0)
    sha256: str | None = None  # what an archive or download uri must hash to


@dataclass(frozen=True)
class OrderEntry:
    id: str
    version: str | None  # None: pack infers it when the builder has exactly one version
    optional: bool
    path: ConfigPath
    exec_env: tuple[str, ...] = ()  # pack's ModuleInfo exec-env, written to order.toml as given


@dataclass(frozen=True)
class OrderGroup:
    entries: tuple[OrderEntry, ...]
    path: ConfigPath


@dataclass(frozen=True)
class EnvVar:
    """A ``[[build.env]]`` entry, written as /cnb/build-config/env/NAME[.suffix]."""

    name: str
    value: str
    suffix: str | None  # None = not given (pack writes the plain file NAME)
    delim: str | None
    exec_env: tuple[str, ...]
    path: ConfigPath


@dataclass(frozen=True)
class RunImageEntry:
    image: str  # normalized reference
    mirrors: tuple[str, ...]  # normalized
    path: ConfigPath


@dataclass(frozen=True)
class LifecycleSource:
    """``[lifecycle]``: exactly one of ``version`` and ``uri`` is set."""

    version: str | None  # normalized X.Y.Z[-pre][+build] (pack accepts 0.21 and v0.21.1)
    uri: str | None  # as written; a relative path resolves against BuilderConfig.base_dir
    path: ConfigPath
    sha256: str | None = None  # what the archive must hash to


@dataclass(frozen=True)
class TargetEntry:
    os: str | None
    arch: str | None
    variant: str | None
    distros: tuple[tuple[str | None, str | None], ...]  # (name, version); windows: no name


@dataclass(frozen=True)
class BuilderConfig:
    source: TomlSource
    base_dir: Path  # folder of builder.toml: relative uris resolve against it
    description: str
    buildpacks: tuple[ModuleEntry, ...]
    extensions: tuple[ModuleEntry, ...]
    order: tuple[OrderGroup, ...]
    order_extensions: tuple[OrderGroup, ...]
    system_pre: tuple[OrderEntry, ...]
    system_post: tuple[OrderEntry, ...]
    stack_id: str | None
    build_image: str  # normalized; from build.image, else stack.build-image
    build_env: tuple[EnvVar, ...]
    run_images: tuple[RunImageEntry, ...]  # from run.images, else stack.run-image + mirrors
    lifecycle: LifecycleSource | None  # None: no [lifecycle], use the default release
    targets: tuple[TargetEntry, ...]
    extend_build: dict[str, Any]  # [extend.metadata] (without build/run) + [extend.metadata.build]
    extend_run: dict[str, Any]  # [extend.metadata] (without build/run) + [extend.metadata.run]
    warnings: tuple[ConfigProblem, ...]
    extend_extensions: tuple[ExtensionRequest, ...] = ()  # [[extend.extensions]]
    pins: LockedPins | None = None  # --locked: the scopes install this lock's pins

    def problem(self, path: ConfigPath, message: str) -> ConfigProblem:
        """A problem found later (e.g. while fetching a module), located in builder.toml."""
        return self.source.problem(path, message)


def builder_config_problems(source: TomlSource) -> list[ConfigProblem]:
    """Every problem of a builder.toml: the schema's and the rules' (each said once)."""
    problems = schema_problems(source, "builder") + list(rule_problems(source, source.data()))
    problems += toml10_problems(source)
    # A rule and the schema can both trip over the same value; say it once.
    return list(dict.fromkeys(problems))


def load_builder_config(path: Path, display_name: str | None = None) -> BuilderConfig:
    source = TomlSource.read(path, display_name)
    problems = builder_config_problems(source)
    if problems:
        raise ConfigError(problems)
    # Absolute but not resolved: pack resolves relative uris against the folder the user named,
    # even when builder.toml is a symlink.
    return _model(source, source.data(), path.absolute().parent)


# --- the model -------------------------------------------------------------------------------


def _model(source: TomlSource, data: dict[str, Any], base_dir: Path) -> BuilderConfig:
    """Build the model from a file that passed the schema and every rule."""
    build: dict[str, Any] = data.get("build", {})
    stack: dict[str, Any] = data.get("stack", {})
    extend_build, extend_run, warnings = extend_scopes(source, data)
    # pack does not warn about [stack] itself (real builders keep it for older platforms), only
    # about what it overrides.
    warnings += [*rule_warnings(source, data), *stack_warnings(source, data)]
    system: dict[str, Any] = data.get("system", {})
    return BuilderConfig(
        source=source,
        base_dir=base_dir,
        description=data.get("description", ""),
        buildpacks=_modules(data, "buildpacks", "buildpack"),
        extensions=_modules(data, "extensions", "extension"),
        order=_groups(data, "order"),
        order_extensions=_groups(data, "order-extensions"),
        system_pre=_system(system, "pre"),
        system_post=_system(system, "post"),
        stack_id=stack.get("id"),
        build_image=_normalized(build["image"] if "image" in build else stack["build-image"]),
        build_env=tuple(
            EnvVar(
                name=env["name"],
                value=env["value"],
                suffix=env.get("suffix"),
                delim=env.get("delim"),
                exec_env=tuple(env.get("exec-env", [])),
                path=("build", "env", index),
            )
            for index, env in enumerate(build.get("env", []))
        ),
        run_images=_run_images(data),
        lifecycle=_lifecycle(data.get("lifecycle", {})),
        targets=tuple(target_entry(target) for target in data.get("targets", [])),
        extend_build=extend_build,
        extend_run=extend_run,
        extend_extensions=requests_from_config(data.get("extend", {}).get("extensions", [])),
        warnings=tuple(sorted(warnings, key=ConfigProblem.sort_key)),
    )


def target_entry(target: dict[str, Any]) -> TargetEntry:
    """A schema-checked ``[[targets]]`` table as a model."""
    return TargetEntry(
        os=target.get("os"),
        arch=target.get("arch"),
        variant=target.get("variant"),
        distros=tuple((d.get("name"), d.get("version")) for d in target.get("distros", [])),
    )


def _run_images(data: dict[str, Any]) -> tuple[RunImageEntry, ...]:
    run_images = tuple(
        RunImageEntry(
            image=_normalized(entry["image"]),
            mirrors=tuple(_normalized(m) for m in entry.get("mirrors", [])),
            path=("run", "images", index),
        )
        for index, entry in enumerate(data.get("run", {}).get("images", []))
    )
    if run_images:
        return run_images
    stack: dict[str, Any] = data["stack"]
    return (
        RunImageEntry(
            image=_normalized(stack["run-image"]),
            mirrors=tuple(_normalized(m) for m in stack.get("run-image-mirrors", [])),
            path=("stack", "run-image"),
        ),
    )


def _modules(
    data: dict[str, Any], plural: str, kind: Literal["buildpack", "extension"]
) -> tuple[ModuleEntry, ...]:
    entries = []
    for index, entry in enumerate(data.get(plural, [])):
        uri: str | None = entry.get("uri")
        # With both, pack fetches from the uri (a warning says so): the image is not used.
        image: str | None = entry.get("image") if uri is None else None
        # A docker:// uri names an image just as `image =` does; consumers need only look here.
        if image is None and uri is not None and uri.startswith(DOCKER_PREFIX):
            image = uri.removeprefix(DOCKER_PREFIX)
        entries.append(
            ModuleEntry(
                kind=kind,
                id=entry.get("id"),
                version=entry.get("version"),
                uri=uri,
                image=_normalized(image) if image is not None else None,
                path=(plural, index),
                sha256=entry.get("sha256"),
            )
        )
    return tuple(entries)


def _groups(data: dict[str, Any], key: str) -> tuple[OrderGroup, ...]:
    return tuple(
        OrderGroup(
            entries=tuple(
                _order_entry(entry, (key, index, "group", position))
                for position, entry in enumerate(group.get("group", []))
            ),
            path=(key, index),
        )
        for index, group in enumerate(data.get(key, []))
    )


def _system(system: dict[str, Any], when: str) -> tuple[OrderEntry, ...]:
    entries = system.get(when, {}).get("buildpacks", [])
    return tuple(
        _order_entry(entry, ("system", when, "buildpacks", index))
        for index, entry in enumerate(entries)
    )


def _order_entry(entry: dict[str, Any], path: ConfigPath) -> OrderEntry:
    # Extensions' `optional` is kept as written, as pack does: the lifecycle treats every
    # extension as optional, so it changes nothing but the label and order.toml.
    return OrderEntry(
        id=entry["id"],
        version=entry.get("version"),
        optional=entry.get("optional", False),
        path=path,
        exec_env=tuple(entry.get("exec-env", [])),
    )


def _lifecycle(lifecycle: dict[str, Any]) -> LifecycleSource | None:
    if "version" not in lifecycle and "uri" not in lifecycle:
        return None  # an empty [lifecycle] means the default, as no [lifecycle] does
    version = lifecycle.get("version")
    # The rules have refused what does not normalize; the release is named as pack names it.
    normalized = normalize_lifecycle_version(version) if version is not None else None
    return LifecycleSource(
        normalized, lifecycle.get("uri"), ("lifecycle",), lifecycle.get("sha256")
    )


def extend_scopes(
    source: TomlSource, data: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any], list[ConfigProblem]]:
    """[extend.metadata] applies to both images; its build/run tables to one each (RFC PR #23).
    Shared by builder.toml and extend-builder.toml."""
    prefix: ConfigPath = ("extend", "metadata")
    metadata: dict[str, Any] = data.get("extend", {}).get("metadata", {})
    shared = {key: value for key, value in metadata.items() if key not in _SCOPES}
    warnings = metadata_warnings(source, shared, prefix)
    for key, value in shared.items():
        # A misspelt scope would silently apply to both images.
        suggestion = closest(key, list(_SCOPES)) if isinstance(value, dict) else None
        if suggestion is not None:
            warnings.append(
                source.problem(
                    (*prefix, key),
                    f"{key!r} is kept as metadata for both images; "
                    f"did you mean {suggestion!r} ({_SCOPES[suggestion]} only)?",
                    key=True,
                )
            )
    scoped = {}
    for scope in _SCOPES:
        scope_metadata: dict[str, Any] = metadata.get(scope, {})
        warnings += metadata_warnings(source, scope_metadata, (*prefix, scope))
        scoped[scope] = merge_metadata(shared, scope_metadata)
    return scoped["build"], scoped["run"], warnings


def has_run_table(source: TomlSource) -> bool:
    """[extend.metadata.run] is written: the user asked for the run image to be extended."""
    metadata = source.data().get("extend", {}).get("metadata", {})
    return isinstance(metadata, dict) and "run" in metadata


def scope_problem(
    source: TomlSource, pins: LockedPins | None, scope: str
) -> Callable[[int, str], ConfigProblem]:
    """Where a package of ``scope`` the manager rejects is located: in the lock whose pins it
    installs (--locked), else where the config writes it."""
    if pins is not None:
        return lambda index, message: pins.problem(scope, index, message)
    return lambda index, message: scoped_package_problem(source, scope, index, message)


def scoped_package_problem(
    source: TomlSource, scope: str, index: int, message: str
) -> ConfigProblem:
    """Locate package ``index`` of a scope's merged list where it is written: in
    [extend.metadata.<scope>] or in [extend.metadata] (whose packages come first)."""
    metadata = source.data().get("extend", {}).get("metadata", {})
    common = list(metadata.get("packages", []))
    scoped = list(metadata.get(scope, {}).get("packages", []))
    merged = common + [p for p in scoped if p not in common]
    package = merged[index] if index < len(merged) else None
    if package in scoped:
        path: ConfigPath = ("extend", "metadata", scope, "packages", scoped.index(package))
    elif package in common:
        path = ("extend", "metadata", "packages", common.index(package))
    else:
        path = ("extend", "metadata")
    return source.problem(path, message)


# --- helpers ---------------------------------------------------------------------------------


def _normalized(reference: str) -> str:
    return str(parse_reference(reference))
