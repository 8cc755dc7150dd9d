"""Tests for cnbext.cnb.dockerfile: parsing, the image-extension lint, the generated Dockerfile."""

from __future__ import annotations

import pytest

from cnbext.cnb.dockerfile import (
    ALLOWED_INSTRUCTIONS,
    DockerfileKind,
    Instruction,
    LintFinding,
    Severity,
    install_dockerfile,
    is_root_user,
    lint,
    parse_instructions,
    split_user,
)
from cnbext.cnb.package_managers import ALL_MANAGERS, PackageManager

PREAMBLE = "ARG base_image\nFROM ${base_image}\n"


def errors(findings: list[LintFinding]) -> list[LintFinding]:
    return [f for f in findings if f.severity is Severity.ERROR]


# --- parse_instructions -------------------------------------------------------------------------


def test_parse_simple_instructions_with_line_numbers():
    text = "ARG base_image\nFROM ${base_image}\nUSER root\nRUN echo hi\n"
    assert parse_instructions(text) == [
        Instruction(1, "ARG", "base_image"),
        Instruction(2, "FROM", "${base_image}"),
        Instruction(3, "USER", "root"),
        Instruction(4, "RUN", "echo hi"),
    ]


def test_continuation_keeps_the_starting_line_and_joins_arguments():
    text = "FROM x\n\nRUN apt-get update \\\n  && apt-get install -y jq \\\n  && apt-get clean\nUSER 1000\n"
    assert parse_instructions(text) == [
        Instruction(1, "FROM", "x"),
        Instruction(3, "RUN", "apt-get update && apt-get install -y jq && apt-get clean"),
        Instruction(6, "USER", "1000"),
    ]


def test_comments_inside_a_continuation_are_dropped():
    text = "RUN a \\\n# a comment\n    # an indented comment\n  && b\nUSER 1000\n"
    assert parse_instructions(text) == [
        Instruction(1, "RUN", "a && b"),
        Instruction(5, "USER", "1000"),
    ]


def test_comments_and_blank_lines_between_instructions_are_skipped():
    text = "# syntax=docker/dockerfile:1\n\n   # indented\nARG base_image\n\n\nFROM ${base_image}\n"
    assert parse_instructions(text) == [
        Instruction(4, "ARG", "base_image"),
        Instruction(7, "FROM", "${base_image}"),
    ]


@pytest.mark.parametrize(
    ("line", "keyword", "arguments"),
    [
        ("from ubuntu", "FROM", "ubuntu"),
        ("Run echo hi", "RUN", "echo hi"),
        ("arg base_image", "ARG", "base_image"),
        ("user  root", "USER", "root"),
        ("  expose 8080  ", "EXPOSE", "8080"),
        ("HEALTHCHECK", "HEALTHCHECK", ""),
    ],
)
def test_keywords_are_upper_cased_and_arguments_stripped(line, keyword, arguments):
    assert parse_instructions(line) == [Instruction(1, keyword, arguments)]


def test_arguments_keep_their_case():
    assert parse_instructions("label Maintainer=Me\n")[0].arguments == "Maintainer=Me"


def test_trailing_continuation_at_end_of_file_still_yields_the_instruction():
    assert parse_instructions("FROM x\nRUN a \\\n  b \\\n") == [
        Instruction(1, "FROM", "x"),
        Instruction(2, "RUN", "a b"),
    ]


def test_hash_after_an_instruction_is_not_a_comment():
    assert parse_instructions("RUN echo '# not a comment'\n") == [
        Instruction(1, "RUN", "echo '# not a comment'")
    ]


def test_crlf_line_endings_are_handled():
    assert parse_instructions("FROM x\r\nRUN a \\\r\n  b\r\n") == [
        Instruction(1, "FROM", "x"),
        Instruction(2, "RUN", "a b"),
    ]


def test_empty_text_has_no_instructions():
    assert parse_instructions("") == []
    assert parse_instructions("# only a comment\n\n") == []


def test_empty_line_inside_a_continuation_does_not_end_the_instruction():
    text = PREAMBLE + "RUN apt-get update \\\n\n    && apt-get install -y jq\n"
    assert parse_instructions(text)[-1] == Instruction(
        3, "RUN", "apt-get update && apt-get install -y jq"
    )
    assert lint(text, DockerfileKind.BUILD) == []


# --- install_dockerfile -------------------------------------------------------------------------


@pytest.mark.parametrize("manager", ALL_MANAGERS, ids=lambda m: m.name)
@pytest.mark.parametrize("user_has_group", [True, False], ids=["uid-gid", "uid-only"])
@pytest.mark.parametrize("kind", list(DockerfileKind))
def test_generated_dockerfile_passes_lint(manager: PackageManager, user_has_group, kind):
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
def test_generated_dockerfile_restores_the_base_user_last(user_has_group, final_user):
    text = install_dockerfile(
        "apk add --no-cache jq", description="d", user_has_group=user_has_group
    )
    lines = text.splitlines()
    assert lines[-1] == final_user
    assert text.endswith(final_user + "\n")
    instructions = parse_instructions(text)
    assert instructions[-1] == Instruction(len(lines), "USER", final_user.removeprefix("USER "))
    # The build args the final USER uses are declared after FROM, before their use.
    keywords_and_args = [(i.keyword, i.arguments) for i in instructions]
    assert keywords_and_args.index(("ARG", "user_id")) < len(instructions) - 1
    assert ("ARG", "group_id") in keywords_and_args


def test_generated_dockerfile_structure():
    command = "dnf install -y jq && dnf clean all && rm -rf /var/cache/dnf"
    text = install_dockerfile(command, description="install jq with dnf", user_has_group=True)
    lines = text.splitlines()
    assert lines[0] == "# Generated by cnbext: install jq with dnf"
    instructions = parse_instructions(text)
    assert [i.keyword for i in instructions] == [
        "ARG",
        "FROM",
        "ARG",
        "USER",
        "RUN",
        "ARG",
        "ARG",
        "USER",
    ]
    assert instructions[0] == Instruction(2, "ARG", "base_image")
    assert instructions[1] == Instruction(3, "FROM", "${base_image}")
    assert instructions[2] == Instruction(4, "ARG", "build_id=0")
    assert instructions[3] == Instruction(5, "USER", "root")
    run = instructions[4]
    assert run.line == 6
    # Split over several lines for readability, but the same command once continuations join.
    assert run.arguments == command
    assert "RUN dnf install -y jq \\\n && dnf clean all \\\n && rm -rf /var/cache/dnf" in text


@pytest.mark.parametrize("user_has_group", [True, False])
def test_install_runs_as_root(user_has_group):
    text = install_dockerfile(
        "apt-get install -y jq", description="d", user_has_group=user_has_group
    )
    instructions = parse_instructions(text)
    run_index = next(i for i, ins in enumerate(instructions) if ins.keyword == "RUN")
    users_before_run = [i.arguments for i in instructions[:run_index] if i.keyword == "USER"]
    assert users_before_run[-1] == "root"


# --- lint ---------------------------------------------------------------------------------------


def test_minimal_build_dockerfile_is_clean():
    assert lint(PREAMBLE + "RUN echo hi\n", DockerfileKind.BUILD) == []


@pytest.mark.parametrize(
    "from_line",
    [
        "FROM $base_image",
        "FROM ${base_image}",
        "from ${base_image}",
        "FROM --platform=$BUILDPLATFORM ${base_image}",
        "FROM ${base_image} AS extended",
    ],
)
def test_build_accepts_from_base_image_forms(from_line):
    assert lint(f"ARG base_image\n{from_line}\nRUN true\n", DockerfileKind.BUILD) == []


@pytest.mark.parametrize("arg_line", ["ARG base_image", "ARG base_image=ubuntu", "arg base_image"])
def test_build_accepts_arg_base_image_forms(arg_line):
    assert lint(f"{arg_line}\nFROM ${{base_image}}\n", DockerfileKind.BUILD) == []


def test_two_froms_is_a_multi_stage_error_at_the_second_from():
    text = PREAMBLE + "RUN make\n\nFROM ${base_image}\nCOPY --from=0 /a /a\n"
    findings = lint(text, DockerfileKind.BUILD)
    assert len(findings) == 1
    (finding,) = findings
    assert finding.severity is Severity.ERROR
    assert finding.line == 5
    assert "multi-stage" in finding.message


def test_every_extra_from_is_reported():
    text = "FROM a\nFROM b\nFROM c\n"
    multi = [f for f in lint(text, DockerfileKind.RUN) if "multi-stage" in f.message]
    assert [(f.line, f.severity) for f in multi] == [(2, Severity.ERROR), (3, Severity.ERROR)]


@pytest.mark.parametrize(
    ("text", "line"),
    [
        pytest.param("FROM ${base_image}\nRUN true\n", 1, id="from-first"),
        pytest.param("# comment\n\nFROM ubuntu\nRUN true\n", 3, id="after-comments"),
        pytest.param("RUN true\nARG base_image\nFROM ${base_image}\n", 1, id="arg-not-first"),
        pytest.param("ARG other\nFROM ${base_image}\n", 1, id="different-arg"),
        pytest.param("ARG base_image_x\nFROM ${base_image}\n", 1, id="arg-with-longer-name"),
    ],
)
def test_build_missing_arg_base_image_is_an_error_at_the_first_instruction(text, line):
    preamble = [
        f for f in errors(lint(text, DockerfileKind.BUILD)) if "ARG base_image" in f.message
    ]
    assert len(preamble) == 1
    assert preamble[0].line == line
    assert preamble[0].message == "build.Dockerfile must begin with `ARG base_image`"


@pytest.mark.parametrize(
    ("text", "line"),
    [
        pytest.param("ARG base_image\nFROM ubuntu\n", 2, id="fixed-image"),
        pytest.param("ARG base_image\n\nFROM ubuntu:22.04 AS x\n", 3, id="fixed-image-later"),
        pytest.param("ARG base_image\nFROM $other\n", 2, id="other-arg"),
        pytest.param("ARG base_image\nFROM ${base_image_x}\n", 2, id="similar-arg"),
        pytest.param("ARG base_image\nRUN true\nFROM ${base_image}\n", 2, id="run-before-from"),
        pytest.param("ARG base_image\nFROM\n", 2, id="from-without-image"),
    ],
)
def test_build_arg_base_image_must_be_followed_by_from_base_image(text, line):
    findings = [f for f in errors(lint(text, DockerfileKind.BUILD)) if "follow" in f.message]
    assert [f.line for f in findings] == [line]
    assert "FROM ${base_image}" in findings[0].message


def test_build_arg_base_image_alone_is_reported_at_the_arg():
    findings = errors(lint("ARG base_image\n", DockerfileKind.BUILD))
    assert (1, "no FROM instruction") in [(f.line, f.message) for f in findings]
    follow = [f for f in findings if "follow" in f.message]
    assert [f.line for f in follow] == [1]


@pytest.mark.parametrize("kind", list(DockerfileKind))
def test_empty_dockerfile_has_no_from(kind):
    findings = lint("", kind)
    assert LintFinding(1, Severity.ERROR, "no FROM instruction") in findings


@pytest.mark.parametrize("keyword", ["EXPOSE 8080", 'CMD ["app"]', 'ENTRYPOINT ["/bin/app"]'])
@pytest.mark.parametrize("kind", list(DockerfileKind))
def test_disallowed_instruction_is_a_warning_at_its_line(keyword, kind):
    text = PREAMBLE + "RUN true\n\n" + keyword + "\n"
    findings = lint(text, kind)
    assert len(findings) == 1
    (finding,) = findings
    assert finding.severity is Severity.WARNING
    assert finding.line == 5
    assert finding.message.startswith(f"{keyword.split()[0]} is not an allowed instruction")


def test_healthcheck_spanning_lines_is_a_warning_at_its_first_line():
    text = PREAMBLE + "HEALTHCHECK --interval=5m \\\n  CMD curl -f http://localhost/\nUSER 1000\n"
    findings = lint(text, DockerfileKind.BUILD)
    assert [(f.line, f.severity) for f in findings] == [(3, Severity.WARNING)]
    assert "HEALTHCHECK" in findings[0].message


@pytest.mark.parametrize(
    "keyword", ["EXPOSE", "CMD", "ENTRYPOINT", "HEALTHCHECK", "VOLUME", "ONBUILD", "STOPSIGNAL"]
)
def test_instructions_outside_the_extension_contract_are_not_allowed(keyword):
    assert keyword not in ALLOWED_INSTRUCTIONS
    findings = lint(PREAMBLE + f"{keyword.lower()} x\n", DockerfileKind.BUILD)
    assert [(f.line, f.severity) for f in findings] == [(3, Severity.WARNING)]


@pytest.mark.parametrize("keyword", sorted(ALLOWED_INSTRUCTIONS - {"FROM"}))
def test_allowed_instructions_give_no_warning(keyword):
    assert lint(PREAMBLE + f"{keyword} x\n", DockerfileKind.BUILD) == []


def test_warning_message_lists_the_allowed_instructions():
    (finding,) = lint(PREAMBLE + "EXPOSE 80\n", DockerfileKind.BUILD)
    for keyword in ALLOWED_INSTRUCTIONS:
        assert keyword in finding.message


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("FROM other/image\nRUN true\n", id="other-image"),
        pytest.param("FROM registry.example.com/team/run:1.2\n", id="registry-image"),
        pytest.param(PREAMBLE + "RUN true\n", id="extension-preamble"),
        pytest.param("ARG base_image\nFROM ubuntu\n", id="arg-then-fixed-image"),
    ],
)
def test_run_kind_has_no_preamble_rule(text):
    assert lint(text, DockerfileKind.RUN) == []


def test_findings_are_sorted_by_line_with_errors_first():
    text = "EXPOSE 80\nFROM a\nFROM b\nCMD x\n"
    findings = lint(text, DockerfileKind.BUILD)
    assert [(f.line, f.severity) for f in findings] == [
        (1, Severity.ERROR),
        (1, Severity.WARNING),
        (3, Severity.ERROR),
        (4, Severity.WARNING),
    ]


@pytest.mark.parametrize(
    ("finding", "expected"),
    [
        (
            LintFinding(7, Severity.ERROR, "multi-stage Dockerfiles are not allowed"),
            "build.Dockerfile:7: error: multi-stage Dockerfiles are not allowed",
        ),
        (
            LintFinding(12, Severity.WARNING, "EXPOSE is not an allowed instruction"),
            "build.Dockerfile:12: warning: EXPOSE is not an allowed instruction",
        ),
    ],
)
def test_lint_finding_format(finding, expected):
    assert finding.format("build.Dockerfile") == expected


def test_lint_finding_format_from_a_real_finding():
    (finding,) = lint(PREAMBLE + "FROM ${base_image}\n", DockerfileKind.BUILD)
    assert finding.format("ext/build.Dockerfile").startswith("ext/build.Dockerfile:3: error: ")


@pytest.mark.parametrize(
    ("value", "text"), [(Severity.ERROR, "error"), (Severity.WARNING, "warning")]
)
def test_severity_values(value, text):
    assert value.value == text
    assert str(value) == text


@pytest.mark.parametrize(
    ("kind", "text"), [(DockerfileKind.BUILD, "build"), (DockerfileKind.RUN, "run")]
)
def test_kind_values(kind, text):
    assert DockerfileKind(text) is kind


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
def test_split_user(user, expected):
    assert split_user(user) == expected


@pytest.mark.parametrize(
    "user", ["", "0", "root", "0:0", "root:root", "0:1000", "root:cnb", " root ", "  "]
)
def test_root_users(user):
    assert is_root_user(user) is True


@pytest.mark.parametrize(
    "user", ["1000:1000", "cnb", "1001", "1000:0", "cnb:root", "rootless", "Root", "1000"]
)
def test_non_root_users(user):
    assert is_root_user(user) is False
