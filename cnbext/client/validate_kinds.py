"""What kind of file a path to ``cnbext validate`` is: by the exact names pack and the
lifecycle open, by a command's config name (a prefix allowed), else by the keys only one kind
of TOML file has."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path


class Kind(StrEnum):
    BUILDER = "builder"
    EXTEND = "extend"
    EXTEND_BUILDER = "extend-builder"
    EXTENSION = "extension"
    BUILDPACK = "buildpack"
    EXTEND_CONFIG = "extend-config"
    PLAN = "plan"
    BUILD_DOCKERFILE = "build.Dockerfile"
    RUN_DOCKERFILE = "run.Dockerfile"
    LOCK = "lock"


# The files pack and the lifecycle read from a module or an extension's output, by their exact
# names (the lifecycle opens extension.toml, plan.toml, build.Dockerfile, ..., nothing else).
_EXACT_NAMES: dict[str, Kind] = {
    "extend-config.toml": Kind.EXTEND_CONFIG,
    "build.Dockerfile": Kind.BUILD_DOCKERFILE,
    "run.Dockerfile": Kind.RUN_DOCKERFILE,
    "extension.toml": Kind.EXTENSION,
    "buildpack.toml": Kind.BUILDPACK,
    "plan.toml": Kind.PLAN,
}
# The config files a command is given (--config), longest first so "extend-builder.toml" is not
# read as "builder.toml". A name may carry a prefix ("my-builder.toml", "ci.extend.toml"), as
# repositories with several keep them.
_CONFIG_NAMES: tuple[tuple[str, Kind], ...] = (
    ("extend-builder.toml", Kind.EXTEND_BUILDER),
    ("builder.toml", Kind.BUILDER),
    ("extend.toml", Kind.EXTEND),
    ("extend.lock", Kind.LOCK),
)
DOCKERFILES = (Kind.BUILD_DOCKERFILE, Kind.RUN_DOCKERFILE)
# Files checked inside a module folder besides its descriptor (e.g. an extension's fixtures).
FOLDER_MEMBERS = (Kind.BUILD_DOCKERFILE, Kind.RUN_DOCKERFILE, Kind.EXTEND_CONFIG, Kind.PLAN)


def kind_of(path: Path) -> Kind | None:
    """The kind a file's name says (else, for a .toml, its keys); for a folder, the kind of
    the descriptor at its root."""
    if path.is_dir():
        for name, kind in (("extension.toml", Kind.EXTENSION), ("buildpack.toml", Kind.BUILDPACK)):
            if (path / name).is_file():
                return kind
        return None
    return _named(path.name) or (_sniffed(path) if path.suffix in (".toml", ".lock") else None)


def _named(name: str) -> Kind | None:
    if name in _EXACT_NAMES:
        return _EXACT_NAMES[name]
    for config, kind in _CONFIG_NAMES:
        if name == config or name.endswith(("-" + config, "." + config, "_" + config)):
            return kind
    return None


# Top-level keys only one kind of file has (builder.toml's are pack's sections).
_BUILDER_KEYS = frozenset(
    {"buildpacks", "extensions", "order", "order-extensions", "system", "stack", "lifecycle"}
)


_LOCK_KEYS = frozenset({"version", "platforms", "run-image"})


def _sniffed(path: Path) -> Kind | None:
    """The kind of a .toml whose name says nothing (e.g. ``paketo-jammy-base.toml``), from
    keys only one kind has; None when unsure (extend.toml and extend-builder.toml look alike).
    A ``.lock`` is a lock when it has a lock's keys only."""
    import tomllib

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    keys = set(data)
    if path.suffix == ".lock":  # cnbext's lock under any name (builder.lock); not poetry's
        return Kind.LOCK if {"version", "platforms"} <= keys <= _LOCK_KEYS else None
    if "extension" in keys:
        return Kind.EXTENSION
    if "buildpack" in keys:
        return Kind.BUILDPACK
    if keys & _BUILDER_KEYS or (isinstance(data.get("build"), dict) and "image" in data["build"]):
        return Kind.BUILDER
    if keys and keys <= {"provides", "requires", "or"}:
        return Kind.PLAN
    args = [data.get(k) for k in ("build", "run")]
    if any(isinstance(a, dict) and "args" in a for a in args) and keys <= {"build", "run"}:
        return Kind.EXTEND_CONFIG
    return None
