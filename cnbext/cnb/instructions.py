"""BuildKit's instruction checks, the step after its parser that the lifecycle runs on every
extension Dockerfile.

The lifecycle (``buildpack/dockerfile.go`` ``parseDockerfile``, v0.21.17) calls
``parser.Parse`` and then ``instructions.Parse`` of moby/buildkit at the version its go.mod pins
(:data:`BUILDKIT_VERSION`). The second step refuses instructions the parser lets through: COPY
with one argument, ``FROM`` with two words, ``ARG =x``, unknown ``--flags``, ``SHELL`` not in
JSON form, and so on. This module is that step, ported function by function from
``frontend/dockerfile/instructions/parse.go``, ``bflag.go``, ``support.go`` and
``commands_run{device,mount,network,security}.go``; each refusal names the function it comes
from (:attr:`Refusal.upstream`) and carries BuildKit's own message.

What it reads is one instruction as the parser left it (:class:`Instruction`, built from the
``dockerfile`` package's nodes). Only what ``instructions.Parse`` itself checks is checked:
``RUN --mount`` values, for instance, are checked there only as CSV and for a ``from=`` with a
variable; the rest of a mount is evaluated at build time, by BuildKit, as cnbext builds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cnbext.cnb.buildkit_values import (
    MILLISECOND,
    BFlags,
    Flag,
    FlagType,
    Refusal,
    RefusedError,
    go_quote,
    must_parse_heredoc,
    parse_device,
    parse_duration,
    parse_int32,
    parse_mount,
    suggested,
)

BUILDKIT_VERSION = "v0.32.2"  # the moby/buildkit that lifecycle v0.21.17's go.mod pins

# frontend/dockerfile/command/command.go Commands, as allInstructionNames gives them.
INSTRUCTION_NAMES = (
    "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL",
    "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
)  # fmt: skip


@dataclass(frozen=True)
class Instruction:
    """One instruction as BuildKit's parser sees it (heredoc bodies belong to it)."""

    line: int  # 1-based line where it starts
    column: int  # 1-based column of its keyword
    keyword: str  # upper-cased
    values: tuple[str, ...]  # its words after flags, as the parser split them
    flags: tuple[str, ...]
    original: str
    command: str = ""  # the keyword as written (BuildKit's messages quote it so)
    json: bool = False  # the arguments were a JSON array (the node's "json" attribute)
    sub_command: str | None = None  # ONBUILD's trigger instruction, as written
    heredocs: tuple[str, ...] = ()  # the names of its heredocs

    def node_args(self) -> list[str]:
        """The instruction's arguments as ``nodeArgs`` (parse.go) lists them."""
        if self.keyword in ("ENV", "LABEL"):
            # BuildKit's parser keeps key, value and the delimiter; the package drops the last.
            pairs = zip(self.values[0::2], self.values[1::2], strict=False)
            return [word for key, value in pairs for word in (key, value, "=")]
        if self.keyword == "ONBUILD":
            return [self.sub_command, *self.values] if self.sub_command is not None else []
        return list(self.values)


def check_instruction(instruction: Instruction) -> Refusal | None:
    """The refusal ``ParseInstruction`` gives ``instruction`` (its first, as BuildKit stops
    there), or None when it accepts it."""
    parse = _PARSERS.get(instruction.keyword)
    try:
        if parse is None:
            written = instruction.command or instruction.keyword
            message = suggested(
                f"unknown instruction: {written}", written, INSTRUCTION_NAMES, case_sensitive=False
            )
            raise RefusedError(message, "ParseInstruction", written)
        parse(instruction, instruction.node_args())
    except RefusedError as refused:
        return refused.refusal
    return None


def flags_of(
    instruction: Instruction,
    upstream: str,
    defaults: dict[str, str] | None = None,
    **declared: FlagType,
) -> dict[str, Flag]:
    """Declare ``declared`` (keyword names, ``_`` for ``-``; a trailing ``_`` dropped) with
    their ``defaults``, parse the instruction's flags, return the declared ones by name.
    ``upstream`` is the function that declares them."""
    bflags = BFlags(instruction.flags, upstream)
    flags = {
        name: bflags.add(name.rstrip("_").replace("_", "-"), kind, (defaults or {}).get(name, ""))
        for name, kind in declared.items()
    }
    bflags.parse()
    return flags


def _at_least_one(command: str, upstream: str) -> RefusedError:
    return RefusedError(f"{command} requires at least one argument", upstream)


def _exactly_one(command: str, upstream: str) -> RefusedError:
    return RefusedError(f"{command} requires exactly one argument", upstream)


def _blank_names(command: str, upstream: str, at: str | None = None) -> RefusedError:
    return RefusedError(f"{command} names can not be blank", upstream, at)


def _parse_kvps(args: list[str], command: str, upstream: str) -> None:
    if not args:
        raise _at_least_one(command, upstream)
    if len(args) % 3:
        raise RefusedError(f"Bad input to {command}, too many arguments", upstream)
    if any(not key for key in args[0::3]):
        raise _blank_names(command, upstream)


def _parse_env(instruction: Instruction, args: list[str]) -> None:
    flags_of(instruction, "parseEnv")
    _parse_kvps(args, "ENV", "parseEnv")


def _parse_maintainer(instruction: Instruction, args: list[str]) -> None:
    if len(args) != 1:
        raise _exactly_one("MAINTAINER", "parseMaintainer")
    flags_of(instruction, "parseMaintainer")


def _parse_label(instruction: Instruction, args: list[str]) -> None:
    flags_of(instruction, "parseLabel")
    _parse_kvps(args, "LABEL", "parseLabel")


def _parse_sources_and_dest(args: list[str], command: str) -> None:
    destination = args[-1]
    if must_parse_heredoc(destination):
        message = f"{command} cannot accept a heredoc as a destination"
        raise RefusedError(message, "parseSourcesAndDest", destination)


def _no_destination(command: str, upstream: str) -> RefusedError:
    message = (
        f"{command} requires at least two arguments, but only one was provided. "
        "Destination could not be determined"
    )
    return RefusedError(message, upstream)


def _parse_add(instruction: Instruction, args: list[str]) -> None:
    if len(args) < 2:
        raise _no_destination("ADD", "parseAdd")
    flags_of(
        instruction,
        "parseAdd",
        chown=FlagType.STRING,
        chmod=FlagType.STRING,
        link=FlagType.BOOL,
        keep_git_dir=FlagType.BOOL,
        checksum=FlagType.STRING,
        unpack=FlagType.BOOL,
        exclude=FlagType.STRINGS,
    )
    _parse_sources_and_dest(args, "ADD")


def _parse_copy(instruction: Instruction, args: list[str]) -> None:
    if len(args) < 2:
        raise _no_destination("COPY", "parseCopy")
    flags_of(
        instruction,
        "parseCopy",
        chown=FlagType.STRING,
        from_=FlagType.STRING,
        chmod=FlagType.STRING,
        link=FlagType.BOOL,
        exclude=FlagType.STRINGS,
        parents=FlagType.BOOL,
    )
    _parse_sources_and_dest(args, "COPY")


_VALID_STAGE_NAME = re.compile(r"[a-z][a-z0-9\-_.]*")


def _parse_build_stage_name(args: list[str]) -> None:
    if len(args) == 3 and args[1].lower() == "as":
        if not _VALID_STAGE_NAME.fullmatch(args[2].lower()):
            message = (
                f"invalid name for build stage: {go_quote(args[2])}, "
                "name can't start with a number or contain symbols"
            )
            raise RefusedError(message, "parseBuildStageName", args[2])
    elif len(args) != 1:
        at = args[1] if len(args) > 1 else None
        raise RefusedError("FROM requires either one or three arguments", "parseBuildStageName", at)


def _parse_from(instruction: Instruction, args: list[str]) -> None:
    _parse_build_stage_name(args)
    flags_of(instruction, "parseFrom", platform=FlagType.STRING)


def _parse_onbuild(instruction: Instruction, args: list[str]) -> None:
    if not args:
        raise _at_least_one("ONBUILD", "parseOnBuild")
    flags_of(instruction, "parseOnBuild")
    trigger = args[0].strip().upper()
    if trigger == "ONBUILD":
        message = "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"
        raise RefusedError(message, "parseOnBuild", args[0])
    if trigger in ("MAINTAINER", "FROM"):
        raise RefusedError(
            f"{trigger} isn't allowed as an ONBUILD trigger", "parseOnBuild", args[0]
        )


def _parse_workdir(instruction: Instruction, args: list[str]) -> None:
    if len(args) != 1:
        raise _exactly_one("WORKDIR", "parseWorkdir")
    flags_of(instruction, "parseWorkdir")


def _parse_run(instruction: Instruction, args: list[str]) -> None:
    # The pre-hooks declare the flags, in the order Go runs the files' init(): rundevice,
    # runmount, runnetwork, runsecurity; the post-hooks check the values in the same order.
    flags = flags_of(
        instruction,
        "parseRun",
        {"network": "default", "security": "sandbox"},
        device=FlagType.STRINGS,
        mount=FlagType.STRINGS,
        network=FlagType.STRING,
        security=FlagType.STRING,
    )
    for device in flags["device"].values:
        parse_device(device)
    for mount in flags["mount"].values:
        parse_mount(mount)
    network = flags["network"].value
    if network not in ("default", "none", "host"):
        message = f"invalid network mode {go_quote(network)}"
        raise RefusedError(message, "runNetworkPostHook", "--network")
    security = flags["security"].value
    if security not in ("insecure", "sandbox"):
        message = f"security {go_quote(security)} is not valid"
        raise RefusedError(message, "runSecurityPostHook", "--security")


def _parse_cmd(instruction: Instruction, args: list[str]) -> None:
    flags_of(instruction, "parseCmd")


def _parse_entrypoint(instruction: Instruction, args: list[str]) -> None:
    flags_of(instruction, "parseEntrypoint")


def _parse_opt_interval(name: str, value: str) -> None:
    """parseOptInterval: empty or 0 is unset; otherwise at least 1ms."""
    if not value:
        return
    try:
        duration = parse_duration(value)
    except RefusedError as refused:
        message = refused.refusal.message
        raise RefusedError(message, "parseOptInterval/time.ParseDuration", f"--{name}") from None
    if duration != 0 and duration < MILLISECOND:
        message = f"Interval {go_quote(name)} cannot be less than 1ms"
        raise RefusedError(message, "parseOptInterval", f"--{name}")


def _parse_healthcheck(instruction: Instruction, args: list[str]) -> None:
    if not args:
        raise _at_least_one("HEALTHCHECK", "parseHealthcheck")
    kind, rest = args[0].upper(), args[1:]
    if kind == "NONE":
        if rest:
            raise RefusedError("HEALTHCHECK NONE takes no arguments", "parseHealthcheck", rest[0])
        return  # flags are not even parsed for NONE
    flags = flags_of(
        instruction,
        "parseHealthcheck",
        interval=FlagType.STRING,
        timeout=FlagType.STRING,
        start_period=FlagType.STRING,
        start_interval=FlagType.STRING,
        retries=FlagType.STRING,
    )
    if kind != "CMD":
        message = f"Unknown type {go_quote(kind)} in HEALTHCHECK (try CMD)"
        raise RefusedError(message, "parseHealthcheck", args[0])
    if not _handle_json_args(rest, instruction.json):
        raise RefusedError("Missing command after HEALTHCHECK CMD", "parseHealthcheck", args[0])
    for name in ("interval", "timeout", "start-period", "start-interval"):
        _parse_opt_interval(name, flags[name.replace("-", "_")].value)
    retries = flags["retries"].value
    if retries:
        count = parse_int32(retries, "parseHealthcheck", "--retries")
        if count < 0:
            message = f"--retries cannot be negative ({count})"
            raise RefusedError(message, "parseHealthcheck", "--retries")


def _parse_expose(instruction: Instruction, args: list[str]) -> None:
    if not args:
        raise _at_least_one("EXPOSE", "parseExpose")
    flags_of(instruction, "parseExpose")


def _parse_user(instruction: Instruction, args: list[str]) -> None:
    if len(args) != 1:
        raise _exactly_one("USER", "parseUser")
    flags_of(instruction, "parseUser")


def _parse_volume(instruction: Instruction, args: list[str]) -> None:
    if not args:
        raise _at_least_one("VOLUME", "parseVolume")
    flags_of(instruction, "parseVolume")
    if any(not volume.strip() for volume in args):
        raise RefusedError("VOLUME specified can not be an empty string", "parseVolume")


def _parse_stop_signal(instruction: Instruction, args: list[str]) -> None:
    if len(args) != 1:  # its flags are never parsed: `STOPSIGNAL --x SIGTERM` passes
        raise _exactly_one("STOPSIGNAL", "parseStopSignal")


def _parse_arg(instruction: Instruction, args: list[str]) -> None:
    if not args:  # nor are ARG's
        raise _at_least_one("ARG", "parseArg")
    for arg in args:
        if "=" in arg and not arg.partition("=")[0]:
            raise _blank_names("ARG", "parseArg", arg)


def _parse_shell(instruction: Instruction, args: list[str]) -> None:
    flags_of(instruction, "parseShell")
    if not _handle_json_args(args, instruction.json):
        raise _at_least_one("SHELL", "parseShell")
    if not instruction.json:
        message = "SHELL requires the arguments to be in JSON form"  # errNotJSON, errors_unix.go
        raise RefusedError(message, "parseShell")


def _handle_json_args(args: list[str], json: bool) -> list[str]:
    """support.go handleJSONArgs: the exec form as is, the shell form as one string."""
    if not args:
        return []
    return list(args) if json else [" ".join(args)]


_PARSERS = {
    "ENV": _parse_env,
    "MAINTAINER": _parse_maintainer,
    "LABEL": _parse_label,
    "ADD": _parse_add,
    "COPY": _parse_copy,
    "FROM": _parse_from,
    "ONBUILD": _parse_onbuild,
    "WORKDIR": _parse_workdir,
    "RUN": _parse_run,
    "CMD": _parse_cmd,
    "HEALTHCHECK": _parse_healthcheck,
    "ENTRYPOINT": _parse_entrypoint,
    "EXPOSE": _parse_expose,
    "USER": _parse_user,
    "VOLUME": _parse_volume,
    "STOPSIGNAL": _parse_stop_signal,
    "ARG": _parse_arg,
    "SHELL": _parse_shell,
}
