"""The modules of a builder: which ones go on it, and the detection order they resolve to.

pack's rules with pack's messages, each problem located in builder.toml: every module once (a
buildpackage may bring one twice), each ``[[buildpacks]]`` / ``[[extensions]]`` entry's id and
version must match what was fetched, order entries resolve (a missing version takes the only one
on the builder), Buildpack APIs must suit the lifecycle, extensions need Platform API 0.13.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cnbext.cnb.builder_layout import GroupEntry, Order
from cnbext.cnb.semver import module_version_warning
from cnbext.config.builder import BuilderConfig, ConfigPath, ModuleEntry, OrderEntry
from cnbext.errors import ConfigError, ConfigProblem
from cnbext.sources.lifecycle import Lifecycle
from cnbext.sources.modules import Module
from cnbext.sources.uri import redact_url

EXTENSIONS_PLATFORM_API = "0.13"


@dataclass(frozen=True)
class FetchedModule:
    entry: ModuleEntry  # the builder.toml entry that brought it in
    module: Module
    context_path: str  # where its staged tree sits in the build context


@dataclass(frozen=True)
class ResolvedModules:
    buildpacks: tuple[FetchedModule, ...]
    extensions: tuple[FetchedModule, ...]
    order: Order
    order_extensions: Order
    system_pre: tuple[GroupEntry, ...]
    system_post: tuple[GroupEntry, ...]
    warnings: tuple[str, ...] = field(default=())


def resolve_modules(
    config: BuilderConfig,
    buildpacks: Sequence[FetchedModule],
    extensions: Sequence[FetchedModule],
    lifecycle: Lifecycle,
    *,
    experimental: bool,
) -> ResolvedModules:
    """Every module check at once: a ConfigError lists all problems."""
    problems: list[ConfigProblem] = []
    unique_bps = unique_modules(config, buildpacks, problems)
    unique_exts = unique_modules(config, extensions, problems)
    warnings = _check_apis(config, unique_bps, lifecycle, problems)
    warnings += _check_extensions_api(config, unique_exts, lifecycle, experimental, problems)
    available = [f.module for f in unique_bps]
    for fetched in unique_bps:
        for group in fetched.module.descriptor.order:
            for ref in group:
                _resolve(config, fetched.entry.path, ref.id, ref.version, available, problems)
    ext_modules = [f.module for f in unique_exts]
    resolved = ResolvedModules(
        buildpacks=tuple(unique_bps),
        extensions=tuple(unique_exts),
        order=_resolve_order(config, config.order, available, "buildpack", problems),
        order_extensions=_resolve_order(
            config, config.order_extensions, ext_modules, "extension", problems
        ),
        system_pre=_resolve_entries(config, config.system_pre, available, problems),
        system_post=_resolve_entries(config, config.system_post, available, problems),
        warnings=(*warnings, *_version_warnings(config, [*unique_bps, *unique_exts])),
    )
    if problems:
        raise ConfigError(problems)
    return resolved


def module_label(module: Module) -> str:
    return f"{module.descriptor.id}@{module.descriptor.version}"


def _check_apis(
    config: BuilderConfig,
    buildpacks: Sequence[FetchedModule],
    lifecycle: Lifecycle,
    problems: list[ConfigProblem],
) -> list[str]:
    """Buildpack APIs the lifecycle lacks are refused; deprecated ones warned about, in
    pack's words."""
    warnings = []
    for fetched in buildpacks:
        api = fetched.module.descriptor.api
        if api in lifecycle.buildpack_apis.deprecated:
            warnings.append(
                f"Buildpack {module_label(fetched.module)} is using deprecated Buildpacks API "
                f"version {api}"
            )
        if not lifecycle.supports_buildpack_api(api):
            supported = ", ".join(lifecycle.buildpack_apis.supported)
            problems.append(
                config.problem(
                    fetched.entry.path,
                    f"buildpack {module_label(fetched.module)} (Buildpack API {api}) is "
                    f"incompatible with lifecycle {lifecycle.version} (Buildpack API(s) "
                    f"{supported})",
                )
            )
    return warnings


def _check_extensions_api(
    config: BuilderConfig,
    extensions: Sequence[FetchedModule],
    lifecycle: Lifecycle,
    experimental: bool,
    problems: list[ConfigProblem],
) -> list[str]:
    if not extensions or lifecycle.platform_api_at_least(EXTENSIONS_PLATFORM_API):
        return []
    problem = config.problem(
        ("extensions",),
        f"image extensions need a lifecycle with Platform API {EXTENSIONS_PLATFORM_API} "
        f"or newer; lifecycle {lifecycle.version} supports "
        f"{', '.join(lifecycle.platform_apis.supported)}",
    )
    if experimental:
        return [f"{problem} (packaged anyway: --experimental)"]
    problems.append(problem)
    return []


def _version_warnings(config: BuilderConfig, modules: Sequence[FetchedModule]) -> list[str]:
    """The one rule for module versions (cnbext.cnb.semver): X.Y.Z, else a warning."""
    warnings = []
    for fetched in modules:
        descriptor = fetched.module.descriptor
        message = module_version_warning(f"{descriptor.kind} {descriptor.id}", descriptor.version)
        if message is not None:
            warnings.append(str(config.problem(fetched.entry.path, message)))
    return warnings


def unique_modules(
    config: BuilderConfig, fetched: Sequence[FetchedModule], problems: list[ConfigProblem]
) -> list[FetchedModule]:
    """Every module once (a buildpackage may repeat one); each entry's id/version must match."""
    seen: dict[tuple[str, str], FetchedModule] = {}
    by_entry: dict[ConfigPath, list[FetchedModule]] = {}
    for item in fetched:
        by_entry.setdefault(item.entry.path, []).append(item)
        seen.setdefault((item.module.descriptor.id, item.module.descriptor.version), item)
    for path, items in by_entry.items():
        message = _entry_mismatch(items[0].entry, items)
        if message is not None:
            problems.append(config.problem(path, message))
    return list(seen.values())


def _entry_mismatch(entry: ModuleEntry, items: Sequence[FetchedModule]) -> str | None:
    """pack's validateModule: the entry's id and version must be the fetched module's."""
    if entry.id is None:
        return None
    source = redact_url(entry.uri or entry.image or "")
    matches = [i for i in items if i.module.descriptor.id == entry.id]
    if not matches:
        found = ", ".join(sorted({i.module.descriptor.id for i in items}))
        return (
            f"{entry.kind} from URI {source!r} has ID {found!r} which does not match "
            f"ID {entry.id!r} from builder config"
        )
    if entry.version is not None and not any(
        i.module.descriptor.version == entry.version for i in matches
    ):
        found = ", ".join(sorted({i.module.descriptor.version for i in matches}))
        return (
            f"{entry.kind} from URI {source!r} has version {found!r} which does not "
            f"match version {entry.version!r} from builder config"
        )
    return None


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
            resolved.append(GroupEntry(entry.id, version, entry.optional, entry.exec_env))
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
