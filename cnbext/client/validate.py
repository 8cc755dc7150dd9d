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
from pathlib import Path
from typing import Any

from cnbext.client.validate_kinds import (
    DOCKERFILES,
    FOLDER_MEMBERS,
    Kind,
    kind_of,
)
from cnbext.errors import ConfigError, ConfigProblem, ExitCode, SourcePosition, UsageError

__all__ = ["FileReport", "Kind", "ValidateResult", "kind_of", "validate", "validate_paths"]


@dataclass(frozen=True)
class FileReport:
    path: str
    kind: Kind | None  # None: what the file is cannot be told (give --kind)
    problems: tuple[ConfigProblem, ...]
    warnings: tuple[ConfigProblem, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "kind": self.kind.value if self.kind is not None else None,
            "problems": [str(p) for p in self.problems],
            "warnings": [str(w) for w in self.warnings],
        }


@dataclass(frozen=True)
class ValidateResult:
    """What ``validate`` found: a report per file, in the order the paths were given."""

    files: tuple[FileReport, ...]
    strict: bool = False
    unknown: tuple[str, ...] = ()  # the paths whose kind cannot be told

    @property
    def problems(self) -> list[str]:
        return [str(p) for r in self.files for p in r.problems]

    @property
    def warnings(self) -> list[str]:
        return [str(w) for r in self.files for w in r.warnings]

    @property
    def exit_code(self) -> ExitCode:
        """One code per outcome: 2 a path of unknown kind (the others are still checked), 3 a
        problem (under ``strict``, a warning too), 0 none."""
        if self.unknown:
            return ExitCode.USAGE
        if self.problems or (self.strict and self.warnings):
            return ExitCode.CONFIG
        return ExitCode.OK

    def to_dict(self) -> dict[str, Any]:
        return {
            "command": "validate",
            "strict": self.strict,
            "files": [r.to_dict() for r in self.files],
            "problems": self.problems,
            "warnings": self.warnings,
            "error": None,
            "exitCode": int(self.exit_code),
        }


def validate(
    paths: Sequence[Path | str], *, kind: Kind | str | None = None, strict: bool = False
) -> ValidateResult:
    """Check every path: a file by its kind, a module folder whole, any other folder walked to
    every module and config in it. ``kind`` is for the paths whose kind neither name nor keys
    tell; ``strict`` makes every warning fail (exit code 3), for CI."""
    chosen = _kind(kind)
    reports: list[FileReport] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            reports.extend(_check_dir(path, chosen))
            continue
        path_kind = kind_of(path) or chosen
        if path_kind is None and path.exists():
            reports.append(_unknown(path))
        elif path_kind is None or not path.exists():
            missing = _problem(str(path), 1, "file not found")
            reports.append(FileReport(str(path), path_kind, (missing,), ()))
        else:
            reports.append(_check_file(path, path_kind, str(path)))
    unknown = tuple(r.path for r in reports if r.kind is None and Path(r.path).exists())
    return ValidateResult(tuple(_strict(r) if strict else r for r in reports), strict, unknown)


def validate_paths(paths: Sequence[Path], kind: Kind | None = None) -> list[FileReport]:
    """A report per file checked (a folder gives one per file in it that has rules)."""
    return list(validate(paths, kind=kind).files)


def _kind(kind: Kind | str | None) -> Kind | None:
    if kind is None or isinstance(kind, Kind):
        return kind
    chosen = {k.value.lower().replace(".", "-"): k for k in Kind}.get(
        kind.lower().replace(".", "-")
    )
    if chosen is None:
        raise UsageError(
            f"--kind {kind!r} is not a kind: use one of {', '.join(k.value for k in Kind)}"
        )
    return chosen


def _unknown(path: Path) -> FileReport:
    message = (
        "cannot tell what this file is: name it builder.toml, extension.toml, run.Dockerfile, "
        "... or give --kind"
    )
    return FileReport(str(path), None, (_problem(str(path), 1, message, path=""),), ())


def _strict(report: FileReport) -> FileReport:
    """Warnings as problems."""
    problems = tuple(sorted((*report.problems, *report.warnings), key=ConfigProblem.sort_key))
    return replace(report, problems=problems, warnings=())


def _check_dir(folder: Path, kind: Kind | None) -> list[FileReport]:
    """A module folder whole; any other folder walked: every module in it whole, every config
    file by its name or keys (Dockerfiles only count inside an extension)."""
    module_kind = kind_of(folder) or (kind if kind in _REQUIRED_BINARIES else None)
    if module_kind is not None:
        return _check_folder(folder, module_kind)
    reports: list[FileReport] = []
    for directory, dirnames, filenames in os.walk(folder):
        here = Path(directory)
        if here != folder and kind_of(here) is not None:
            reports.extend(_check_folder(here, kind_of(here)))  # type: ignore[arg-type]
            dirnames[:] = []
            continue
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            path = here / name
            file_kind = None if path.is_symlink() else kind_of(path)
            if file_kind is not None and file_kind not in DOCKERFILES:
                reports.append(_check_file(path, file_kind, str(path)))
    return reports


def _check_file(path: Path, kind: Kind, display: str) -> FileReport:
    checker = _CHECKERS[kind]
    try:
        warnings = checker(path, display)
        problems: Sequence[ConfigProblem] = ()
    except ConfigError as error:
        warnings, problems = [], error.problems
    return FileReport(display, kind, _located(problems, kind), _located(warnings, kind))


def _located(
    problems: Iterable[ConfigProblem], kind: Kind | None = None
) -> tuple[ConfigProblem, ...]:
    """Every line of a TOML file has a JSON path: a whole-file problem (TOML syntax) is about
    ``$``. A Dockerfile's have none: its position says where."""
    return tuple(
        sorted(
            (p if p.path or kind in DOCKERFILES else replace(p, path="$") for p in problems),
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
    from cnbext.config.toml_source import toml10_problems

    source, warnings = _schema_checked(path, display, "buildpack")
    if toml10_problems(source):  # pack reads buildpack.toml as TOML 1.0
        raise ConfigError(toml10_problems(source))
    data = source.data()
    if data.get("order") and (data.get("stacks") or data.get("targets")):
        # pack's validateBuildpackDescriptor refuses it before packing anything.
        key = "targets" if data.get("targets") else "stacks"
        raise ConfigError(
            [source.problem([key], "cannot have both 'targets'/'stacks' and an 'order' defined")]
        )
    return warnings + descriptor_warnings(source, "buildpack")


def _extend_config(path: Path, display: str) -> list[ConfigProblem]:
    from cnbext.config.extend_config import extend_config_args
    from cnbext.config.toml_source import TomlSource

    return extend_config_args(TomlSource.read(path, display))[1]


def _plan(path: Path, display: str) -> list[ConfigProblem]:
    return _schema_checked(path, display, "plan")[1]


def _schema_checked(path: Path, display: str, schema: str) -> tuple[Any, list[ConfigProblem]]:
    """The source and its warnings; ConfigError for its problems."""
    from cnbext.config.toml_source import TomlSource
    from cnbext.config.validation import schema_check

    source = TomlSource.read(path, display)
    problems, warnings = schema_check(source, schema)
    if problems:
        raise ConfigError(problems)
    return source, warnings


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
            _problem(display, f.line, f.message, f.column, path="")
            for f in findings
            if f.severity is Severity.ERROR
        ]
        if errors:
            raise ConfigError(errors)
        return [_problem(display, f.line, f.message, f.column, path="") for f in findings]

    return check


def _problem(
    display: str, line: int, message: str, column: int = 1, path: str = "$"
) -> ConfigProblem:
    return ConfigProblem(display, SourcePosition(line, column), path, message)


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
    Kind.EXTEND_CONFIG: _extend_config,
    Kind.PLAN: _plan,
    Kind.BUILD_DOCKERFILE: _dockerfile("build"),
    Kind.RUN_DOCKERFILE: _dockerfile("run"),
}


# --- module folders --------------------------------------------------------------------------

# The executables each kind must ship (buildpack.md, image_extension.md); a composite
# buildpack ([[order]]) ships none. An extension without bin/detect always detects.
_REQUIRED_BINARIES = {Kind.BUILDPACK: ("detect", "build"), Kind.EXTENSION: ("generate",)}
_OPTIONAL_BINARIES = {Kind.BUILDPACK: (), Kind.EXTENSION: ("detect",)}


def _check_folder(folder: Path, kind: Kind) -> list[FileReport]:
    """The descriptor, then each executable with a problem (at its own path), then every file
    in the folder with rules of its own."""
    if kind not in _REQUIRED_BINARIES:
        raise UsageError(f"{folder} is a folder: --kind must be extension or buildpack for it")
    descriptor = folder / f"{kind.value}.toml"
    report = _check_file(descriptor, kind, str(descriptor))
    reports = [report]
    if not report.problems:
        problems, warnings = _binary_problems(folder, kind)
        reports[0] = replace(report, warnings=_located([*report.warnings, *warnings]))
        reports += [FileReport(p.file, kind, (p,), ()) for p in problems]
    for member, member_kind in _members(folder):
        reports.append(_check_file(member, member_kind, str(member)))
    return reports


def _binary_problems(folder: Path, kind: Kind) -> tuple[list[ConfigProblem], list[ConfigProblem]]:
    """The problems (at the executable's path) and warnings of a module's bin/ executables."""
    from cnbext.config.toml_source import TomlSource

    if kind is Kind.BUILDPACK and "order" in TomlSource.read(folder / "buildpack.toml").data():
        return [], []  # a composite buildpack: its group members do the work
    problems: list[ConfigProblem] = []
    warnings: list[ConfigProblem] = []
    descriptor = str(folder / f"{kind.value}.toml")
    for name in (*_REQUIRED_BINARIES[kind], *_OPTIONAL_BINARIES[kind]):
        binary = folder / "bin" / name
        display = str(binary)
        required = name in _REQUIRED_BINARIES[kind]
        if not binary.exists() and not binary.with_suffix(".exe").exists():
            if kind is Kind.EXTENSION and name == "generate" and (folder / "generate").is_dir():
                continue  # the lifecycle reads the ready-made generate/ folder instead
            if required:
                problems.append(_problem(display, 1, f"missing: {_needs(kind)}", path=""))
        elif binary.is_symlink() and not binary.resolve().is_relative_to(folder.resolve()):
            message = f"links outside the {kind} folder"
            problems.append(_problem(display, 1, message, path=""))
        elif binary.exists() and not os.access(binary, os.X_OK):
            message = (
                f"bin/{name} is not executable: pack and cnbext pack it 0755 into an image, "
                "but the lifecycle could not run it from this folder (chmod +x)"
            )
            warnings.append(_problem(descriptor, 1, message, path="$"))
    return problems, warnings


def _needs(kind: Kind) -> str:
    if kind is Kind.EXTENSION:
        return "an extension needs an executable bin/generate or a ready-made generate/ folder"
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
            if kind in FOLDER_MEMBERS:
                assert kind is not None
                found.append((path, kind))
    return found
