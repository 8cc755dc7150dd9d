"""Tests for cnbext.cnb.dockerfile: BuildKit's parser, the image-extension rules, the
Dockerfile cnbext generates."""

from __future__ import annotations

import dockerfile
import pytest

from cnbext.cnb.dockerfile import (
    ALLOWED_INSTRUCTIONS,
    BUILDKIT_INSTRUCTIONS,
    DockerfileKind,
    Finding,
    Severity,
    check_dockerfile,
    install_dockerfile,
    is_root_user,
    lint,
    parse_instructions,
    split_user,
)
from cnbext.cnb.package_managers import ALL_MANAGERS, PackageManager

PREAMBLE = "ARG base_image\nFROM ${base_image}\n"
BUILD, RUN = DockerfileKind.BUILD, DockerfileKind.RUN


def positions(text: str, kind: DockerfileKind) -> list[tuple[int, int, Severity]]:
    return [(f.line, f.column, f.severity) for f in lint(text, kind)]


# --- parsing (BuildKit's parser) -----------------------------------------------------------------


def test_buildkit_instruction_list_is_the_parsers() -> None:
    assert {name.upper() for name in dockerfile.all_cmds()} == BUILDKIT_INSTRUCTIONS
    assert ALLOWED_INSTRUCTIONS < BUILDKIT_INSTRUCTIONS


def test_instructions_with_lines_columns_and_values() -> None:
    text = "ARG base_image\n  FROM ${base_image}\nrun echo hi\n"
    parsed = parse_instructions(text)
    assert [(i.line, i.column, i.keyword, i.values) for i in parsed] == [
        (1, 1, "ARG", ("base_image",)),
        (2, 3, "FROM", ("${base_image}",)),
        (3, 1, "RUN", ("echo hi",)),
    ]


def test_heredoc_bodies_are_not_instructions() -> None:
    text = (
        PREAMBLE + "RUN <<EOF\nfrom the heredoc\nFROM x\nEOF\nCOPY <<EOF /etc/motd\nFROM y\nEOF\n"
    )
    assert [i.keyword for i in parse_instructions(text)] == ["ARG", "FROM", "RUN", "COPY"]
    assert lint(text, BUILD) == []
    assert lint(text.replace("FROM ${base_image}", "FROM ${base_image}", 1), RUN) == []


def test_escape_directive_and_continuations() -> None:
    text = "# escape=`\nARG base_image\nFROM ${base_image}\nRUN echo a `\n  b\nFROM x\n"
    assert positions(text, BUILD) == [(6, 1, Severity.ERROR)]


def test_json_form_and_comments_inside_continuations() -> None:
    text = PREAMBLE + 'RUN ["echo", "hi"]\nRUN a \\\n# comment\n  && b\nUSER 1000\n'
    parsed = parse_instructions(text)
    assert parsed[2].values == ("echo", "hi")
    assert (parsed[4].line, parsed[4].keyword) == (7, "USER")


# --- the rules -----------------------------------------------------------------------------------


def test_minimal_build_dockerfile_is_clean() -> None:
    assert lint(PREAMBLE + "RUN echo hi\n", BUILD) == []


@pytest.mark.parametrize(
    ("from_line", "column"),
    [("FROM $base_image", 6), ("FROM ${base_image", 6), ("FROM  {base_image}", 7), ("FROM x", 6)],
)
def test_build_from_must_be_literally_base_image(from_line: str, column: int) -> None:
    (finding,) = lint(f"ARG base_image\n{from_line}\nRUN true\n", BUILD)
    assert (finding.line, finding.column, finding.severity) == (2, column, Severity.ERROR)
    assert finding.message == "build.Dockerfile did not contain required FROM ${base_image} command"


@pytest.mark.parametrize("from_line", ["FROM $base_image", "FROM ${base_image", "FROM ${other}"])
def test_run_from_with_a_variable_other_than_base_image_is_refused(from_line: str) -> None:
    check = check_dockerfile(f"ARG base_image\n{from_line}\nRUN true\n", RUN)
    (finding,) = check.errors
    assert (finding.line, finding.column) == (2, 6)
    assert "write the base image exactly as ${base_image}" in finding.message
    assert check.switch_to is None


def test_run_from_a_literal_image_switches() -> None:
    check = check_dockerfile("FROM other/run:1\nUSER root\n", RUN)
    assert check.findings == ()
    assert check.switch_to == "other/run:1"
    assert check.extends is True
    only = check_dockerfile("FROM other/run:1\n", RUN)
    assert (only.switch_to, only.extends) == ("other/run:1", False)
    assert check_dockerfile(PREAMBLE + "RUN x\n", RUN).switch_to is None


@pytest.mark.parametrize("arg_line", ["ARG base_image", "ARG base_image=x", "arg base_image"])
def test_build_accepts_arg_base_image_forms(arg_line: str) -> None:
    assert lint(f"{arg_line}\nFROM ${{base_image}}\n", BUILD) == []


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("FROM ${base_image}\n", 1),
        ("ARG other\nFROM ${base_image}\n", 1),
        ("ARG base_image\nARG other\nFROM ${base_image}\n", 2),
    ],
)
def test_build_needs_exactly_one_arg_base_image_before_from(text: str, line: int) -> None:
    (finding,) = [f for f in lint(text, BUILD) if "ARG" in f.message]
    assert (finding.line, finding.severity) == (line, Severity.ERROR)
    assert finding.message.startswith("build.Dockerfile did not start with required ARG command")


def test_multi_stage_is_an_error_at_every_extra_from() -> None:
    text = PREAMBLE + "RUN a\nFROM x AS y\n  FROM z\n"
    assert positions(text, BUILD) == [(4, 1, Severity.ERROR), (5, 3, Severity.ERROR)]
    assert "is not permitted to use multistage build" in lint(text, RUN)[0].message


def test_unknown_instruction_is_an_error_with_a_suggestion() -> None:
    (finding,) = lint(PREAMBLE + "RUNN echo\n", BUILD)
    assert (finding.line, finding.column, finding.severity) == (3, 1, Severity.ERROR)
    assert finding.message == "unknown instruction: RUNN (did you mean RUN?)"


@pytest.mark.parametrize("keyword", sorted(BUILDKIT_INSTRUCTIONS - ALLOWED_INSTRUCTIONS))
@pytest.mark.parametrize("kind", list(DockerfileKind))
def test_known_instruction_outside_the_list_is_a_warning(
    keyword: str, kind: DockerfileKind
) -> None:
    argument = {"ONBUILD": "run x", "HEALTHCHECK": "NONE"}.get(keyword, "x")
    (finding,) = lint(PREAMBLE + f"{keyword.lower()} {argument}\n", kind)
    assert (finding.line, finding.severity) == (3, Severity.WARNING)
    assert finding.message.startswith(f"command {keyword} is not recommended")


def test_empty_or_fromless_dockerfile_has_no_stage() -> None:
    for text in ("", "# only a comment\n", "ARG base_image\n"):
        errors = check_dockerfile(text, RUN).errors
        assert [f.message for f in errors] == [
            "run.Dockerfile should have at least one stage (no FROM)"
        ]


def test_only_arg_may_come_before_from() -> None:
    (finding,) = lint("RUN x\nFROM ${base_image}\n", RUN)
    assert (finding.line, finding.severity) == (1, Severity.ERROR)


def test_syntax_errors_are_reported() -> None:
    (finding,) = lint(PREAMBLE + "RUN <<EOF\nno end\n", BUILD)
    assert finding.severity is Severity.ERROR
    assert "unterminated heredoc" in finding.message


def test_findings_sorted_and_formatted() -> None:
    text = "EXPOSE 1\nARG base_image\nFROM $base_image\nRUNN x\n"
    findings = lint(text, BUILD)
    assert (
        findings[0]
        .format("ext/build.Dockerfile")
        .startswith("ext/build.Dockerfile:1:1: error: EXPOSE before FROM")
    )
    assert [(f.line, f.severity) for f in findings] == [
        (1, Severity.ERROR),
        (1, Severity.WARNING),
        (3, Severity.ERROR),
        (4, Severity.ERROR),
    ]
    assert Finding(2, 3, Severity.WARNING, "m").format("f") == "f:2:3: warning: m"


# --- install_dockerfile --------------------------------------------------------------------------


@pytest.mark.parametrize("manager", ALL_MANAGERS, ids=lambda m: m.name)
@pytest.mark.parametrize("user_has_group", [True, False], ids=["uid-gid", "uid-only"])
@pytest.mark.parametrize("kind", list(DockerfileKind))
def test_generated_dockerfile_passes_the_rules(
    manager: PackageManager, user_has_group: bool, kind: DockerfileKind
) -> None:
    text = install_dockerfile(
        manager.install_command(["jq", "curl"]),
        description=f"install jq, curl with {manager.name}",
        user_has_group=user_has_group,
    )
    assert lint(text, kind) == []


@pytest.mark.parametrize(
    ("user_has_group", "final_user"),
    [(True, "USER ${user_id}:${group_id}"), (False, "USER ${user_id}")],
)
def test_generated_dockerfile_restores_the_base_user_last(
    user_has_group: bool, final_user: str
) -> None:
    text = install_dockerfile(
        "apk add --no-cache jq", description="d", user_has_group=user_has_group
    )
    assert text.endswith(final_user + "\n")
    parsed = parse_instructions(text)
    assert parsed[-1].original == final_user
    keywords = [(i.keyword, i.values) for i in parsed]
    assert keywords.index(("ARG", ("user_id",))) < len(parsed) - 1
    assert ("ARG", ("group_id",)) in keywords


def test_generated_dockerfile_structure() -> None:
    command = "dnf install -y jq && dnf clean all && rm -rf /var/cache/dnf"
    text = install_dockerfile(command, description="install jq with dnf", user_has_group=True)
    assert text.splitlines()[0] == "# Generated by cnbext: install jq with dnf"
    parsed = parse_instructions(text)
    assert [i.keyword for i in parsed] == [
        "ARG",
        "FROM",
        "ARG",
        "ARG",
        "USER",
        "RUN",
        "ARG",
        "ARG",
        "USER",
    ]
    assert parsed[2].values == ("build_id=0",)
    assert parsed[3].values == ("SOURCE_DATE_EPOCH",)
    assert parsed[4].values == ("root",)
    run = parsed[5]
    assert run.line == 7
    assert command in " ".join(run.values[0].split())
    assert " \\\n && dnf install -y jq \\\n && dnf clean all \\\n && rm -rf /var/cache/dnf" in text


def test_the_install_sets_the_times_it_wrote_only_with_a_source_date_epoch() -> None:
    """The files the install changed (newer than a mark made before it, on /dev, which is in
    no layer) get SOURCE_DATE_EPOCH; without it nothing is marked or touched."""
    text = install_dockerfile("apk add --no-cache jq", description="d", user_has_group=True)
    (run,) = [i for i in parse_instructions(text) if i.keyword == "RUN"]
    commands = [c.strip() for c in run.values[0].split(" && ")]
    assert commands[0].startswith('if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then touch /dev/')
    assert commands[1] == "apk add --no-cache jq"
    clamp = commands[-1]
    assert clamp.startswith('if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then find / -xdev -newer /dev/')
    assert '-exec touch -h -d "@${SOURCE_DATE_EPOCH}" {} +' in clamp


# --- split_user / is_root_user ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ("1000:1000", ("1000", "1000")),
        ("cnb", ("cnb", "")),
        ("1001", ("1001", "")),
        ("cnb:cnb", ("cnb", "cnb")),
        ("1000:", ("1000", "")),
        (":1000", ("", "1000")),
        ("", ("", "")),
        ("a:b:c", ("a", "b:c")),
    ],
)
def test_split_user(user: str, expected: tuple[str, ...]) -> None:
    assert split_user(user) == expected


@pytest.mark.parametrize(
    "user", ["", "0", "root", "0:0", "root:root", "0:1000", "root:cnb", " root ", "  "]
)
def test_root_users(user: str) -> None:
    assert is_root_user(user) is True


@pytest.mark.parametrize(
    "user", ["1000:1000", "cnb", "1001", "1000:0", "cnb:root", "rootless", "Root", "1000"]
)
def test_non_root_users(user: str) -> None:
    assert is_root_user(user) is False
