"""Dockerfiles cnbext writes, and the image-extension rules every Dockerfile must follow.

Generated Dockerfiles follow the same rules as an image extension's build.Dockerfile (CNB
image_extension.md, RFC 0105): one stage, ``ARG base_image`` then ``FROM ${base_image}``, only
the allowed instructions, root only for the install and the base image's own user restored at
the end through the ``user_id`` / ``group_id`` build args. Keeping to the extension contract
means the same lint serves generated files and files written by extension authors.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

ALLOWED_INSTRUCTIONS = frozenset(
    {"FROM", "ADD", "ARG", "COPY", "ENV", "LABEL", "RUN", "SHELL", "USER", "WORKDIR"}
)
BASE_IMAGE_FROM = re.compile(r"^\$\{?base_image\}?$")


@dataclass(frozen=True)
class Instruction:
    line: int  # 1-based line where the instruction starts
    keyword: str  # upper-cased
    arguments: str  # continuation lines joined


def parse_instructions(text: str) -> list[Instruction]:
    """Instructions with their starting line; comments and line continuations handled."""
    instructions: list[Instruction] = []
    pending: list[str] = []
    start_line = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and (not stripped or stripped.startswith("#")):
            continue  # Docker drops comment and empty lines inside a continuation too
        if not pending:
            start_line = number
        if stripped.endswith("\\"):
            pending.append(stripped[:-1])
            continue
        pending.append(stripped)
        joined = " ".join(part.strip() for part in pending if part.strip())
        pending = []
        keyword, _, arguments = joined.partition(" ")
        instructions.append(Instruction(start_line, keyword.upper(), arguments.strip()))
    if pending:
        joined = " ".join(part.strip() for part in pending if part.strip())
        keyword, _, arguments = joined.partition(" ")
        instructions.append(Instruction(start_line, keyword.upper(), arguments.strip()))
    return instructions


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


class DockerfileKind(StrEnum):
    BUILD = "build"
    RUN = "run"


@dataclass(frozen=True)
class LintFinding:
    line: int
    severity: Severity
    message: str

    def format(self, file: str) -> str:
        return f"{file}:{self.line}: {self.severity.value}: {self.message}"


def lint(text: str, kind: DockerfileKind) -> list[LintFinding]:
    """Check a Dockerfile against the image-extension rules for ``kind``."""
    findings: list[LintFinding] = []
    instructions = parse_instructions(text)
    froms = [i for i in instructions if i.keyword == "FROM"]
    if not froms:
        findings.append(LintFinding(1, Severity.ERROR, "no FROM instruction"))
    for extra in froms[1:]:
        findings.append(
            LintFinding(
                extra.line,
                Severity.ERROR,
                "multi-stage Dockerfiles are not allowed: exactly one FROM",
            )
        )
    for instruction in instructions:
        if instruction.keyword not in ALLOWED_INSTRUCTIONS:
            findings.append(
                LintFinding(
                    instruction.line,
                    Severity.WARNING,
                    f"{instruction.keyword} is not an allowed instruction "
                    f"(allowed: {', '.join(sorted(ALLOWED_INSTRUCTIONS))}); it may be ignored",
                )
            )
    if kind is DockerfileKind.BUILD:
        findings.extend(_check_build_preamble(instructions))
    return sorted(findings, key=lambda f: (f.line, f.severity != Severity.ERROR))


def _check_build_preamble(instructions: Sequence[Instruction]) -> list[LintFinding]:
    first = instructions[0] if instructions else None
    if first is None or first.keyword != "ARG" or first.arguments.split("=")[0] != "base_image":
        return [
            LintFinding(
                first.line if first else 1,
                Severity.ERROR,
                "build.Dockerfile must begin with `ARG base_image`",
            )
        ]
    second = instructions[1] if len(instructions) > 1 else None
    if second is None or second.keyword != "FROM" or not _from_base_image(second):
        return [
            LintFinding(
                second.line if second else first.line,
                Severity.ERROR,
                "build.Dockerfile must follow `ARG base_image` with `FROM ${base_image}`",
            )
        ]
    return []


def _from_base_image(instruction: Instruction) -> bool:
    words = [w for w in instruction.arguments.split() if not w.startswith("--platform")]
    return bool(words) and BASE_IMAGE_FROM.match(words[0]) is not None


def install_lines(install_command: str) -> list[str]:
    """The install step: ``build_id`` (default 0) keeps the cache; passing a new value as a
    build arg changes the RUN step's environment and so busts its cache (the CNB extender's
    idiom). Root only for the install itself."""
    run = "RUN " + " \\\n && ".join(install_command.split(" && "))
    return ["ARG build_id=0", "USER root", run]


def restore_user_lines(*, user_has_group: bool) -> list[str]:
    """Back to the base image's User exactly: ``uid:gid`` when it named a group, the bare
    user when it did not (``USER 1000:`` would be an error)."""
    final_user = "USER ${user_id}:${group_id}" if user_has_group else "USER ${user_id}"
    return ["ARG user_id", "ARG group_id", final_user]


def install_dockerfile(install_command: str, *, description: str, user_has_group: bool) -> str:
    """The Dockerfile that installs packages: root for the install, then the base user again."""
    return "\n".join(
        [
            f"# Generated by cnbext: {description}",
            "ARG base_image",
            "FROM ${base_image}",
            *install_lines(install_command),
            *restore_user_lines(user_has_group=user_has_group),
            "",
        ]
    )


def split_user(user: str) -> tuple[str, str]:
    """``user_id`` and ``group_id`` from an image's User, split on ':' as the spec says."""
    name, _, group = user.partition(":")
    return name, group


ROOT_USERS = frozenset({"", "0", "root"})


def is_root_user(user: str) -> bool:
    """An empty User runs as root too, which is the usual case for distro base images."""
    name = split_user(user.strip())[0]
    return name in ROOT_USERS or (name.isdigit() and int(name) == 0)
