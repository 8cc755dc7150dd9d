"""The extender's rules on generated outputs, without an engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from cnbext.cnb.dockerfile import DockerfileKind
from cnbext.cnb.extender import (
    DETECT_PLAN_ERROR,
    DOCKERFILE_ERROR,
    GENERATE_OUTPUT_ERROR,
    ExtensionError,
    ExtensionPlans,
    GeneratedOutput,
    applied_extensions,
    parse_detect_plan,
    plan_extender,
    read_generate_output,
)

EXTEND = "ARG base_image\nFROM ${base_image}\nRUN true\n"
REBASABLE = "ARG base_image\nFROM ${base_image}\nLABEL io.buildpacks.rebasable=true\n"


def output(ext: str, build: str | None = None, run: str | None = None) -> GeneratedOutput:
    return GeneratedOutput(ext, "1.0.0", build, run)


def test_provides_with_alternatives_and_no_requires() -> None:
    plan = '[[provides]]\nname = "a"\n[[or]]\n[[or.provides]]\nname = "b"\n'
    assert parse_detect_plan(plan, "x") == ("a", "b")
    assert parse_detect_plan("", "x") == ()


@pytest.mark.parametrize(
    "plan",
    [
        '[[requires]]\nname = "a"\n',
        '[[or]]\n[[or.requires]]\nname = "a"\n',
        "[[provides]]\n",
        "= broken",
    ],
)
def test_bad_plans(plan: str) -> None:
    with pytest.raises(ExtensionError) as caught:
        parse_detect_plan(plan, "ext/x")
    assert caught.value.exit_code == DETECT_PLAN_ERROR


def test_generate_output_args_and_contexts(tmp_path: Path) -> None:
    (tmp_path / "run.Dockerfile").write_text(EXTEND)
    (tmp_path / "extend-config.toml").write_text(
        '[[run.args]]\nname = "greeting"\nvalue = "a=b"\n[[build.args]]\nname = "x"\nvalue = "1"\n'
    )
    (tmp_path / "context.run").mkdir()
    result = read_generate_output(tmp_path, "ext/x", "1.0.0")
    assert result.run_dockerfile == EXTEND
    assert result.build_dockerfile is None
    assert result.run_args == {"greeting": "a=b"}
    assert result.build_args == {"x": "1"}
    assert result.run_context == tmp_path / "context.run"
    assert result.build_context is None  # the app dir


def test_a_shared_context_serves_both_kinds(tmp_path: Path) -> None:
    (tmp_path / "context").mkdir()
    result = read_generate_output(tmp_path, "ext/x", "1.0.0")
    assert result.build_context == result.run_context == tmp_path / "context"


@pytest.mark.parametrize("name", ["build_id", "user_id", "group_id"])
def test_reserved_arg_names(tmp_path: Path, name: str) -> None:
    (tmp_path / "extend-config.toml").write_text(f'[[build.args]]\nname = "{name}"\nvalue = "1"\n')
    with pytest.raises(ExtensionError, match=f"arg with name '{name}' is not allowed") as caught:
        read_generate_output(tmp_path, "ext/x", "1.0.0")
    assert caught.value.exit_code == GENERATE_OUTPUT_ERROR


def test_context_and_a_specific_context_together(tmp_path: Path) -> None:
    (tmp_path / "context").mkdir()
    (tmp_path / "context.build").mkdir()
    with pytest.raises(ExtensionError) as caught:
        read_generate_output(tmp_path, "ext/x", "1.0.0")
    assert caught.value.exit_code == GENERATE_OUTPUT_ERROR


def test_steps_keep_order_per_kind() -> None:
    outputs = [
        output("a", build=EXTEND, run=EXTEND),
        output("b", build=EXTEND),
        output("c", run=EXTEND),
    ]
    plans = ExtensionPlans.from_outputs(outputs)
    assert [s.extension_id for s in plans.build.steps] == ["a", "b"]
    assert [s.extension_id for s in plans.run.steps] == ["a", "c"]
    assert applied_extensions(plans.build) == [
        {"id": "a", "version": "1.0.0"},
        {"id": "b", "version": "1.0.0"},
    ]


def test_the_last_run_image_switch_wins_and_earlier_run_dockerfiles_are_ignored() -> None:
    outputs = [
        output("a", run=EXTEND),
        output("b", run="FROM other/run:1\n"),
        output("c", run=REBASABLE),
        output("d", run="FROM third/run:2\nLABEL x=y\n"),
        output("e", run=REBASABLE),
    ]
    plan = plan_extender(outputs, DockerfileKind.RUN)
    assert [s.extension_id for s in plan.steps] == ["d", "e"]
    assert plan.ignored == ("a", "b", "c")
    assert plan.switched_to == "third/run:2"
    assert not plan.rebasable  # d does not set it


def test_rebasable_only_when_every_applied_run_dockerfile_says_so() -> None:
    assert plan_extender(
        [output("a", run=REBASABLE), output("b", run=REBASABLE)], DockerfileKind.RUN
    ).rebasable
    assert not plan_extender(
        [output("a", run=REBASABLE), output("b", run=EXTEND)], DockerfileKind.RUN
    ).rebasable
    quoted = 'ARG base_image\nFROM ${base_image}\nLABEL io.buildpacks.rebasable="true"\n'
    assert plan_extender([output("a", run=quoted)], DockerfileKind.RUN).rebasable


def test_build_dockerfiles_never_switch() -> None:
    plan = plan_extender([output("a", build=EXTEND)], DockerfileKind.BUILD)
    assert plan.steps[0].switch_to is None


def test_lint_errors_stop_everything_and_warnings_are_kept() -> None:
    with pytest.raises(ExtensionError) as caught:
        plan_extender(
            [output("a", build="FROM ${base_image}\n"), output("b", build=EXTEND + "FROM x\n")],
            DockerfileKind.BUILD,
        )
    assert caught.value.exit_code == DOCKERFILE_ERROR
    assert "a/build.Dockerfile:1: error: build.Dockerfile must begin with `ARG base_image`" in str(
        caught.value
    )
    assert "b/build.Dockerfile:4: error: multi-stage" in str(caught.value)
    plan = plan_extender([output("a", build=EXTEND + "EXPOSE 80\n")], DockerfileKind.BUILD)
    assert plan.warnings == (
        "a/build.Dockerfile:4: warning: EXPOSE is not an allowed instruction "
        "(allowed: ADD, ARG, COPY, ENV, FROM, LABEL, RUN, SHELL, USER, WORKDIR); it may be ignored",
    )
