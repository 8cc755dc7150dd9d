"""extension.toml: an image extension's descriptor, validated with every problem located.

:func:`cnbext.sources.modules.read_descriptor` reads descriptors of modules fetched from
anywhere and only needs enough of them to place the module in a builder, so it parses without
positions and reports problems as one line. An extension's author needs more: every mistake at its
file:line:col, with a JSON path and a did-you-mean for typos, all at once, as cnbext's own config
files get. This module is that validator for extension.toml. Every rule lives in
extension.schema.json (the spec's rules are all about single values, which a schema says well),
and anything it accepts ``read_descriptor`` accepts too, so :meth:`ExtensionConfig.to_descriptor`
hands the rest of cnbext the same :class:`~cnbext.sources.modules.ModuleDescriptor` it would
have built.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnbext.cnb.semver import module_version_warning
from cnbext.config.toml_source import TomlSource, toml10_problems
from cnbext.config.validation import schema_check
from cnbext.errors import ConfigError, ConfigProblem
from cnbext.sources.descriptor import (
    ASSUMED_API,
    SPEC_API_VERSION,
    ModuleDescriptor,
    canonical_api,
)

__all__ = [
    "ExtensionConfig",
    "ExtensionTarget",
    "descriptor_warnings",
    "load_extension_config",
]


# The lifecycle reads "*" in a module's target as any, as it does a missing or empty field.
_WILDCARDS = (None, "", "*")


def _any_or_equal(declared: str | None, actual: str | None) -> bool:
    """A field the extension leaves out accepts any value; so does a field the platform does not
    know (None): the lifecycle assumes a match rather than refuse an image without the label."""
    return declared in _WILDCARDS or actual is None or declared == actual


@dataclass(frozen=True)
class ExtensionTarget:
    """A ``[[targets]]`` entry; a missing, empty or ``"*"`` field means any."""

    os: str | None
    arch: str | None
    variant: str | None
    distros: tuple[tuple[str, str | None], ...]  # (name, version); no distros = any distro

    def matches(
        self,
        os: str,
        arch: str,
        variant: str | None,
        distro_name: str | None,
        distro_version: str | None,
    ) -> bool:
        """Whether an image of this platform can run the extension."""
        if not (
            _any_or_equal(self.os, os)
            and _any_or_equal(self.arch, arch)
            and _any_or_equal(self.variant, variant)
        ):
            return False
        if not self.distros or distro_name is None:
            return True
        return any(
            name == distro_name and _any_or_equal(version, distro_version)
            for name, version in self.distros
        )


@dataclass(frozen=True)
class ExtensionConfig:
    source: TomlSource
    api: str
    id: str
    version: str
    name: str | None
    homepage: str | None
    description: str | None
    keywords: tuple[str, ...]
    licenses: tuple[dict[str, str], ...]  # each with "type", "uri" or both
    targets: tuple[ExtensionTarget, ...]
    metadata: dict[str, Any]
    # The spec's X.Y.Z is a warning (see cnbext.cnb.semver.module_version_warning).
    warnings: tuple[ConfigProblem, ...] = field(default=())

    @property
    def install_dir_name(self) -> str:
        """The id's folder under /cnb/extensions/ (then <version>/): '/' becomes '_'."""
        return self.id.replace("/", "_")

    def to_descriptor(self) -> ModuleDescriptor:
        """What :func:`cnbext.sources.modules.read_descriptor` gives for the same file."""
        data = self.source.data()
        return ModuleDescriptor(
            kind="extension",
            api=self.api,
            id=self.id,
            version=self.version,
            name=self.name,
            homepage=self.homepage,
            order=(),  # extensions are never composite
            stacks=(),  # extension.toml has no [[stacks]]; the schema refuses them
            # Plain tables, as written: builder_layout copies them into labels as they are.
            targets=tuple(data.get("targets", [])),
            raw=data,
        )

    def supports(
        self,
        os: str,
        arch: str,
        variant: str | None,
        distro_name: str | None,
        distro_version: str | None,
    ) -> bool:
        """Whether the extension runs on this platform; without [[targets]] it runs anywhere."""
        return not self.targets or any(
            target.matches(os, arch, variant, distro_name, distro_version)
            for target in self.targets
        )


def load_extension_config(path: Path, display_name: str | None = None) -> ExtensionConfig:
    source = TomlSource.read(path, display_name)
    problems, unknown_keys = schema_check(source, "extension")
    problems += toml10_problems(source)  # pack reads extension.toml as TOML 1.0
    if problems:
        raise ConfigError(problems)
    # Only a file that passed the schema gets here, so every key has its type.
    data = source.data()
    extension: dict[str, Any] = data["extension"]
    return ExtensionConfig(
        source=source,
        api=canonical_api(data.get("api", ASSUMED_API)),
        id=extension["id"],
        version=extension["version"],
        name=extension.get("name"),
        homepage=extension.get("homepage"),
        description=extension.get("description"),
        keywords=tuple(extension.get("keywords", [])),
        licenses=tuple(extension.get("licenses", [])),
        targets=tuple(
            ExtensionTarget(
                os=target.get("os"),
                arch=target.get("arch"),
                variant=target.get("variant"),
                distros=tuple((d["name"], d.get("version")) for d in target.get("distros", [])),
            )
            for target in data.get("targets", [])
        ),
        metadata=data.get("metadata", {}),
        warnings=tuple(unknown_keys + descriptor_warnings(source, "extension")),
    )


def descriptor_warnings(source: TomlSource, kind: str) -> list[ConfigProblem]:
    """Warnings for a buildpack.toml / extension.toml that passed its schema: the spec's forms
    of the version and the API, which pack and the lifecycle do not ask for."""
    data = source.data()
    table = data.get(kind, {})
    version = table.get("version") if isinstance(table, dict) else None
    message = module_version_warning(kind, version) if isinstance(version, str) else None
    warnings = [source.problem([kind, "version"], message)] if message else []
    api = data.get("api")
    if api is None:
        # pack reads a descriptor without `api` as Buildpack API 0.1 (dist.AssumedBuildpackAPI
        # Version), which no current lifecycle supports: say so now, not at build time.
        warnings.append(
            source.problem([], f"no `api`: read as Buildpack API {ASSUMED_API}, as pack does")
        )
    if isinstance(api, str) and not SPEC_API_VERSION.fullmatch(api):
        warnings.append(
            source.problem(
                ["api"],
                f'api {api!r} is not "<major>.<minor>" without leading zeros as the spec '
                f"asks; pack and the lifecycle read it as {canonical_api(api)}, and so does cnbext",
            )
        )
    return warnings
