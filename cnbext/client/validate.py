"""``cnbext validate``: check config files and module folders offline, as the commands would.

Made for CI: no engine, no network, nothing written. Each file is checked by the very loader the
commands use (so validate can never pass what a command refuses), and every problem comes out as
``file:line:col: $.path: message``. Only jsonschema and tomlkit are imported, never Docker's
client: checking a large builder.toml takes milliseconds.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from cnbext.errors import ConfigError, ConfigProblem, SourcePosition, UsageError

__all__ = ["FileReport", "Kind", "kind_of", "validate_paths"]


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


# File names, longest first so "extend-builder.toml" is not read as "builder.toml". A name may
# carry a prefix ("my-builder.toml", "ci.extend.toml"), as repositories with several keep them.
_NAMES: tuple[tuple[str, Kind], ...] = (
    ("extend-builder.toml", Kind.EXTEND_BUILDER),
    ("extend-config.toml", Kind.EXTEND_CONFIG),
    ("build.Dockerfile", Kind.BUILD_DOCKERFILE),
    ("run.Dockerfile", Kind.RUN_DOCKERFILE),
    ("extension.toml", Kind.EXTENSION),
    ("buildpack.toml", Kind.BUILDPACK),
    ("builder.toml", Kind.BUILDER),
    ("extend.toml", Kind.EXTEND),
    ("plan.toml", Kind.PLAN),
    ("extend.lock", Kind.LOCK),
)
# Files checked inside a module folder besides its descriptor (e.g. an extension's fixtures).
_FOLDER_MEMBERS = (Kind.BUILD_DOCKERFILE, Kind.RUN_DOCKERFILE, Kind.EXTEND_CONFIG, Kind.PLAN)


@dataclass(frozen=True)
class FileReport:
    path: str
    kind: Kind
    problems: tuple[ConfigProblem, ...]
    warnings: tuple[ConfigProblem, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "kind": self.kind.value,
            "problems": [str(p) for p in self.problems],
            "warnings": [str(w) for w in self.warnings],
        }


def kind_of(path: Path) -> Kind | None:
    """The kind a file's name says (else, for a .toml, its keys); for a folder, the kind of
    the descriptor at its root."""
    if path.is_dir():
        for name, kind in (("extension.toml", Kind.EXTENSION), ("buildpack.toml", Kind.BUILDPACK)):
            if (path / name).is_file():
                return kind
        return None
    for name, kind in _NAMES:
        if path.name == name or path.name.endswith(("-" + name, "." + name, "_" + name)):
            return kind
    return _sniffed(path) if path.suffix == ".toml" else None


# Top-level keys only one kind of file has (builder.toml's are pack's sections).
_BUILDER_KEYS = frozenset(
    {"buildpacks", "extensions", "order", "order-extensions", "system", "stack", "lifecycle"}
)


def _sniffed(path: Path) -> Kind | None:
    """The kind of a .toml whose name says nothing (e.g. ``paketo-jammy-base.toml``), from
    keys only one kind has; None when unsure (extend.toml and extend-builder.toml look alike)."""
    import tomllib

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    keys = set(data)
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


def validate_paths(paths: Sequence[Path], kind: Kind | None = None) -> list[FileReport]:
    """A report per file checked (a folder gives one per file in it that has rules)."""
    reports: list[FileReport] = []
    unknown = []
    for path in paths:
        path_kind = kind or kind_of(path)
        if path_kind is None:
            unknown.append(str(path))
        elif path.is_dir():
            reports.extend(_check_folder(path, path_kind))
        else:
            reports.append(_check_file(path, path_kind, str(path)))
    if unknown:
        raise UsageError(
            f"cannot tell what {', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'}",
            hint="name files builder.toml, extension.toml, run.Dockerfile, ... or give --kind; "
            "a folder needs extension.toml or buildpack.toml at its root",
        )
    return reports


def _check_file(path: Path, kind: Kind, display: str) -> FileReport:
    checker = _CHECKERS[kind]
    try:
        warnings = checker(path, display)
        problems: Sequence[ConfigProblem] = ()
    except ConfigError as error:
        warnings, problems = [], error.problems
    return FileReport(display, kind, _located(problems), _located(warnings))


def _located(problems: Iterable[ConfigProblem]) -> tuple[ConfigProblem, ...]:
    """Every line has a JSON path: a whole-file problem (TOML syntax) is about ``$``."""
    return tuple(
        sorted(
            (p if p.path else replace(p, path="$") for p in problems),
            key=ConfigProblem.sort_key,
        )
    )


# --- one checker per kind: the warnings of a valid file, or a ConfigError --------------------


def _builder(path: Path, display: str) -> list[ConfigProblem]:
    from cnbext.config.builder import load_builder_config

    return list(load_builder_config(path, display).warnings)


def _extend(path: Path, display: str) -> list[ConfigProblem]:
    from cnbext.config.extend import load_extend_config

    return list(load_extend_config(path, display).warnings)


def _extend_builder(path: Path, display: str) -> list[ConfigProblem]:
    from cnbext.config.extend_builder import load_extend_builder_config

    return list(load_extend_builder_config(path, display).warnings)


def _extension(path: Path, display: str) -> list[ConfigProblem]:
    from cnbext.config.extension import load_extension_config

    return list(load_extension_config(path, display).warnings)


def _buildpack(path: Path, display: str) -> list[ConfigProblem]:
    from cnbext.config.extension import descriptor_warnings

    source = _schema_checked(path, display, "buildpack")
    warnings = descriptor_warnings(source, "buildpack")
    if "api" not in source.data():
        # pack reads a descriptor without `api` as Buildpack API 0.1, which no lifecycle
        # this century supports: say so now rather than at create-builder time.
        warnings.append(source.problem([], "no `api`: read as Buildpack API 0.1, as pack does"))
    return warnings


def _schema_only(schema: str) -> Callable[[Path, str], list[ConfigProblem]]:
    def check(path: Path, display: str) -> list[ConfigProblem]:
        _schema_checked(path, display, schema)
        return []

    return check


def _schema_checked(path: Path, display: str, schema: str) -> Any:
    from cnbext.config.toml_source import TomlSource
    from cnbext.config.validation import schema_problems

    source = TomlSource.read(path, display)
    problems = schema_problems(source, schema)
    if problems:
        raise ConfigError(problems)
    return source


def _dockerfile(kind_name: str) -> Callable[[Path, str], list[ConfigProblem]]:
    def check(path: Path, display: str) -> list[ConfigProblem]:
        # The extension rules' own check (cnbext.cnb.dockerfile), as generate's outputs get.
        from cnbext.cnb.dockerfile import DockerfileKind, Severity, lint

        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError([_problem(display, 1, "file not found")]) from None
        except (OSError, UnicodeDecodeError) as err:
            raise ConfigError([_problem(display, 1, f"cannot read file: {err}")]) from None
        findings = lint(text, DockerfileKind(kind_name))
        errors = [
            _problem(display, f.line, f.message, f.column)
            for f in findings
            if f.severity is Severity.ERROR
        ]
        if errors:
            raise ConfigError(errors)
        return [_problem(display, f.line, f.message, f.column) for f in findings]

    return check


def _problem(display: str, line: int, message: str, column: int = 1) -> ConfigProblem:
    return ConfigProblem(display, SourcePosition(line, column), "$", message)


def _lock(path: Path, display: str) -> list[ConfigProblem]:
    from cnbext.config.lock import load_lock

    load_lock(path, display)
    return []


_CHECKERS: dict[Kind, Callable[[Path, str], list[ConfigProblem]]] = {
    Kind.LOCK: _lock,
    Kind.BUILDER: _builder,
    Kind.EXTEND: _extend,
    Kind.EXTEND_BUILDER: _extend_builder,
    Kind.EXTENSION: _extension,
    Kind.BUILDPACK: _buildpack,
    Kind.EXTEND_CONFIG: _schema_only("extend-config"),
    Kind.PLAN: _schema_only("plan"),
    Kind.BUILD_DOCKERFILE: _dockerfile("build"),
    Kind.RUN_DOCKERFILE: _dockerfile("run"),
}


# --- module folders --------------------------------------------------------------------------

# The executables each kind must ship (buildpack.md, image_extension.md); a composite
# buildpack ([[order]]) ships none. An extension without bin/detect always detects.
_REQUIRED_BINARIES = {Kind.BUILDPACK: ("detect", "build"), Kind.EXTENSION: ("generate",)}
_OPTIONAL_BINARIES = {Kind.BUILDPACK: (), Kind.EXTENSION: ("detect",)}


def _check_folder(folder: Path, kind: Kind) -> list[FileReport]:
    if kind not in _REQUIRED_BINARIES:
        raise UsageError(f"{folder} is a folder: --kind must be extension or buildpack for it")
    descriptor = folder / f"{kind.value}.toml"
    report = _check_file(descriptor, kind, str(descriptor))
    problems = list(report.problems)
    if not problems:
        problems += _binary_problems(folder, kind, str(descriptor))
    reports = [replace(report, problems=_located(problems))]
    for member, member_kind in _members(folder):
        reports.append(_check_file(member, member_kind, str(member)))
    return reports


def _binary_problems(folder: Path, kind: Kind, display: str) -> list[ConfigProblem]:
    from cnbext.config.toml_source import TomlSource

    if kind is Kind.BUILDPACK and "order" in TomlSource.read(folder / "buildpack.toml").data():
        return []  # a composite buildpack: its group members do the work
    problems = []
    for name in (*_REQUIRED_BINARIES[kind], *_OPTIONAL_BINARIES[kind]):
        binary = folder / "bin" / name
        required = name in _REQUIRED_BINARIES[kind]
        if not binary.exists() and not binary.with_suffix(".exe").exists():
            if required:
                problems.append(_problem(display, 1, f"bin/{name} is missing: {_needs(kind)}"))
        elif binary.is_symlink() and not binary.resolve().is_relative_to(folder.resolve()):
            problems.append(_problem(display, 1, f"bin/{name} links outside the {kind} folder"))
        elif binary.exists() and not os.access(binary, os.X_OK):
            problems.append(_problem(display, 1, f"bin/{name} is not executable (chmod +x)"))
    return problems


def _needs(kind: Kind) -> str:
    if kind is Kind.EXTENSION:
        return "an extension needs an executable bin/generate"
    return "a buildpack needs executable bin/detect and bin/build (or [[order]], if composite)"


def _members(folder: Path) -> list[tuple[Path, Kind]]:
    """Files in the folder with rules of their own; hidden folders and symlinks are skipped
    (a module is hostile input, and a link could lead anywhere)."""
    found = []
    for directory, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            path = Path(directory, name)
            kind = kind_of(path) if not path.is_symlink() else None
            if kind in _FOLDER_MEMBERS:
                assert kind is not None
                found.append((path, kind))
    return found
