"""Dockerfiles cnbext writes, and the image-extension rules every Dockerfile must follow.

Extension Dockerfiles are parsed by BuildKit's own parser (the ``dockerfile`` package wraps
its Go code), so heredocs, ``# escape=``, line continuations and JSON forms read exactly as
BuildKit and the lifecycle (``buildpack/dockerfile.go``) read them; each instruction then goes
through BuildKit's own instruction checks (``instructions.Parse``, ported in
:mod:`cnbext.cnb.instructions`), as the lifecycle runs them. The rules on top are the
lifecycle's: one stage; a build.Dockerfile is ``ARG base_image`` then ``FROM ${base_image}``
(the FROM text compared literally); a run.Dockerfile ``FROM`` other than ``${base_image}``
switches the run image; an instruction BuildKit does not know fails; a known one outside the
recommended list is a warning.

Generated Dockerfiles follow the same rules as an extension's build.Dockerfile (CNB
image_extension.md, RFC 0105): root only for the install, and the base image's own user
restored at the end through the ``user_id`` / ``group_id`` build args.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import dockerfile

from cnbext.cnb.instructions import INSTRUCTION_NAMES, Instruction, check_instruction

# What BuildKit's instruction parser knows (moby/buildkit frontend/dockerfile/instructions/
# parse.go, ParseInstruction); anything else fails there with "unknown instruction".
BUILDKIT_INSTRUCTIONS = frozenset(INSTRUCTION_NAMES)
# The extension spec's list (the lifecycle's recommendedCommands): others only warn.
ALLOWED_INSTRUCTIONS = frozenset(
    {"FROM", "ADD", "ARG", "COPY", "ENV", "LABEL", "RUN", "SHELL", "USER", "WORKDIR"}
)
BASE_IMAGE_ARG = "base_image"
# BuildKit's build arg for reproducible builds: config and history times are set from it.
SOURCE_DATE_EPOCH = "SOURCE_DATE_EPOCH"
# Files the install writes get the build's time; with SOURCE_DATE_EPOCH set, every file the
# install changed (newer than a mark made first, on /dev, which no layer holds) is set to it,
# symlinks themselves included. The pause puts the mark strictly before the first write,
# whatever the clock's granularity. Files of the base are left alone (touching them would
# copy them into the layer).
_MARK = "/dev/.cnbext-install-start"
_MARK_START = f'if [ -n "${{{SOURCE_DATE_EPOCH}:-}}" ]; then touch {_MARK}; sleep 0.1; fi'
_CLAMP_TIMES = (
    f'if [ -n "${{{SOURCE_DATE_EPOCH}:-}}" ]; then find / -xdev -newer {_MARK}'
    f' -exec touch -h -d "@${{{SOURCE_DATE_EPOCH}}}" {{}} +; rm -f {_MARK}; fi'
)
BASE_IMAGE_REF = "${base_image}"  # the lifecycle compares the raw FROM text with this


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


class DockerfileKind(StrEnum):
    BUILD = "build"
    RUN = "run"


@dataclass(frozen=True)
class Finding:
    line: int
    column: int
    severity: Severity
    message: str

    def format(self, file: str) -> str:
        return f"{file}:{self.line}:{self.column}: {self.severity.value}: {self.message}"


@dataclass(frozen=True)
class DockerfileCheck:
    """What the rules say about one Dockerfile."""

    findings: tuple[Finding, ...]
    switch_to: str | None = None  # run.Dockerfile: the image a non-${base_image} FROM names
    extends: bool = True  # it has instructions after FROM (else it only switches)

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity is Severity.ERROR)

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity is Severity.WARNING)


class DockerfileSyntaxError(ValueError):
    """BuildKit's parser refused the text (its message, no position: it gives none)."""


def parse_instructions(text: str) -> list[Instruction]:
    """Every instruction with its position, by BuildKit's parser."""
    try:
        commands = dockerfile.parse_string(text)
    except dockerfile.GoParseError as err:
        if "no instructions" in str(err):
            return []
        raise DockerfileSyntaxError(str(err)) from None
    lines = text.splitlines()
    parsed: list[Instruction] = []
    for command in commands:
        source_line = lines[command.start_line - 1] if command.start_line <= len(lines) else ""
        column = len(source_line) - len(source_line.lstrip()) + 1
        parsed.append(
            Instruction(
                line=command.start_line,
                column=column,
                keyword=command.cmd.upper(),
                values=tuple(command.value),
                flags=tuple(command.flags),
                original=command.original,
                command=command.cmd,
                json=bool(command.json),
                sub_command=command.sub_cmd,
                heredocs=tuple(heredoc.name for heredoc in command.heredocs),
            )
        )
    return parsed


def value_column(text: str, instruction: Instruction, value: str) -> int:
    """Where ``value`` starts on the instruction's first line (its keyword if not there)."""
    lines = text.splitlines()
    line = lines[instruction.line - 1] if instruction.line <= len(lines) else ""
    start = instruction.column - 1 + len(instruction.keyword)
    found = line.find(value, start) if value else -1
    return found + 1 if found >= 0 else instruction.column


def check_dockerfile(text: str, kind: DockerfileKind) -> DockerfileCheck:
    """Check an extension Dockerfile against the rules for ``kind``; for a run.Dockerfile,
    also say which image it switches to (if any) and whether it extends at all."""
    try:
        instructions = parse_instructions(text)
    except DockerfileSyntaxError as err:
        return DockerfileCheck((Finding(1, 1, Severity.ERROR, f"cannot be parsed: {err}"),))
    findings = _instruction_findings(text, instructions)
    froms = [i for i in instructions if i.keyword == "FROM"]
    if not froms:
        message = f"{kind.value}.Dockerfile should have at least one stage (no FROM)"
        findings.append(Finding(1, 1, Severity.ERROR, message))
        return DockerfileCheck(tuple(findings))
    findings += [
        Finding(
            extra.line,
            extra.column,
            Severity.ERROR,
            f"{kind.value}.Dockerfile is not permitted to use multistage build (a second FROM)",
        )
        for extra in froms[1:]
    ]
    first = instructions.index(froms[0])
    findings += [
        Finding(i.line, i.column, Severity.ERROR, f"{i.keyword} before FROM: only ARG may be")
        for i in instructions[:first]
        if i.keyword != "ARG"
    ]
    if kind is DockerfileKind.BUILD:
        findings += _build_preamble(instructions[:first], froms[0])
    image = froms[0].values[0] if froms[0].values else ""
    switch_to = None
    if image != BASE_IMAGE_REF:
        column = value_column(text, froms[0], image)
        if kind is DockerfileKind.BUILD:
            message = f"build.Dockerfile did not contain required FROM {BASE_IMAGE_REF} command"
            findings.append(Finding(froms[0].line, column, Severity.ERROR, message))
        elif "$" in image:
            # The lifecycle compares the text literally: `$base_image` or `${base_image` would
            # be taken for a switch to an image of that name, which cannot exist.
            message = (
                f"FROM {image}: write the base image exactly as {BASE_IMAGE_REF}, or name a "
                "literal image to switch the run image to"
            )
            findings.append(Finding(froms[0].line, column, Severity.ERROR, message))
        else:
            switch_to = image
    ordered = sorted(findings, key=lambda f: (f.line, f.column, f.severity != Severity.ERROR))
    return DockerfileCheck(tuple(ordered), switch_to, extends=len(instructions) > first + 1)


def lint(text: str, kind: DockerfileKind) -> list[Finding]:
    """Every finding for ``text`` as a ``kind`` Dockerfile (errors and warnings)."""
    return list(check_dockerfile(text, kind).findings)


def _instruction_findings(text: str, instructions: list[Instruction]) -> list[Finding]:
    """BuildKit's instructions.Parse over every instruction (the lifecycle stops at its first
    refusal; every one is reported here), and the lifecycle's not-recommended warning."""
    findings: list[Finding] = []
    for instruction in instructions:
        refusal = check_instruction(instruction)
        if refusal is not None:
            column = value_column(text, instruction, refusal.at or "")
            findings.append(Finding(instruction.line, column, Severity.ERROR, refusal.message))
        elif instruction.keyword not in ALLOWED_INSTRUCTIONS:
            message = (
                f"command {instruction.keyword} is not recommended in extension Dockerfiles "
                f"(recommended: {', '.join(sorted(ALLOWED_INSTRUCTIONS))})"
            )
            where = (instruction.line, instruction.column)
            findings.append(Finding(*where, Severity.WARNING, message))
    return findings


def _build_preamble(preamble: list[Instruction], first_from: Instruction) -> list[Finding]:
    """Exactly one ARG before FROM, naming base_image first (the lifecycle's meta-arg check)."""
    args = [i for i in preamble if i.keyword == "ARG"]
    names = [value.split("=", 1)[0] for value in args[0].values] if args else []
    if len(args) == 1 and names[:1] == [BASE_IMAGE_ARG]:
        return []
    where = args[1] if len(args) > 1 else args[0] if args else first_from
    message = "build.Dockerfile did not start with required ARG command (`ARG base_image`)"
    return [Finding(where.line, where.column, Severity.ERROR, message)]


def install_lines(install_command: str) -> list[str]:
    """The install step: ``build_id`` (default 0) keeps the cache; passing a new value as a
    build arg changes the RUN step's environment and so busts its cache (the CNB extender's
    idiom). Root only for the install itself. With SOURCE_DATE_EPOCH given, the files the
    install wrote get that time (see _CLAMP_TIMES); without it the lines do nothing."""
    commands = [_MARK_START, *install_command.split(" && "), _CLAMP_TIMES]
    run = "RUN " + " \\\n && ".join(commands)
    return ["ARG build_id=0", f"ARG {SOURCE_DATE_EPOCH}", "USER root", run]


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
