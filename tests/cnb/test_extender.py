"""The extender's rules on generated outputs, without an engine."""

from __future__ import annotations

import pytest

from cnbext.cnb.dockerfile import DockerfileKind
from cnbext.cnb.extender import (
    ExtenderStep,
    ExtensionPlans,
    GeneratedOutput,
    applied_extensions,
    check_final_user,
    history_name,
    labels_before,
    parse_bool,
    parse_detect_plan,
    plan_extender,
    step_build_args,
    still_rebasable,
)
from cnbext.errors import DETECT_PLAN_ERROR, GENERATE_OUTPUT_ERROR, ROOT_USER_ERROR, ExtensionError

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


def test_build_dockerfiles_never_switch() -> None:
    plan = plan_extender([output("a", build=EXTEND)], DockerfileKind.BUILD)
    assert plan.steps[0].switch_to is None


def test_rule_errors_of_every_dockerfile_stop_everything_and_warnings_are_kept() -> None:
    with pytest.raises(ExtensionError) as caught:
        plan_extender(
            [output("a", build="FROM ${base_image}\n"), output("b", build=EXTEND + "FROM x\n")],
            DockerfileKind.BUILD,
        )
    assert caught.value.exit_code == GENERATE_OUTPUT_ERROR
    message = str(caught.value)
    assert (
        "a/build.Dockerfile:1:1: error: build.Dockerfile did not start with required ARG" in message
    )
    assert (
        "b/build.Dockerfile:4:1: error: build.Dockerfile is not permitted to use multistage"
        in message
    )
    plan = plan_extender([output("a", build=EXTEND + "EXPOSE 80\n")], DockerfileKind.BUILD)
    assert plan.warnings == (
        "a/build.Dockerfile:4:1: warning: command EXPOSE is not recommended in extension "
        "Dockerfiles (recommended: ADD, ARG, COPY, ENV, FROM, LABEL, RUN, SHELL, USER, WORKDIR)",
    )


def step(
    kind: DockerfileKind = DockerfileKind.RUN, args: dict[str, str] | None = None
) -> ExtenderStep:
    return ExtenderStep(kind, "ext/x", "1.0.0", EXTEND, args or {}, None, None)


def test_step_args_in_the_lifecycle_order_with_base_image_last() -> None:
    args = step_build_args(
        step(args={"greeting": "hi"}), build_id="b", user="1001:1000", base_image="base"
    )
    assert list(args.items()) == [
        ("build_id", "b"),
        ("user_id", "1001"),
        ("group_id", "1000"),
        ("greeting", "hi"),
        ("base_image", "base"),
    ]
    assert step_build_args(step(), build_id="b", user="cnb", base_image="x")["group_id"] == ""


def test_a_reproducible_request_gives_each_step_its_epoch_after_the_extensions_args() -> None:
    args = step_build_args(
        step(args={"SOURCE_DATE_EPOCH": "1"}),
        build_id="b",
        user="cnb",
        base_image="base",
        source_date_epoch="1700000000",
    )
    assert list(args)[-2:] == ["SOURCE_DATE_EPOCH", "base_image"]
    assert args["SOURCE_DATE_EPOCH"] == "1700000000"
    assert "SOURCE_DATE_EPOCH" not in step_build_args(
        step(), build_id="b", user="cnb", base_image="base"
    )


@pytest.mark.parametrize(
    ("value", "parsed"),
    [("true", True), ("True", True), ("1", True), ("t", True), ("TRUE", True),
     ("false", False), ("0", False), ("F", False), (None, None), ("yes", None), ('"true"', None)],
)  # fmt: skip
def test_parse_bool_is_gos(value: str | None, parsed: bool | None) -> None:
    assert parse_bool(value) is parsed


def test_rebasable_needs_every_run_step_and_platform_to_say_so() -> None:
    yes, no = {"io.buildpacks.rebasable": "1"}, {"io.buildpacks.rebasable": "false"}
    assert still_rebasable(True, [yes, yes])
    assert not still_rebasable(True, [yes, no])
    assert not still_rebasable(True, [{}])
    assert not still_rebasable(False, [yes])
    assert labels_before(step()) == {"io.buildpacks.rebasable": "false"}
    assert labels_before(step(DockerfileKind.BUILD)) == {}


def test_history_name_and_final_user() -> None:
    assert history_name("a/b").replace("{created_by}", "RUN x") == (
        "Layer: 'RUN x', Created by extension: a/b"
    )
    check_final_user(DockerfileKind.RUN, "1000:1000")
    check_final_user(DockerfileKind.BUILD, "root")
    for user in ("0", "root", "", "0:0"):
        with pytest.raises(ExtensionError) as caught:
            check_final_user(DockerfileKind.RUN, user)
        assert caught.value.exit_code == ROOT_USER_ERROR
