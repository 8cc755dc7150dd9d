"""builder.toml: pack's builder config, plus cnbext's ``[extend]`` section.

Operators already keep a builder.toml for ``pack builder create``, so cnbext accepts every key pack
accepts, with pack's meaning and, where pack has one, pack's wording for each mistake; users know
those messages. What pack does not give is a position: it reports line numbers for TOML syntax
errors only, and stops at the first problem. Here every problem carries file:line:col and a JSON
path, and all of them are reported at once.

builder.schema.json checks the shape of the file (and does the did-you-mean for typos). The rules
it cannot say well live here: those that relate several keys (``[build]`` against the deprecated
``[stack]``, ``lifecycle.version`` against ``lifecycle.uri``, ``suffix`` against ``delim``) and
those that need a real parser (image references, semver, module uris). They run on the raw data
even when the schema found problems, so they must tolerate values of the wrong type; the model is
only built from a file that passed everything.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from cnbext.cnb.imageref import InvalidReferenceError, parse_reference
from cnbext.cnb.labels import merge_metadata
from cnbext.config.extend import metadata_warnings
from cnbext.config.extension_request import ExtensionRequest, requests_from_config
from cnbext.config.toml_source import TomlSource
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
    "load_builder_config",
]

ConfigPath = tuple[str | int, ...]

DOCKER_PREFIX = "docker://"
REGISTRY_PREFIX = "urn:cnb:registry:"

# Semantic Versioning 2.0.0's own regular expression (semver.org). pack's parser also takes
# "1.2" or "v1.2.3", but the version names a release to download
# (lifecycle-v{version}+linux.{arch}.tgz), and those shorthands name no release.
_SEMVER_RE = re.compile(
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?"
)
_SCHEME_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
# Buildpack ids are letters, digits, '.', '/' and '-' (buildpack.md).
_REGISTRY_RE = re.compile(r"urn:cnb:registry:[A-Za-z0-9./-]+(?:@[^@\s]+)?")

_MODULE_KINDS: tuple[tuple[str, Literal["buildpack", "extension"]], ...] = (
    ("buildpacks", "buildpack"),
    ("extensions", "extension"),
)
_APPEND_SUFFIXES = ("append", "prepend")
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
    optional: bool  # always True for extensions: the lifecycle treats them all as optional
    path: ConfigPath


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

    version: str | None
    uri: str | None  # as written; a relative path resolves against BuilderConfig.base_dir
    path: ConfigPath
    sha256: str | None = None  # what the archive must hash to


@dataclass(frozen=True)
class TargetEntry:
    os: str | None
    arch: str | None
    variant: str | None
    distros: tuple[tuple[str, str | None], ...]  # (name, version)


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

    def problem(self, path: ConfigPath, message: str) -> ConfigProblem:
        """A problem found later (e.g. while fetching a module), located in builder.toml."""
        return self.source.problem(path, message)


def load_builder_config(path: Path, display_name: str | None = None) -> BuilderConfig:
    source = TomlSource.read(path, display_name)
    data = source.data()
    problems = schema_problems(source, "builder") + list(_rule_problems(source, data))
    if problems:
        # A rule and the schema can both trip over the same value; say it once.
        raise ConfigError(list(dict.fromkeys(problems)))
    # Absolute but not resolved: pack resolves relative uris against the folder the user named,
    # even when builder.toml is a symlink.
    return _model(source, data, path.absolute().parent)


# --- rules the schema cannot express ---------------------------------------------------------


def _rule_problems(source: TomlSource, data: dict[str, Any]) -> Iterator[ConfigProblem]:
    build = _table(data.get("build"))
    stack = _table(data.get("stack"))
    run = _table(data.get("run"))
    lifecycle = _table(data.get("lifecycle"))

    for ref_path, value in _image_references(data):
        message = _reference_problem(value)
        if message is not None:
            yield source.problem(ref_path, message)

    # Key presence, not truthiness: an empty string is the schema's to report.
    if "image" not in build and "build-image" not in stack:
        yield source.problem(("build", "image"), "build.image is required")
    build_image = _normalized_or_none(build.get("image"))
    stack_build_image = _normalized_or_none(stack.get("build-image"))
    if build_image and stack_build_image and build_image != stack_build_image:
        yield source.problem(
            ("stack", "build-image"), "build.image and stack.build-image do not match"
        )

    images = run.get("images")
    if (images is None or images == []) and "run-image" not in stack:
        yield source.problem(("run", "images"), "run.images are required")
    # ("run.images.image is required" is the schema's, with pack's wording as its x-message.)
    first_run_image = _tables(images)[:1]
    stack_run_image = _normalized_or_none(stack.get("run-image"))
    if first_run_image and stack_run_image:
        run_image = _normalized_or_none(first_run_image[0][1].get("image"))
        if run_image and run_image != stack_run_image:
            yield source.problem(
                ("stack", "run-image"), "run.images and stack.run-image do not match"
            )

    if "version" in lifecycle and "uri" in lifecycle:
        yield source.problem(
            ("lifecycle",), "'lifecycle' can only declare 'version' or 'uri', not both"
        )
    version = lifecycle.get("version")
    if isinstance(version, str) and not _SEMVER_RE.fullmatch(version):
        yield source.problem(
            ("lifecycle", "version"),
            f"'lifecycle.version' must be a valid semver: {_quoted(version)} is not "
            "X.Y.Z[-prerelease][+build] (e.g. 0.20.0)",
        )
    lifecycle_uri = lifecycle.get("uri")
    if isinstance(lifecycle_uri, str) and lifecycle_uri:
        message = _uri_problem(lifecycle_uri, allow_registry=False)
        if message is not None:
            yield source.problem(("lifecycle", "uri"), message)

    for plural, _ in _MODULE_KINDS:
        for index, entry in _tables(data.get(plural)):
            uri = entry.get("uri")
            if isinstance(uri, str) and uri:
                message = _uri_problem(uri, allow_registry=True)
                if message is not None:
                    yield source.problem((plural, index, "uri"), message)

    for index, env in _tables(build.get("env")):
        suffix = env.get("suffix")
        # The lifecycle joins old and new values with the delim file; without it there is none.
        if suffix in _APPEND_SUFFIXES and not env.get("delim"):
            yield source.problem(
                ("build", "env", index, "suffix"),
                "delim is required when suffix is append or prepend",
            )


def _image_references(data: dict[str, Any]) -> Iterator[tuple[ConfigPath, Any]]:
    """Every value that must be an image reference, with where it is."""
    build = _table(data.get("build"))
    stack = _table(data.get("stack"))
    if "image" in build:
        yield ("build", "image"), build["image"]
    for key in ("build-image", "run-image"):
        if key in stack:
            yield ("stack", key), stack[key]
    for index, mirror in _items(stack.get("run-image-mirrors")):
        yield ("stack", "run-image-mirrors", index), mirror
    for index, entry in _tables(_table(data.get("run")).get("images")):
        if "image" in entry:
            yield ("run", "images", index, "image"), entry["image"]
        for mirror_index, mirror in _items(entry.get("mirrors")):
            yield ("run", "images", index, "mirrors", mirror_index), mirror
    for plural, _ in _MODULE_KINDS:
        for index, entry in _tables(data.get(plural)):
            if "image" in entry:
                yield (plural, index, "image"), entry["image"]


def _reference_problem(value: Any) -> str | None:
    if not isinstance(value, str) or value == "":
        return None  # the schema has already reported it
    try:
        parse_reference(value)
    except InvalidReferenceError as err:
        return err.reason
    return None


def _uri_problem(uri: str, *, allow_registry: bool) -> str | None:
    """Why ``uri`` is no source a module (or the lifecycle) can come from, or None."""
    match = _SCHEME_RE.match(uri)
    # No scheme is a path; a one-letter "scheme" is a Windows drive (C:\...).
    if match is None or len(match.group(1)) == 1:
        return None
    scheme = match.group(1)
    rest = uri[match.end() :]
    if scheme == "docker":
        if not rest.startswith("//"):
            return f"{_quoted(uri)} is not a docker uri: write docker://<image>"
        reason = _reference_problem(rest[2:]) if rest[2:] else "reference is empty"
        return None if reason is None else f"invalid image in docker:// uri: {reason}"
    if scheme == "file":
        return (
            None if rest.startswith("//") and rest[2:] else f"{_quoted(uri)} is not a file:// uri"
        )
    if scheme in ("http", "https"):
        return (
            None
            if urlsplit(uri).netloc
            else f"{_quoted(uri)} is not an {scheme}:// url with a host"
        )
    if allow_registry and uri.startswith(REGISTRY_PREFIX):
        if _REGISTRY_RE.fullmatch(uri):
            return None
        return f"{_quoted(uri)} is not a registry uri: write urn:cnb:registry:<id>[@<version>]"
    allowed = "a path, file://, http://, https://, docker://<image>"
    allowed += ", or urn:cnb:registry:<id>[@<version>]" if allow_registry else ""
    message = f"unsupported uri {_quoted(uri)}: use {allowed}"
    if not rest.startswith("//") and scheme != "urn":
        # "a:b" reads as scheme "a"; a relative path with a colon needs a leading "./".
        message += f" (for a path, write ./{uri})"
    return message


# --- the model -------------------------------------------------------------------------------


def _model(source: TomlSource, data: dict[str, Any], base_dir: Path) -> BuilderConfig:
    """Build the model from a file that passed the schema and every rule above."""
    build: dict[str, Any] = data.get("build", {})
    stack: dict[str, Any] = data.get("stack", {})
    run_images = tuple(
        RunImageEntry(
            image=_normalized(entry["image"]),
            mirrors=tuple(_normalized(m) for m in entry.get("mirrors", [])),
            path=("run", "images", index),
        )
        for index, entry in enumerate(data.get("run", {}).get("images", []))
    )
    if not run_images:
        run_images = (
            RunImageEntry(
                image=_normalized(stack["run-image"]),
                mirrors=tuple(_normalized(m) for m in stack.get("run-image-mirrors", [])),
                path=("stack", "run-image"),
            ),
        )
    extend_build, extend_run, metadata_problems = extend_scopes(source, data)
    warnings = metadata_problems
    if "stack" in data:
        warnings.append(
            source.problem(
                ("stack",),
                "[stack] is deprecated; use [build] image and [[run.images]] instead",
            )
        )
    system: dict[str, Any] = data.get("system", {})
    return BuilderConfig(
        source=source,
        base_dir=base_dir,
        description=data.get("description", ""),
        buildpacks=_modules(data, "buildpacks", "buildpack"),
        extensions=_modules(data, "extensions", "extension"),
        order=_groups(data, "order", optional_default=False),
        # Extensions are always optional in a group (the schema refuses `optional` for them).
        order_extensions=_groups(data, "order-extensions", optional_default=True),
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
        run_images=run_images,
        lifecycle=_lifecycle(data.get("lifecycle", {})),
        targets=tuple(
            TargetEntry(
                os=target.get("os"),
                arch=target.get("arch"),
                variant=target.get("variant"),
                distros=tuple((d["name"], d.get("version")) for d in target.get("distros", [])),
            )
            for target in data.get("targets", [])
        ),
        extend_build=extend_build,
        extend_run=extend_run,
        extend_extensions=requests_from_config(data.get("extend", {}).get("extensions", [])),
        warnings=tuple(sorted(warnings, key=ConfigProblem.sort_key)),
    )


def _modules(
    data: dict[str, Any], plural: str, kind: Literal["buildpack", "extension"]
) -> tuple[ModuleEntry, ...]:
    entries = []
    for index, entry in enumerate(data.get(plural, [])):
        uri: str | None = entry.get("uri")
        image: str | None = entry.get("image")
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


def _groups(data: dict[str, Any], key: str, *, optional_default: bool) -> tuple[OrderGroup, ...]:
    return tuple(
        OrderGroup(
            entries=tuple(
                _order_entry(entry, (key, index, "group", position), optional_default)
                for position, entry in enumerate(group.get("group", []))
            ),
            path=(key, index),
        )
        for index, group in enumerate(data.get(key, []))
    )


def _system(system: dict[str, Any], when: str) -> tuple[OrderEntry, ...]:
    entries = system.get(when, {}).get("buildpacks", [])
    return tuple(
        _order_entry(entry, ("system", when, "buildpacks", index), False)
        for index, entry in enumerate(entries)
    )


def _order_entry(entry: dict[str, Any], path: ConfigPath, optional_default: bool) -> OrderEntry:
    return OrderEntry(
        id=entry["id"],
        version=entry.get("version"),
        optional=entry.get("optional", optional_default),
        path=path,
    )


def _lifecycle(lifecycle: dict[str, Any]) -> LifecycleSource | None:
    if "version" not in lifecycle and "uri" not in lifecycle:
        return None  # an empty [lifecycle] means the default, as no [lifecycle] does
    return LifecycleSource(
        lifecycle.get("version"), lifecycle.get("uri"), ("lifecycle",), lifecycle.get("sha256")
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


def _quoted(text: str) -> str:
    # Double quotes, as the schema's messages and imageref's say values.
    return json.dumps(text)


def _normalized(reference: str) -> str:
    return str(parse_reference(reference))


def _normalized_or_none(value: Any) -> str | None:
    """The normalized reference, or None for anything a rule already reports."""
    if not isinstance(value, str):
        return None
    try:
        return _normalized(value)
    except InvalidReferenceError:
        return None


def _table(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _items(value: Any) -> list[tuple[int, Any]]:
    return list(enumerate(value)) if isinstance(value, list) else []


def _tables(value: Any) -> list[tuple[int, dict[str, Any]]]:
    return [(index, item) for index, item in _items(value) if isinstance(item, dict)]
