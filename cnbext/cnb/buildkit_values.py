"""The value syntaxes BuildKit's instruction checks read, ported from Go: a ``RUN --device`` or
``--mount`` value (commands_rundevice.go, commands_runmount.go; go-csvvalue's CSV), Go's
durations, int32s and bools, heredoc markers, and the "did you mean" of util/suggest; with the
refusal every check raises. Used by :mod:`cnbext.cnb.instructions`.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum


@dataclass(frozen=True)
class Refusal:
    """What ``instructions.Parse`` says about one instruction it refuses."""

    message: str  # BuildKit's message
    upstream: str  # the function of frontend/dockerfile/instructions that refuses
    at: str | None = None  # the text on the instruction's line the refusal is about


class RefusedError(Exception):
    def __init__(self, message: str, upstream: str, at: str | None = None) -> None:
        super().__init__(message)
        self.refusal = Refusal(message, upstream, at)


# --- bflag.go ------------------------------------------------------------------------------------


class FlagType(Enum):
    BOOL = "bool"
    STRING = "string"
    STRINGS = "strings"


@dataclass
class Flag:
    kind: FlagType
    value: str = ""
    values: tuple[str, ...] = ()


class BFlags:
    """BFlags: the flags an instruction declares, then Parse over the ones it was given."""

    def __init__(self, args: tuple[str, ...], upstream: str) -> None:
        self.args = args
        self.upstream = f"{upstream}/BFlags.Parse"
        self.flags: dict[str, Flag] = {}
        self.used: set[str] = set()

    def add(self, name: str, kind: FlagType, default: str = "") -> Flag:
        if kind is FlagType.BOOL:
            default = "true" if default == "true" else "false"
        flag = Flag(kind, default)
        self.flags[name] = flag
        return flag

    def parse(self) -> None:
        for arg in self.args:
            if arg == "--":
                return  # the end of the flags (POSIX utility syntax), as BuildKit reads it
            if not arg.startswith("--"):
                raise RefusedError(f"arg should start with -- : {arg}", self.upstream, arg)
            flag_name, has_value, value = arg.partition("=")
            name = flag_name[2:]
            flag = self.flags.get(name)
            if flag is None:
                message = suggested(
                    f"unknown flag: {flag_name}", name, sorted(self.flags), case_sensitive=True
                )
                raise RefusedError(message, self.upstream, arg)
            if name in self.used and flag.kind is not FlagType.STRINGS:
                raise RefusedError(f"duplicate flag specified: {flag_name}", self.upstream, arg)
            self.used.add(name)
            if flag.kind is FlagType.BOOL:
                if has_value and value == "":
                    raise RefusedError(f"missing a value on flag: {flag_name}", self.upstream, arg)
                if value.lower() in ("true", ""):
                    flag.value = "true"
                elif value.lower() == "false":
                    flag.value = "false"
                else:
                    message = f"expecting boolean value for flag {flag_name}, not: {value}"
                    raise RefusedError(message, self.upstream, arg)
            elif not has_value:
                raise RefusedError(f"missing a value on flag: {flag_name}", self.upstream, arg)
            elif flag.kind is FlagType.STRING:
                flag.value = value
            else:
                flag.values = (*flag.values, value)


# --- commands_rundevice.go, commands_runmount.go -------------------------------------------------


def parse_device(value: str) -> None:
    """ParseDevice: a name, then key=value fields (name, required)."""
    fields = csv_fields(value, "failed to parse csv devices", "ParseDevice", "--device")
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
            raise RefusedError(message, "ParseDevice", "--device")
        if key == "name":
            if name:
                raise RefusedError(f"device name already set to {name}", "ParseDevice", "--device")
            name = field_value
        elif key == "required":
            if field_value not in GO_BOOLS:
                message = f"invalid value for {key}: {field_value}"
                raise RefusedError(message, "ParseDevice", "--device")
        elif not name:
            name = field
        else:
            message = suggested(
                f"unexpected key '{key}' in '{field}'", key, ["name", "required"], True
            )
            raise RefusedError(message, "ParseDevice", "--device")


def parse_mount(value: str) -> None:
    """parseMount without an expander, as instructions.Parse calls it: the fields are CSV, and
    ``from`` takes no variable; every other field is evaluated at build time."""
    for field in csv_fields(value, "failed to parse csv mounts", "parseMount", "--mount"):
        key, has_value, field_value = field.partition("=")
        if has_value and key.lower() == "from":
            dollar = field_value.find("$")
            if dollar not in (-1, len(field_value) - 1):
                message = "'from' doesn't support variable expansion, define alias stage instead"
                raise RefusedError(message, "parseMount", "--mount")


def csv_fields(line: str, context: str, upstream: str, at: str) -> list[str]:
    """tonistiigi/go-csvvalue Fields (one CSV record, encoding/csv's errors)."""
    if line.endswith("\n"):
        line = line[:-2] if line.endswith("\r\n") else line[:-1]
    if not line:
        raise RefusedError(f"{context}: EOF", upstream, at)

    def error(position: int, what: str) -> RefusedError:
        message = f"{context}: parse error on line 1, column {position + 1}: {what}"
        return RefusedError(message, upstream, at)

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
GO_BOOLS = frozenset(
    {"1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False"}
)
MILLISECOND = 1_000_000
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


def _fraction(data: bytes) -> tuple[int, float, bool, bytes]:
    """A duration's ``.digits`` part as Go's leadingFraction reads it: (fraction, scale,
    whether there were digits, what follows)."""
    fraction, scale = 0, 1.0
    if data[:1] != b".":
        return fraction, scale, False, data
    data = data[1:]
    fraction_digits = len(data) - len(data.lstrip(b"0123456789"))
    for digit in data[:fraction_digits]:
        following = fraction * 10 + digit - 48
        if fraction > ((1 << 63) - 1) // 10 or following > 1 << 63:
            break  # Go stops scaling at the overflow and ignores the digits left
        fraction, scale = following, scale * 10
    return fraction, scale, fraction_digits > 0, data[fraction_digits:]


def parse_duration(text: str) -> int:
    """Go's time.ParseDuration, in nanoseconds: ``[-+]?([0-9]*(\\.[0-9]*)?[a-z]+)+``."""
    original = text
    invalid = RefusedError(f"time: invalid duration {go_quote(original)}", "time.ParseDuration")
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
        fraction, scale, post, data = _fraction(data)
        if not digits and not post:
            raise invalid
        unit_end = 0
        while unit_end < len(data) and not (
            data[unit_end : unit_end + 1] == b"." or data[unit_end : unit_end + 1].isdigit()
        ):
            unit_end += 1
        if unit_end == 0:
            raise RefusedError(
                f"time: missing unit in duration {go_quote(original)}", "time.ParseDuration"
            )
        unit_text, data = data[:unit_end], data[unit_end:]
        unit = _UNITS.get(unit_text)
        if unit is None:
            name = go_quote(unit_text.decode(errors="replace"))
            message = f"time: unknown unit {name} in duration {go_quote(original)}"
            raise RefusedError(message, "time.ParseDuration")
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


def parse_int32(text: str, caller: str, at: str) -> int:
    """Go's strconv.ParseInt(text, 10, 32), as ``caller`` calls it."""
    upstream = f"{caller}/strconv.ParseInt"
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        message = f"strconv.ParseInt: parsing {go_quote(text)}: invalid syntax"
        raise RefusedError(message, upstream, at)
    value = int(text)
    if not -(1 << 31) <= value < 1 << 31:
        message = f"strconv.ParseInt: parsing {go_quote(text)}: value out of range"
        raise RefusedError(message, upstream, at)
    return value


def must_parse_heredoc(word: str) -> bool:
    """parser.MustParseHeredoc: is ``word`` a heredoc marker (``<<EOF``, ``<<-"EOF"``, ...)?"""
    match = re.fullmatch(r"([0-9]*)<<(-?)[\t\n\f\r ]*([^<]*)", word)
    if match is None or not match.group(3):
        return False
    try:
        words = shlex.split(match.group(3), comments=False, posix=True)
    except ValueError:
        return False  # a lexing error: MustParseHeredoc discards it
    return len(words) == 1


def levenshtein(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b))
            )
        previous = current
    return previous[-1]


def suggested(message: str, value: str, options: Iterable[str], case_sensitive: bool) -> str:
    """util/suggest WrapError: the closest option under distance 3, if any (Go walks a map
    there, so between equally close options it picks at random; this takes the first)."""
    wanted = value if case_sensitive else value.lower()
    match, best = "", 3
    for option in sorted(options):
        candidate = option if case_sensitive else option.lower()
        if candidate == wanted:
            return message
        distance = levenshtein(wanted, candidate)
        if distance < best:
            match, best = candidate, distance
            if not case_sensitive and value == value.upper():
                match = candidate.upper()  # matchCase; otherwise the lower-cased option
    return f"{message} (did you mean {match}?)" if match else message


def go_quote(text: str) -> str:
    """strconv.Quote / %q / %#v of a string, for the printable text Dockerfiles hold."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    escaped = escaped.replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")
    return f'"{escaped}"'
