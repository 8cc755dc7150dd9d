"""Tests for cnbext.cnb.instructions: BuildKit's instructions.Parse (moby/buildkit v0.32.2,
frontend/dockerfile/instructions), one table per upstream function.

Each row is one instruction after ``ARG base_image`` / ``FROM ${base_image}``: the function of
BuildKit that decides it, the line, and BuildKit's verdict (its message and the column cnbext
points at, or None where BuildKit accepts it: the rows that pass show where BuildKit is more
lenient than one would guess, e.g. flags it never parses)."""

from __future__ import annotations

import pytest

from cnbext.cnb.buildkit_values import parse_duration
from cnbext.cnb.dockerfile import DockerfileKind, Severity, check_dockerfile, parse_instructions
from cnbext.cnb.instructions import BUILDKIT_VERSION, check_instruction

PREAMBLE = "ARG base_image\nFROM ${base_image}\n"
NO_DESTINATION = (
    "requires at least two arguments, but only one was provided. Destination could not be "
    "determined"
)

# (upstream function, instruction, expected: (column, message) or None for accepted)
TABLE: list[tuple[str, str, tuple[int, str] | None]] = [
    # parseEnv / parseKvps
    ("parseEnv", "ENV A=1 B=2", None),
    ("parseEnv", "ENV A 1 2", None),
    ("parseEnv", "ENV", (1, "ENV requires at least one argument")),
    ("parseEnv", "ENV =x", (1, "ENV names can not be blank")),
    ("parseEnv/BFlags.Parse", "ENV --x=1 A=1", (5, "unknown flag: --x")),
    # parseLabel
    ("parseLabel", 'LABEL a=b "c d"=e', None),
    ("parseLabel", "LABEL", (1, "LABEL requires at least one argument")),
    ("parseLabel", "LABEL =b", (1, "LABEL names can not be blank")),
    # parseMaintainer
    ("parseMaintainer", "MAINTAINER me <me@example.com>", None),
    ("parseMaintainer", "MAINTAINER", (1, "MAINTAINER requires exactly one argument")),
    ("parseMaintainer/BFlags.Parse", "MAINTAINER --x me", (12, "unknown flag: --x")),
    # parseAdd
    ("parseAdd", "ADD --chown=1 --chmod=755 --link --keep-git-dir --checksum=sha256:0 a b", None),
    ("parseAdd", "ADD --unpack=false --exclude=a --exclude=b a b", None),
    ("parseAdd", "ADD a", (1, f"ADD {NO_DESTINATION}")),
    ("parseAdd", "ADD", (1, f"ADD {NO_DESTINATION}")),
    ("parseAdd/BFlags.Parse", "ADD --from=x a b", (5, "unknown flag: --from")),
    ("parseAdd/BFlags.Parse", "ADD --parents a b", (5, "unknown flag: --parents")),
    # parseCopy
    ("parseCopy", "COPY --chown=1:1 --chmod=0644 --link=false --parents --exclude=x a b", None),
    ("parseCopy", 'COPY ["a b", "c"]', None),
    ("parseCopy", "COPY a", (1, f"COPY {NO_DESTINATION}")),
    ("parseCopy", 'COPY ["a"]', (1, f"COPY {NO_DESTINATION}")),
    (
        "parseCopy/BFlags.Parse",
        "COPY --chmd=1 a b",
        (6, "unknown flag: --chmd (did you mean chmod?)"),
    ),
    ("parseCopy/BFlags.Parse", "COPY --checksum=x a b", (6, "unknown flag: --checksum")),
    (
        "parseCopy/BFlags.Parse",
        "COPY --from=a --from=b a b",
        (15, "duplicate flag specified: --from"),
    ),
    ("parseCopy/BFlags.Parse", "COPY --from a b", (6, "missing a value on flag: --from")),
    ("parseCopy/BFlags.Parse", "COPY --link= a b", (6, "missing a value on flag: --link")),
    (
        "parseCopy/BFlags.Parse",
        "COPY --link=yes a b",
        (6, "expecting boolean value for flag --link, not: yes"),
    ),
    ("parseCopy", "COPY --link=TRUE a b", None),
    ("parseCopy", "COPY -- --link a", None),
    # parseSourcesAndDest
    ("parseSourcesAndDest", "COPY <<EOF /etc/motd\nhi\nEOF", None),
    (
        "parseSourcesAndDest",
        "COPY a <<EOF\nhi\nEOF",
        (8, "COPY cannot accept a heredoc as a destination"),
    ),
    (
        "parseSourcesAndDest",
        'COPY ["a", "<<EOF"]',
        (13, "COPY cannot accept a heredoc as a destination"),
    ),
    (
        "parseSourcesAndDest",
        "ADD a <<-'EOT'\nhi\nEOT",
        (7, "ADD cannot accept a heredoc as a destination"),
    ),
    ("parseSourcesAndDest", "COPY a <<", None),
    # parseFrom / parseBuildStageName: the stage is a second FROM, so only the first refusal
    # of each row is BuildKit's (the multi-stage one is the lifecycle's).
    ("parseBuildStageName", "FROM x AS stage-1.a_b", None),
    ("parseBuildStageName", "FROM x as Stage", None),
    ("parseBuildStageName", "FROM x y", (8, "FROM requires either one or three arguments")),
    (
        "parseBuildStageName",
        "FROM x # not a comment",
        (8, "FROM requires either one or three arguments"),
    ),
    ("parseBuildStageName", "FROM x AS", (8, "FROM requires either one or three arguments")),
    ("parseBuildStageName", "FROM", (1, "FROM requires either one or three arguments")),
    (
        "parseBuildStageName",
        "FROM x AS 1st",
        (
            11,
            'invalid name for build stage: "1st", name can\'t start with a number or contain symbols',
        ),
    ),
    (
        "parseBuildStageName",
        "FROM x AS a:b",
        (
            11,
            'invalid name for build stage: "a:b", name can\'t start with a number or contain symbols',
        ),
    ),
    ("parseFrom", "FROM --platform=linux/amd64 x", None),
    ("parseFrom/BFlags.Parse", "FROM --pull x", (6, "unknown flag: --pull")),
    # parseOnBuild
    ("parseOnBuild", "ONBUILD RUN echo hi", None),
    ("parseOnBuild", "ONBUILD COPY a", None),  # the trigger is parsed when the image is used
    ("parseOnBuild", "ONBUILD", (1, "ONBUILD requires at least one argument")),
    ("parseOnBuild", "ONBUILD FROM x", (9, "FROM isn't allowed as an ONBUILD trigger")),
    (
        "parseOnBuild",
        "onbuild maintainer me",
        (9, "MAINTAINER isn't allowed as an ONBUILD trigger"),
    ),
    (
        "parseOnBuild",
        "ONBUILD ONBUILD RUN x",
        (9, "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"),
    ),
    ("parseOnBuild/BFlags.Parse", "ONBUILD --x RUN y", (9, "unknown flag: --x")),
    # parseWorkdir
    ("parseWorkdir", "WORKDIR /a b", None),
    ("parseWorkdir", "WORKDIR", (1, "WORKDIR requires exactly one argument")),
    ("parseWorkdir/BFlags.Parse", "WORKDIR --x=1 /a", (9, "unknown flag: --x")),
    # parseRun and its hooks (commands_run{device,mount,network,security}.go)
    ("parseRun", "RUN --mount=type=cache,target=/x --network=none --security=sandbox x", None),
    ("parseRun", "RUN --device=/dev/fuse,required x", None),
    ("parseRun", "RUN --mount=type=nonsense x", None),  # evaluated at build time
    ("parseRun/BFlags.Parse", "RUN --foo x", (5, "unknown flag: --foo")),
    (
        "parseRun/BFlags.Parse",
        "RUN --mnt=type=cache x",
        (5, "unknown flag: --mnt (did you mean mount?)"),
    ),
    (
        "parseRun/BFlags.Parse",
        "RUN --network=none --network=host x",
        (20, "duplicate flag specified: --network"),
    ),
    ("parseRun/BFlags.Parse", "RUN --mount x", (5, "missing a value on flag: --mount")),
    ("runNetworkPostHook", "RUN --network=bridge x", (5, 'invalid network mode "bridge"')),
    ("runNetworkPostHook", "RUN --network= x", (5, 'invalid network mode ""')),
    (
        "runSecurityPostHook",
        "RUN --security=privileged x",
        (5, 'security "privileged" is not valid'),
    ),
    ("parseMount", "RUN --mount= x", (5, "failed to parse csv mounts: EOF")),
    (
        "parseMount",
        r"RUN --mount=type=bind,source=\"a x",
        (
            5,
            'failed to parse csv mounts: parse error on line 1, column 18: bare " in non-quoted field',
        ),
    ),
    (
        "parseMount",
        r"RUN --mount=\"type=bind x",
        (
            5,
            'failed to parse csv mounts: parse error on line 1, column 2: extraneous or missing " in quoted field',
        ),
    ),
    (
        "parseMount",
        r"RUN --mount=\"a\"b x",
        (
            5,
            'failed to parse csv mounts: parse error on line 1, column 3: extraneous or missing " in quoted field',
        ),
    ),
    ("parseMount", r"RUN --mount=\"a\"\"b\",c x", None),
    ("parseMount", 'RUN --mount="type=bind",target=/x x', None),
    (
        "parseMount",
        "RUN --mount=type=bind,from=$stage x",
        (5, "'from' doesn't support variable expansion, define alias stage instead"),
    ),
    ("parseMount", "RUN --mount=type=bind,from=stage$ x", None),
    ("ParseDevice", "RUN --device=a,b x", (5, "invalid field 'b' must be a key=value pair")),
    ("ParseDevice", "RUN --device=a,name=b x", (5, "device name already set to a")),
    ("ParseDevice", "RUN --device=a,required=maybe x", (5, "invalid value for required: maybe")),
    (
        "ParseDevice",
        "RUN --device=a,nam=b x",
        (5, "unexpected key 'nam' in 'nam=b' (did you mean name?)"),
    ),
    # parseCmd, parseEntrypoint
    ("parseCmd", 'CMD ["a"]', None),
    ("parseCmd", "CMD", None),
    ("parseCmd/BFlags.Parse", "CMD --x a", (5, "unknown flag: --x")),
    ("parseEntrypoint", "ENTRYPOINT []", None),
    ("parseEntrypoint/BFlags.Parse", "ENTRYPOINT --x a", (12, "unknown flag: --x")),
    # parseHealthcheck / parseOptInterval
    (
        "parseHealthcheck",
        "HEALTHCHECK --interval=30s --timeout=1m --start-period=1h --start-interval=1ms --retries=3 CMD curl x",
        None,
    ),
    ("parseHealthcheck", "HEALTHCHECK NONE", None),
    ("parseHealthcheck", "HEALTHCHECK --interval=1us NONE", None),  # NONE parses no flag
    ("parseHealthcheck", "HEALTHCHECK --interval=0s CMD x", None),  # 0 is unset
    ("parseHealthcheck", "HEALTHCHECK", (1, "HEALTHCHECK requires at least one argument")),
    ("parseHealthcheck", "HEALTHCHECK NONE x", (18, "HEALTHCHECK NONE takes no arguments")),
    ("parseHealthcheck", "HEALTHCHECK CMD", (13, "Missing command after HEALTHCHECK CMD")),
    ("parseHealthcheck", "HEALTHCHECK run x", (13, 'Unknown type "RUN" in HEALTHCHECK (try CMD)')),
    ("parseHealthcheck/BFlags.Parse", "HEALTHCHECK --x=1 CMD y", (13, "unknown flag: --x")),
    (
        "parseHealthcheck",
        "HEALTHCHECK --retries=-1 CMD x",
        (13, "--retries cannot be negative (-1)"),
    ),
    (
        "parseHealthcheck/strconv.ParseInt",
        "HEALTHCHECK --retries=x CMD y",
        (13, 'strconv.ParseInt: parsing "x": invalid syntax'),
    ),
    (
        "parseHealthcheck/strconv.ParseInt",
        "HEALTHCHECK --retries=3000000000 CMD y",
        (13, 'strconv.ParseInt: parsing "3000000000": value out of range'),
    ),
    (
        "parseOptInterval",
        "HEALTHCHECK --interval=999us CMD x",
        (13, 'Interval "interval" cannot be less than 1ms'),
    ),
    (
        "parseOptInterval",
        "HEALTHCHECK --timeout=-1s CMD x",
        (13, 'Interval "timeout" cannot be less than 1ms'),
    ),
    (
        "parseOptInterval",
        "HEALTHCHECK --start-period=0.5ms CMD x",
        (13, 'Interval "start-period" cannot be less than 1ms'),
    ),
    (
        "parseOptInterval",
        "HEALTHCHECK --start-interval=1ns CMD x",
        (13, 'Interval "start-interval" cannot be less than 1ms'),
    ),
    (
        "parseOptInterval/time.ParseDuration",
        "HEALTHCHECK --interval=5 CMD x",
        (13, 'time: missing unit in duration "5"'),
    ),
    (
        "parseOptInterval/time.ParseDuration",
        "HEALTHCHECK --interval=5d CMD x",
        (13, 'time: unknown unit "d" in duration "5d"'),
    ),
    (
        "parseOptInterval/time.ParseDuration",
        "HEALTHCHECK --interval=s CMD x",
        (13, 'time: invalid duration "s"'),
    ),
    # parseExpose
    ("parseExpose", "EXPOSE 80/tcp 443", None),
    ("parseExpose", "EXPOSE", (1, "EXPOSE requires at least one argument")),
    ("parseExpose/BFlags.Parse", "EXPOSE --x 80", (8, "unknown flag: --x")),
    # parseUser
    ("parseUser", "USER 1000:1000", None),
    ("parseUser", "USER", (1, "USER requires exactly one argument")),
    ("parseUser/BFlags.Parse", "USER --x=1 u", (6, "unknown flag: --x")),
    # parseVolume
    ("parseVolume", 'VOLUME ["/a", "/b"]', None),
    ("parseVolume", 'VOLUME [""]', (1, "VOLUME specified can not be an empty string")),
    ("parseVolume", 'VOLUME ["/a", " "]', (1, "VOLUME specified can not be an empty string")),
    ("parseVolume", "VOLUME []", (1, "VOLUME requires at least one argument")),
    ("parseVolume", "VOLUME", (1, "VOLUME requires at least one argument")),
    # parseStopSignal: its flags are never parsed
    ("parseStopSignal", "STOPSIGNAL --x SIGTERM", None),
    ("parseStopSignal", "STOPSIGNAL", (1, "STOPSIGNAL requires exactly one argument")),
    # parseArg: nor are ARG's
    ("parseArg", "ARG a b=1 c=", None),
    ("parseArg", "ARG --x a", None),
    ("parseArg", "ARG", (1, "ARG requires at least one argument")),
    ("parseArg", "ARG =x", (5, "ARG names can not be blank")),
    ("parseArg", "ARG a =x", (7, "ARG names can not be blank")),
    # parseShell
    ("parseShell", 'SHELL ["/bin/bash", "-c"]', None),
    ("parseShell", "SHELL /bin/sh -c", (1, "SHELL requires the arguments to be in JSON form")),
    ("parseShell", "SHELL []", (1, "SHELL requires at least one argument")),
    ("parseShell", "SHELL", (1, "SHELL requires at least one argument")),
    ("parseShell/BFlags.Parse", 'SHELL --x ["a"]', (7, "unknown flag: --x")),
    # ParseInstruction
    ("ParseInstruction", "RUNN x", (1, "unknown instruction: RUNN (did you mean RUN?)")),
    ("ParseInstruction", "copyy a b", (1, "unknown instruction: copyy (did you mean copy?)")),
    ("ParseInstruction", "FETCH x", (1, "unknown instruction: FETCH")),
    # BFlags.Parse
    ("parseWorkdir/BFlags.Parse", "WORKDIR --=x /a", (9, "unknown flag: --")),
]


@pytest.mark.parametrize(
    ("upstream", "line", "expected"),
    TABLE,
    ids=[f"{upstream}: {line.splitlines()[0]}" for upstream, line, _ in TABLE],
)
def test_instructions_parse(upstream: str, line: str, expected: tuple[int, str] | None) -> None:
    text = PREAMBLE + line + "\n"
    instruction = parse_instructions(text)[2]
    refusal = check_instruction(instruction)
    findings = [
        f
        for f in check_dockerfile(text, DockerfileKind.RUN).errors
        if "multistage" not in f.message
    ]
    if expected is None:
        assert refusal is None, refusal
        assert findings == []
        return
    assert refusal is not None, f"{BUILDKIT_VERSION} refuses {line!r} in {upstream}"
    assert refusal.upstream == upstream
    column, message = expected
    assert refusal.message == message
    assert [(f.line, f.column, f.severity, f.message) for f in findings] == [
        (3, column, Severity.ERROR, message)
    ]


def test_every_instruction_and_every_parse_function_has_rows() -> None:
    from cnbext.cnb.instructions import INSTRUCTION_NAMES

    keywords = {line.split()[0].upper() for _, line, _ in TABLE}
    assert set(INSTRUCTION_NAMES) <= keywords
    upstreams = {upstream for upstream, _, _ in TABLE}
    assert {
        "parseOptInterval",
        "parseSourcesAndDest",
        "parseRun/BFlags.Parse",
        "parseMount",
    } <= upstreams


def test_every_refusal_is_reported_not_only_the_first() -> None:
    text = PREAMBLE + "COPY a\nARG =x\nSHELL sh\n"
    errors = check_dockerfile(text, DockerfileKind.BUILD).errors
    assert [(f.line, f.column) for f in errors] == [(3, 1), (4, 5), (5, 1)]


def test_a_refusal_before_from_is_reported_with_the_stage_rule() -> None:
    errors = check_dockerfile("ARG =x\nFROM ${base_image}\n", DockerfileKind.RUN).errors
    assert [(f.line, f.message) for f in errors] == [(1, "ARG names can not be blank")]


@pytest.mark.parametrize(
    ("text", "nanoseconds"),
    [
        ("0", 0),
        ("-0", 0),
        ("+1s", 10**9),
        ("1.5h", 5400 * 10**9),
        ("1h30m", 5400 * 10**9),
        (".5s", 5 * 10**8),
        ("1.s", 10**9),
        ("300ms", 3 * 10**8),
        ("1µs", 1000),
        ("1μs", 1000),
        ("-1.5us", -1500),
        ("2562047h47m16.854775807s", 2**63 - 1),
    ],
)
def test_go_parse_duration(text: str, nanoseconds: int) -> None:
    assert parse_duration(text) == nanoseconds


@pytest.mark.parametrize(
    "text", ["", "-", "s", ".s", "1", "1.5", "1x", "1s2", "9223372036854775808ns", "2562048h"]
)
def test_go_parse_duration_refuses(text: str) -> None:
    from cnbext.cnb.buildkit_values import RefusedError as _RefusedError

    with pytest.raises(_RefusedError):
        parse_duration(text)
