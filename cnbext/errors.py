"""Errors users can act on, each with the exit code documented in docs/exit-codes.md.

Everything cnbext refuses to do is raised as a :class:`CnbextError`; the CLI prints its message
(and, for config errors, every located problem) and exits with its code. Anything else escaping
is a bug and exits 1 with a traceback under ``--verbose``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    INTERNAL = 1
    USAGE = 2
    CONFIG = 3
    IMAGE = 4
    BUILD = 5
    PUBLISH = 6
    ENGINE = 7
    INTERRUPTED = 130


class CnbextError(Exception):
    exit_code: ExitCode = ExitCode.INTERNAL

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(CnbextError):
    """Flags that contradict each other or arguments that cannot be used."""

    exit_code = ExitCode.USAGE


@dataclass(frozen=True, order=True)
class SourcePosition:
    line: int
    column: int


@dataclass(frozen=True)
class ConfigProblem:
    """One located problem in a config file: ``file:line:col: $.json.path: message``."""

    file: str
    position: SourcePosition
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.position.line}:{self.position.column}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"

    def sort_key(self) -> tuple[str, SourcePosition, str, str]:
        return (self.file, self.position, self.path, self.message)


class ConfigError(CnbextError):
    """A config file is invalid; carries every problem found, not just the first."""

    exit_code = ExitCode.CONFIG

    def __init__(self, problems: Sequence[ConfigProblem]) -> None:
        self.problems = sorted(problems, key=ConfigProblem.sort_key)
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        files = ", ".join(sorted({p.file for p in self.problems}))
        super().__init__(f"{files}: {count} {noun}; nothing was built")


class ImageError(CnbextError):
    """A base image that cannot be used: missing, unsupported distro, runs as root, ..."""

    exit_code = ExitCode.IMAGE


class BuildError(CnbextError):
    exit_code = ExitCode.BUILD


class PublishError(CnbextError):
    """A push or registry-side copy failed; the message says what was and was not published."""

    exit_code = ExitCode.PUBLISH


class EngineError(CnbextError):
    """No Docker daemon or no buildx to talk to."""

    exit_code = ExitCode.ENGINE


class ExtensionError(CnbextError):
    """An extension failed or broke a rule; exit codes follow the spec's tables."""

    def __init__(self, message: str, *, exit_code: int, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.exit_code = exit_code  # type: ignore[assignment]


# Image extensions' exit codes (docs/exit-codes.md), after the lifecycle's detector,
# generator and extender.
DETECT_ERROR = 21  # detect exited with neither 0 nor 100
DETECT_PLAN_ERROR = 22  # the plan is malformed or has `requires`
GENERATE_ERROR = 91  # generate exited non-zero
# What generate wrote breaks the rules: extend-config.toml, context folders, or a Dockerfile
# (the lifecycle checks Dockerfiles in its generate phase, and fails with 92 too).
GENERATE_OUTPUT_ERROR = 92
ROOT_USER_ERROR = 101  # the run image would run as root
EXTENSION_BUILD_ERROR = 102  # building an extension's Dockerfile failed
