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
import shlex
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

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


@dataclass(frozen=True)
class Refusal:
    """What ``instructions.Parse`` says about one instruction it refuses."""

    message: str  # BuildKit's message
    upstream: str  # the function of frontend/dockerfile/instructions that refuses
    at: str | None = None  # the text on the instruction's line the refusal is about


class _RefusedError(Exception):
    def __init__(self, message: str, upstream: str, at: str | None = None) -> None:
        super().__init__(message)
        self.refusal = Refusal(message, upstream, at)


def check_instruction(instruction: Instruction) -> Refusal | None:
    """The refusal ``ParseInstruction`` gives ``instruction`` (its first, as BuildKit stops
    there), or None when it accepts it."""
    parse = _PARSERS.get(instruction.keyword)
    try:
        if parse is None:
            written = instruction.command or instruction.keyword
            message = _suggested(
                f"unknown instruction: {written}", written, INSTRUCTION_NAMES, case_sensitive=False
            )
            raise _RefusedError(message, "ParseInstruction", written)
        parse(instruction, instruction.node_args())
    except _RefusedError as refused:
        return refused.refusal
    return None


# --- bflag.go ------------------------------------------------------------------------------------


class _FlagType(Enum):
    BOOL = "bool"
    STRING = "string"
    STRINGS = "strings"


@dataclass
class _Flag:
    kind: _FlagType
    value: str = ""
    values: tuple[str, ...] = ()


class _BFlags:
    """BFlags: the flags an instruction declares, then Parse over the ones it was given."""

    def __init__(self, args: tuple[str, ...], upstream: str) -> None:
        self.args = args
        self.upstream = f"{upstream}/BFlags.Parse"
        self.flags: dict[str, _Flag] = {}
        self.used: set[str] = set()

    def add(self, name: str, kind: _FlagType, default: str = "") -> _Flag:
        if kind is _FlagType.BOOL:
            default = "true" if default == "true" else "false"
        flag = _Flag(kind, default)
        self.flags[name] = flag
        return flag

    def parse(self) -> None:
        for arg in self.args:
            if arg == "--":
                return  # the end of the flags (POSIX utility syntax), as BuildKit reads it
            if not arg.startswith("--"):
                raise _RefusedError(f"arg should start with -- : {arg}", self.upstream, arg)
            flag_name, has_value, value = arg.partition("=")
            name = flag_name[2:]
            flag = self.flags.get(name)
            if flag is None:
                message = _suggested(
                    f"unknown flag: {flag_name}", name, sorted(self.flags), case_sensitive=True
                )
                raise _RefusedError(message, self.upstream, arg)
            if name in self.used and flag.kind is not _FlagType.STRINGS:
                raise _RefusedError(f"duplicate flag specified: {flag_name}", self.upstream, arg)
            self.used.add(name)
            if flag.kind is _FlagType.BOOL:
                if has_value and value == "":
                    raise _RefusedError(f"missing a value on flag: {flag_name}", self.upstream, arg)
                if value.lower() in ("true", ""):
                    flag.value = "true"
                elif value.lower() == "false":
                    flag.value = "false"
                else:
                    message = f"expecting boolean value for flag {flag_name}, not: {value}"
                    raise _RefusedError(message, self.upstream, arg)
            elif not has_value:
                raise _RefusedError(f"missing a value on flag: {flag_name}", self.upstream, arg)
            elif flag.kind is _FlagType.STRING:
                flag.value = value
            else:
                flag.values = (*flag.values, value)


def _flags(
    instruction: Instruction,
    upstream: str,
    defaults: dict[str, str] | None = None,
    **declared: _FlagType,
) -> dict[str, _Flag]:
    """Declare ``declared`` (keyword names, ``_`` for ``-``; a trailing ``_`` dropped) with
    their ``defaults``, parse the instruction's flags, return the declared ones by name.
    ``upstream`` is the function that declares them."""
    bflags = _BFlags(instruction.flags, upstream)
    flags = {
        name: bflags.add(name.rstrip("_").replace("_", "-"), kind, (defaults or {}).get(name, ""))
        for name, kind in declared.items()
    }
    bflags.parse()
    return flags


# --- parse.go ------------------------------------------------------------------------------------


def _at_least_one(command: str, upstream: str) -> _RefusedError:
    return _RefusedError(f"{command} requires at least one argument", upstream)


def _exactly_one(command: str, upstream: str) -> _RefusedError:
    return _RefusedError(f"{command} requires exactly one argument", upstream)


def _blank_names(command: str, upstream: str, at: str | None = None) -> _RefusedError:
    return _RefusedError(f"{command} names can not be blank", upstream, at)


def _parse_kvps(args: list[str], command: str, upstream: str) -> None:
    if not args:
        raise _at_least_one(command, upstream)
    if len(args) % 3:
        raise _RefusedError(f"Bad input to {command}, too many arguments", upstream)
    if any(not key for key in args[0::3]):
        raise _blank_names(command, upstream)


def _parse_env(instruction: Instruction, args: list[str]) -> None:
    _flags(instruction, "parseEnv")
    _parse_kvps(args, "ENV", "parseEnv")


def _parse_maintainer(instruction: Instruction, args: list[str]) -> None:
    if len(args) != 1:
        raise _exactly_one("MAINTAINER", "parseMaintainer")
    _flags(instruction, "parseMaintainer")


def _parse_label(instruction: Instruction, args: list[str]) -> None:
    _flags(instruction, "parseLabel")
    _parse_kvps(args, "LABEL", "parseLabel")


def _parse_sources_and_dest(args: list[str], command: str) -> None:
    destination = args[-1]
    if _must_parse_heredoc(destination):
        message = f"{command} cannot accept a heredoc as a destination"
        raise _RefusedError(message, "parseSourcesAndDest", destination)


def _no_destination(command: str, upstream: str) -> _RefusedError:
    message = (
        f"{command} requires at least two arguments, but only one was provided. "
        "Destination could not be determined"
    )
    return _RefusedError(message, upstream)


def _parse_add(instruction: Instruction, args: list[str]) -> None:
    if len(args) < 2:
        raise _no_destination("ADD", "parseAdd")
    _flags(
        instruction,
        "parseAdd",
        chown=_FlagType.STRING,
        chmod=_FlagType.STRING,
        link=_FlagType.BOOL,
        keep_git_dir=_FlagType.BOOL,
        checksum=_FlagType.STRING,
        unpack=_FlagType.BOOL,
        exclude=_FlagType.STRINGS,
    )
    _parse_sources_and_dest(args, "ADD")


def _parse_copy(instruction: Instruction, args: list[str]) -> None:
    if len(args) < 2:
        raise _no_destination("COPY", "parseCopy")
    _flags(
        instruction,
        "parseCopy",
        chown=_FlagType.STRING,
        from_=_FlagType.STRING,
        chmod=_FlagType.STRING,
        link=_FlagType.BOOL,
        exclude=_FlagType.STRINGS,
        parents=_FlagType.BOOL,
    )
    _parse_sources_and_dest(args, "COPY")


_VALID_STAGE_NAME = re.compile(r"[a-z][a-z0-9\-_.]*")


def _parse_build_stage_name(args: list[str]) -> None:
    if len(args) == 3 and args[1].lower() == "as":
        if not _VALID_STAGE_NAME.fullmatch(args[2].lower()):
            message = (
                f"invalid name for build stage: {_go_quote(args[2])}, "
                "name can't start with a number or contain symbols"
            )
            raise _RefusedError(message, "parseBuildStageName", args[2])
    elif len(args) != 1:
        at = args[1] if len(args) > 1 else None
        raise _RefusedError(
            "FROM requires either one or three arguments", "parseBuildStageName", at
        )


def _parse_from(instruction: Instruction, args: list[str]) -> None:
    _parse_build_stage_name(args)
    _flags(instruction, "parseFrom", platform=_FlagType.STRING)


def _parse_onbuild(instruction: Instruction, args: list[str]) -> None:
    if not args:
        raise _at_least_one("ONBUILD", "parseOnBuild")
    _flags(instruction, "parseOnBuild")
    trigger = args[0].strip().upper()
    if trigger == "ONBUILD":
        message = "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"
        raise _RefusedError(message, "parseOnBuild", args[0])
    if trigger in ("MAINTAINER", "FROM"):
        raise _RefusedError(
            f"{trigger} isn't allowed as an ONBUILD trigger", "parseOnBuild", args[0]
        )


def _parse_workdir(instruction: Instruction, args: list[str]) -> None:
    if len(args) != 1:
        raise _exactly_one("WORKDIR", "parseWorkdir")
    _flags(instruction, "parseWorkdir")


def _parse_run(instruction: Instruction, args: list[str]) -> None:
    # The pre-hooks declare the flags, in the order Go runs the files' init(): rundevice,
    # runmount, runnetwork, runsecurity; the post-hooks check the values in the same order.
    flags = _flags(
        instruction,
        "parseRun",
        {"network": "default", "security": "sandbox"},
        device=_FlagType.STRINGS,
        mount=_FlagType.STRINGS,
        network=_FlagType.STRING,
        security=_FlagType.STRING,
    )
    for device in flags["device"].values:
        _parse_device(device)
    for mount in flags["mount"].values:
        _parse_mount(mount)
    network = flags["network"].value
    if network not in ("default", "none", "host"):
        message = f"invalid network mode {_go_quote(network)}"
        raise _RefusedError(message, "runNetworkPostHook", "--network")
    security = flags["security"].value
    if security not in ("insecure", "sandbox"):
        message = f"security {_go_quote(security)} is not valid"
        raise _RefusedError(message, "runSecurityPostHook", "--security")


def _parse_cmd(instruction: Instruction, args: list[str]) -> None:
    _flags(instruction, "parseCmd")


def _parse_entrypoint(instruction: Instruction, args: list[str]) -> None:
    _flags(instruction, "parseEntrypoint")


def _parse_opt_interval(name: str, value: str) -> None:
    """parseOptInterval: empty or 0 is unset; otherwise at least 1ms."""
    if not value:
        return
    try:
        duration = _parse_duration(value)
    except _RefusedError as refused:
        message = refused.refusal.message
        raise _RefusedError(message, "parseOptInterval/time.ParseDuration", f"--{name}") from None
    if duration != 0 and duration < _MILLISECOND:
        message = f"Interval {_go_quote(name)} cannot be less than 1ms"
        raise _RefusedError(message, "parseOptInterval", f"--{name}")


def _parse_healthcheck(instruction: Instruction, args: list[str]) -> None:
    if not args:
        raise _at_least_one("HEALTHCHECK", "parseHealthcheck")
    kind, rest = args[0].upper(), args[1:]
    if kind == "NONE":
        if rest:
            raise _RefusedError("HEALTHCHECK NONE takes no arguments", "parseHealthcheck", rest[0])
        return  # flags are not even parsed for NONE
    flags = _flags(
        instruction,
        "parseHealthcheck",
        interval=_FlagType.STRING,
        timeout=_FlagType.STRING,
        start_period=_FlagType.STRING,
        start_interval=_FlagType.STRING,
        retries=_FlagType.STRING,
    )
    if kind != "CMD":
        message = f"Unknown type {_go_quote(kind)} in HEALTHCHECK (try CMD)"
        raise _RefusedError(message, "parseHealthcheck", args[0])
    if not _handle_json_args(rest, instruction.json):
        raise _RefusedError("Missing command after HEALTHCHECK CMD", "parseHealthcheck", args[0])
    for name in ("interval", "timeout", "start-period", "start-interval"):
        _parse_opt_interval(name, flags[name.replace("-", "_")].value)
    retries = flags["retries"].value
    if retries:
        count = _parse_int32(retries, "parseHealthcheck", "--retries")
        if count < 0:
            message = f"--retries cannot be negative ({count})"
            raise _RefusedError(message, "parseHealthcheck", "--retries")


def _parse_expose(instruction: Instruction, args: list[str]) -> None:
    if not args:
        raise _at_least_one("EXPOSE", "parseExpose")
    _flags(instruction, "parseExpose")


def _parse_user(instruction: Instruction, args: list[str]) -> None:
    if len(args) != 1:
        raise _exactly_one("USER", "parseUser")
    _flags(instruction, "parseUser")


def _parse_volume(instruction: Instruction, args: list[str]) -> None:
    if not args:
        raise _at_least_one("VOLUME", "parseVolume")
    _flags(instruction, "parseVolume")
    if any(not volume.strip() for volume in args):
        raise _RefusedError("VOLUME specified can not be an empty string", "parseVolume")


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
    _flags(instruction, "parseShell")
    if not _handle_json_args(args, instruction.json):
        raise _at_least_one("SHELL", "parseShell")
    if not instruction.json:
        message = "SHELL requires the arguments to be in JSON form"  # errNotJSON, errors_unix.go
        raise _RefusedError(message, "parseShell")


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


# --- commands_rundevice.go, commands_runmount.go -------------------------------------------------


def _parse_device(value: str) -> None:
    """ParseDevice: a name, then key=value fields (name, required)."""
    fields = _csv_fields(value, "failed to parse csv devices", "ParseDevice", "--device")
    name = ""
    for field in fields:
        key, has_value, field_value = field.partition("=")
        key = key.lower()
        if not has_value:
            if key == "required":
                continue
            if not name:
                name = field
                continue
            message = f"invalid field '{field}' must be a key=value pair"
            raise _RefusedError(message, "ParseDevice", "--device")
        if key == "name":
            if name:
                raise _RefusedError(f"device name already set to {name}", "ParseDevice", "--device")
            name = field_value
        elif key == "required":
            if field_value not in _GO_BOOLS:
                message = f"invalid value for {key}: {field_value}"
                raise _RefusedError(message, "ParseDevice", "--device")
        elif not name:
            name = field
        else:
            message = _suggested(
                f"unexpected key '{key}' in '{field}'", key, ["name", "required"], True
            )
            raise _RefusedError(message, "ParseDevice", "--device")


def _parse_mount(value: str) -> None:
    """parseMount without an expander, as instructions.Parse calls it: the fields are CSV, and
    ``from`` takes no variable; every other field is evaluated at build time."""
    for field in _csv_fields(value, "failed to parse csv mounts", "parseMount", "--mount"):
        key, has_value, field_value = field.partition("=")
        if has_value and key.lower() == "from":
            dollar = field_value.find("$")
            if dollar not in (-1, len(field_value) - 1):
                message = "'from' doesn't support variable expansion, define alias stage instead"
                raise _RefusedError(message, "parseMount", "--mount")


def _csv_fields(line: str, context: str, upstream: str, at: str) -> list[str]:
    """tonistiigi/go-csvvalue Fields (one CSV record, encoding/csv's errors)."""
    if line.endswith("\n"):
        line = line[:-2] if line.endswith("\r\n") else line[:-1]
    if not line:
        raise _RefusedError(f"{context}: EOF", upstream, at)

    def error(position: int, what: str) -> _RefusedError:
        message = f"{context}: parse error on line 1, column {position + 1}: {what}"
        return _RefusedError(message, upstream, at)

    fields: list[str] = []
    position = 0
    while True:
        if not line or line[0] != '"':
            comma = line.find(",")
            field = line[:comma] if comma >= 0 else line
            quote = field.find('"')
            if quote >= 0:
                raise error(position + len(field[:quote].encode()), 'bare " in non-quoted field')
            fields.append(field)
            if comma < 0:
                return fields
            position += len(line[: comma + 1].encode())
            line = line[comma + 1 :]
            continue
        line, position = line[1:], position + 1
        pieces: list[str] = []
        while True:
            quote = line.find('"')
            if quote < 0:
                raise error(position, 'extraneous or missing " in quoted field')
            pieces.append(line[:quote])
            position += len(line[: quote + 1].encode())
            line = line[quote + 1 :]
            if line.startswith('"'):
                pieces.append('"')
                line, position = line[1:], position + 1
            elif line.startswith(","):
                fields.append("".join(pieces))
                line, position = line[1:], position + 1
                break
            elif not line:
                fields.append("".join(pieces))
                return fields
            else:
                raise error(position - 1, 'extraneous or missing " in quoted field')


# --- the Go library functions the checks lean on -------------------------------------------------

# strconv.ParseBool's spellings.
_GO_BOOLS = frozenset(
    {"1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False"}
)
_MILLISECOND = 1_000_000
_UNITS = {
    b"ns": 1,
    b"us": 1_000,
    "µs".encode(): 1_000,  # U+00B5, the micro sign
    "μs".encode(): 1_000,  # U+03BC, the Greek mu
    b"ms": 1_000_000,
    b"s": 1_000_000_000,
    b"m": 60 * 1_000_000_000,
    b"h": 3600 * 1_000_000_000,
}


def _parse_duration(text: str) -> int:
    """Go's time.ParseDuration, in nanoseconds: ``[-+]?([0-9]*(\\.[0-9]*)?[a-z]+)+``."""
    original = text
    invalid = _RefusedError(f"time: invalid duration {_go_quote(original)}", "time.ParseDuration")
    data = text.encode()
    negative = False
    if data[:1] in (b"-", b"+"):
        negative = data[:1] == b"-"
        data = data[1:]
    if data == b"0":
        return 0
    if not data:
        raise invalid
    total = 0
    while data:
        if not (data[:1] == b"." or data[:1].isdigit()):
            raise invalid
        digits = len(data) - len(data.lstrip(b"0123456789"))
        whole = int(data[:digits]) if digits else 0
        if whole > 1 << 63:
            raise invalid
        data = data[digits:]
        fraction, scale, post = 0, 1.0, False
        if data[:1] == b".":
            data = data[1:]
            fraction_digits = len(data) - len(data.lstrip(b"0123456789"))
            post = fraction_digits > 0
            for digit in data[:fraction_digits]:
                following = fraction * 10 + digit - 48
                if fraction > ((1 << 63) - 1) // 10 or following > 1 << 63:
                    break  # Go stops scaling at the overflow and ignores the digits left
                fraction, scale = following, scale * 10
            data = data[fraction_digits:]
        if not digits and not post:
            raise invalid
        unit_end = 0
        while unit_end < len(data) and not (
            data[unit_end : unit_end + 1] == b"." or data[unit_end : unit_end + 1].isdigit()
        ):
            unit_end += 1
        if unit_end == 0:
            raise _RefusedError(
                f"time: missing unit in duration {_go_quote(original)}", "time.ParseDuration"
            )
        unit_text, data = data[:unit_end], data[unit_end:]
        unit = _UNITS.get(unit_text)
        if unit is None:
            name = _go_quote(unit_text.decode(errors="replace"))
            message = f"time: unknown unit {name} in duration {_go_quote(original)}"
            raise _RefusedError(message, "time.ParseDuration")
        if whole > (1 << 63) // unit:
            raise invalid
        whole *= unit
        if fraction > 0:
            whole += int(float(fraction) * (float(unit) / scale))
            if whole > 1 << 63:
                raise invalid
        total += whole
        if total > 1 << 63:
            raise invalid
    if negative:
        return -total
    if total > (1 << 63) - 1:
        raise invalid
    return total


def _parse_int32(text: str, caller: str, at: str) -> int:
    """Go's strconv.ParseInt(text, 10, 32), as ``caller`` calls it."""
    upstream = f"{caller}/strconv.ParseInt"
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        message = f"strconv.ParseInt: parsing {_go_quote(text)}: invalid syntax"
        raise _RefusedError(message, upstream, at)
    value = int(text)
    if not -(1 << 31) <= value < 1 << 31:
        message = f"strconv.ParseInt: parsing {_go_quote(text)}: value out of range"
        raise _RefusedError(message, upstream, at)
    return value


def _must_parse_heredoc(word: str) -> bool:
    """parser.MustParseHeredoc: is ``word`` a heredoc marker (``<<EOF``, ``<<-"EOF"``, ...)?"""
    match = re.fullmatch(r"([0-9]*)<<(-?)[\t\n\f\r ]*([^<]*)", word)
    if match is None or not match.group(3):
        return False
    try:
        words = shlex.split(match.group(3), comments=False, posix=True)
    except ValueError:
        return False  # a lexing error: MustParseHeredoc discards it
    return len(words) == 1


def _levenshtein(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b))
            )
        previous = current
    return previous[-1]


def _suggested(message: str, value: str, options: Iterable[str], case_sensitive: bool) -> str:
    """util/suggest WrapError: the closest option under distance 3, if any (Go walks a map
    there, so between equally close options it picks at random; this takes the first)."""
    wanted = value if case_sensitive else value.lower()
    match, best = "", 3
    for option in sorted(options):
        candidate = option if case_sensitive else option.lower()
        if candidate == wanted:
            return message
        distance = _levenshtein(wanted, candidate)
        if distance < best:
            match, best = candidate, distance
            if not case_sensitive and value == value.upper():
                match = candidate.upper()  # matchCase; otherwise the lower-cased option
    return f"{message} (did you mean {match}?)" if match else message


def _go_quote(text: str) -> str:
    """strconv.Quote / %q / %#v of a string, for the printable text Dockerfiles hold."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    escaped = escaped.replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")
    return f'"{escaped}"'
