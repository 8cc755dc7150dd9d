"""builder.toml's rules that a schema cannot say well, with pack's wording where pack has one.

Two kinds: rules that relate several keys (``[build]`` against the deprecated ``[stack]``,
``lifecycle.version`` against ``lifecycle.uri``, ``suffix`` against ``delim``, a distro's name
against its target's os) and rules that need a real parser (image references, pack's semver,
module uris). They run on the raw data even when the schema found problems, so they tolerate
values of the wrong type (the schema reports those). Warnings are what pack warns about (an
empty order, an empty env value, an env file given twice, ``uri`` beside ``image``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from cnbext.cnb.imageref import InvalidReferenceError, parse_reference
from cnbext.cnb.semver import normalize_lifecycle_version
from cnbext.config.toml_source import TomlSource
from cnbext.errors import ConfigProblem
from cnbext.sources.uri import redact_url

__all__ = ["MODULE_TABLES", "normalized_or_none", "rule_problems", "rule_warnings"]

ConfigPath = tuple[str | int, ...]

REGISTRY_PREFIX = "urn:cnb:registry:"
MODULE_TABLES = ("buildpacks", "extensions")

_SCHEME_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
# Buildpack ids are letters, digits, '.', '/' and '-' (buildpack.md).
_REGISTRY_RE = re.compile(r"urn:cnb:registry:[A-Za-z0-9./-]+(?:@[^@\s]+)?")
_APPEND_SUFFIXES = ("append", "prepend")


def rule_problems(source: TomlSource, data: dict[str, Any]) -> Iterator[ConfigProblem]:
    for ref_path, value in _image_references(data):
        message = _reference_problem(value)
        if message is not None:
            yield source.problem(ref_path, message)
    yield from _image_problems(source, data)
    yield from _lifecycle_problems(source, _table(data.get("lifecycle")))
    for plural in MODULE_TABLES:
        for index, entry in _tables(data.get(plural)):
            uri = entry.get("uri")
            if isinstance(uri, str) and uri:
                message = _uri_problem(uri, allow_registry=True)
                if message is not None:
                    yield source.problem((plural, index, "uri"), message)
    for index, env in _tables(_table(data.get("build")).get("env")):
        # The lifecycle joins old and new values with the delim file; without it there is none.
        if env.get("suffix") in _APPEND_SUFFIXES and not env.get("delim"):
            yield source.problem(
                ("build", "env", index, "suffix"),
                "delim is required when suffix is append or prepend",
            )
    yield from _distro_problems(source, data)


def rule_warnings(source: TomlSource, data: dict[str, Any]) -> Iterator[ConfigProblem]:
    """What pack warns about; only called for a file without problems."""
    if not data.get("order"):
        yield source.problem(("order",), "empty 'order' definition")
    for plural in MODULE_TABLES:
        for index, entry in _tables(data.get(plural)):
            if "uri" in entry and "image" in entry:
                yield source.problem(
                    (plural, index, "image"),
                    "both `uri` and `image` are given: `uri` is used (as pack does); remove one",
                    key=True,
                )
    seen: dict[str, int] = {}
    for index, env in _tables(_table(data.get("build")).get("env")):
        path = ("build", "env", index)
        if env.get("value") == "":
            yield source.problem((*path, "value"), f"empty value for key/name {env.get('name')!r}")
        suffix = env.get("suffix")
        file_name = f"{env.get('name')}.{suffix}" if suffix else str(env.get("name"))
        if file_name in seen:
            yield source.problem(
                path,
                f"overrides [[build.env]] {seen[file_name]} (both write "
                f"/cnb/build-config/env/{file_name}); the last one wins",
            )
        seen[file_name] = index


def _image_problems(source: TomlSource, data: dict[str, Any]) -> Iterator[ConfigProblem]:
    """pack's ValidateConfig after ReadConfig's mergeStackWithImages (RFC 0096): [build] image
    replaces stack.build-image and [[run.images]] stack.run-image before anything is compared,
    so the "do not match" errors of ValidateConfig cannot fire through `pack builder create`
    (a differing [stack] is a warning here, :func:`stack_warnings`)."""
    build = _table(data.get("build"))
    stack = _table(data.get("stack"))
    # Key presence, not truthiness: an empty string is the schema's to report.
    if "image" not in build and "build-image" not in stack:
        yield source.problem(("build", "image"), "build.image is required")
    images = _table(data.get("run")).get("images")
    if (images is None or images == []) and "run-image" not in stack:
        yield source.problem(("run", "images"), "run.images are required")
    # ("run.images.image is required" is the schema's, with pack's wording as its x-message.)


def stack_warnings(source: TomlSource, data: dict[str, Any]) -> list[ConfigProblem]:
    """[stack] images that [build] image or [[run.images]] override, as pack overrides them."""
    build = _table(data.get("build"))
    stack = _table(data.get("stack"))
    warnings = []
    build_image = normalized_or_none(build.get("image"))
    stack_build_image = normalized_or_none(stack.get("build-image"))
    if build_image and stack_build_image and build_image != stack_build_image:
        message = (
            "stack.build-image differs from build.image, which replaces it "
            "(pack's mergeStackWithImages, RFC 0096)"
        )
        warnings.append(source.problem(("stack", "build-image"), message))
    first_run_image = _tables(_table(data.get("run")).get("images"))[:1]
    stack_run_image = normalized_or_none(stack.get("run-image"))
    if first_run_image and stack_run_image:
        run_image = normalized_or_none(first_run_image[0][1].get("image"))
        if run_image and run_image != stack_run_image:
            message = (
                "stack.run-image differs from the first [[run.images]], which replaces it "
                "(pack's mergeStackWithImages, RFC 0096)"
            )
            warnings.append(source.problem(("stack", "run-image"), message))
    return warnings


def _lifecycle_problems(source: TomlSource, lifecycle: dict[str, Any]) -> Iterator[ConfigProblem]:
    if "version" in lifecycle and "uri" in lifecycle:
        yield source.problem(
            ("lifecycle",), "'lifecycle' can only declare 'version' or 'uri', not both"
        )
    version = lifecycle.get("version")
    if isinstance(version, str) and normalize_lifecycle_version(version) is None:
        yield source.problem(
            ("lifecycle", "version"),
            f"'lifecycle.version' must be a valid semver: {_quoted(version)} is not "
            "[v]X[.Y[.Z]][-prerelease][+build] (e.g. 0.21.0, 0.21 or v0.21.1)",
        )
    uri = lifecycle.get("uri")
    if isinstance(uri, str) and uri:
        message = _uri_problem(uri, allow_registry=False)
        if message is not None:
            yield source.problem(("lifecycle", "uri"), message)


def _distro_problems(source: TomlSource, data: dict[str, Any]) -> Iterator[ConfigProblem]:
    """A distro is named, except on Windows, where the version alone is the OS build (pack
    writes such targets; its --target parser refuses a version without a name elsewhere)."""
    for index, target in _tables(data.get("targets")):
        if target.get("os") == "windows":
            continue
        for distro_index, distro in _tables(target.get("distros")):
            if "name" not in distro and "version" in distro:
                yield source.problem(
                    ("targets", index, "distros", distro_index),
                    f"distro version {_quoted(str(distro['version']))} cannot be given without "
                    "the distro's name (only a windows target may give a version alone)",
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
    for plural in MODULE_TABLES:
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


def _quoted(text: str) -> str:
    # Double quotes, as the schema's messages and imageref's say values; never a password.
    return json.dumps(redact_url(text))


def normalized_or_none(value: Any) -> str | None:
    """The normalized reference, or None for anything a rule already reports."""
    if not isinstance(value, str):
        return None
    try:
        return str(parse_reference(value))
    except InvalidReferenceError:
        return None


def _table(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _items(value: Any) -> list[tuple[int, Any]]:
    return list(enumerate(value)) if isinstance(value, list) else []


def _tables(value: Any) -> list[tuple[int, dict[str, Any]]]:
    return [(index, item) for index, item in _items(value) if isinstance(item, dict)]
