"""The extender rules the client applies between chained steps, with a fake layout builder:
what each step is given, the rebasable reset, history names, the root refusal."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import pytest

from cnbext.client.extension_chain import build_extension_steps, build_plan_steps
from cnbext.cnb.dockerfile import DockerfileKind
from cnbext.cnb.extender import REBASABLE_LABEL as REBASABLE
from cnbext.cnb.extender import ExtenderStep
from cnbext.cnb.provenance import PROVENANCE, BaseRecord, Provenance
from cnbext.engine.extension_steps import LayoutImage, StepBuild, read_layout
from cnbext.errors import ROOT_USER_ERROR, ExtensionError
from cnbext.plan.model import ImageBuild
from cnbext.progress import SilentReporter
from tests.fixtures.oci_layout import configs, write_layout

RUN = DockerfileKind.RUN
PLATFORMS = ("linux/amd64", "linux/arm64")


class FakeLayouts:
    """Exports images with a User per name; a built step sets the User and labels it is told
    to (by a ``# user=... label=...`` first line), adding one history entry."""

    def __init__(self, users: dict[str, str], base_labels: dict[str, str] | None = None) -> None:
        self.users = users
        self.base_labels = base_labels or {}
        self.exports: list[str] = []
        self.builds: list[StepBuild] = []

    def export_layout(
        self, reference: str, platforms: Sequence[str], dest: Path, *, pull: bool
    ) -> LayoutImage:
        self.exports.append(reference)
        spec = {
            "User": self.users[reference],
            "Labels": dict(self.base_labels),
            "history": ["base"],
        }
        return read_layout(write_layout(dest, {p: spec for p in platforms}))

    def build_layout(self, step: StepBuild, dest: Path) -> LayoutImage:
        self.builds.append(step)
        directives = dict(w.split("=", 1) for w in step.dockerfile.splitlines()[0][2:].split())
        base = next(iter(step.contexts.values()))
        spec: dict[str, Any] = {}
        for config in configs(base.path):
            labels = dict(config["config"]["Labels"])
            if "label" in directives:
                labels["io.buildpacks.rebasable"] = directives["label"]
            spec = {
                "User": directives.get("user", config["config"]["User"]),
                "Labels": labels,
                "history": [h["created_by"] for h in config["history"]] + ["RUN step"],
            }
        return read_layout(write_layout(dest, {p: spec for p in step.platforms}))


def step(ext: str, first_line: str, *, switch_to: str | None = None, extends: bool = True,
         args: dict[str, str] | None = None) -> ExtenderStep:  # fmt: skip
    return ExtenderStep(
        RUN, ext, "1.0.0", f"{first_line}\nARG base_image\n", args or {}, None, switch_to, extends
    )


PROVENANCE_OF_RUN = Provenance("extend", "image", "0", BaseRecord("run:1"), PLATFORMS, {})


def image_build(*steps: ExtenderStep, rebasable: bool = True) -> ImageBuild:
    return ImageBuild(
        role="run image", base="run:1", dockerfile="", build_args={},
        labels={PROVENANCE: PROVENANCE_OF_RUN.encode()}, result_labels={}, label_changes=(),
        names=("out:1",), platforms=PLATFORMS, package_manager=None, packages=(), base_user="1001:1000",
        extension_steps=steps, extension_build_ids=tuple(f"id-{i}" for i in range(len(steps))),
        rebasable=rebasable,
    )  # fmt: skip


def final_labels(result: ImageBuild) -> list[dict[str, str]]:
    """Each platform's labels in the layout the image itself is built on."""
    assert result.base_context is not None
    final = Path(result.base_context.removeprefix("oci-layout://").split("@")[0])
    return [dict(config["config"].get("Labels") or {}) for config in configs(final)]


def recorded_rebasable(result: ImageBuild) -> object:
    return json.loads(result.labels[PROVENANCE]).get("rebasable")


def chain(layouts: FakeLayouts, build: ImageBuild, tmp_path: Path) -> ImageBuild:
    engine = cast(Any, layouts)
    return build_extension_steps(engine, SilentReporter(), build, tmp_path, pull=False)


def test_args_user_history_and_rebasable_through_two_steps(tmp_path: Path) -> None:
    layouts = FakeLayouts({"run:1": "1001:1000"})
    build = image_build(
        step("a/one", "# user=root label=true", args={"greeting": "hi"}),
        step("a/two", "# user=1001:1000 label=1"),
    )
    result = chain(layouts, build, tmp_path)
    first, second = layouts.builds
    assert list(first.build_args.items()) == [
        ("build_id", "id-0"), ("user_id", "1001"), ("group_id", "1000"),
        ("greeting", "hi"), ("base_image", "cnbext-base"),
    ]  # fmt: skip
    assert (second.build_args["user_id"], second.build_args["group_id"]) == ("root", "")
    assert second.build_args["build_id"] == "id-1"
    assert first.platforms == second.platforms == PLATFORMS
    assert layouts.exports == ["run:1"]
    # Every run step said so: recorded in the provenance; the image keeps its base's
    # (missing) label, so an app built on it is not refused by the lifecycle's rebaser.
    assert result.rebasable is True and recorded_rebasable(result) is True
    assert [REBASABLE in labels for labels in final_labels(result)] == [False, False]
    assert REBASABLE not in result.labels
    assert result.base_context is not None
    final = Path(result.base_context.removeprefix("oci-layout://").split("@")[0])
    for config in configs(final):
        assert [h["created_by"] for h in config["history"]] == [
            "base",
            "Layer: 'RUN step', Created by extension: a/one",
            "Layer: 'RUN step', Created by extension: a/two",
        ]


def test_the_label_is_reset_before_each_run_step(tmp_path: Path) -> None:
    layouts = FakeLayouts({"run:1": "1001:1000"}, base_labels={"io.buildpacks.rebasable": "true"})
    result = chain(layouts, image_build(step("a/silent", "# user=1001:1000")), tmp_path)
    # The base's "true" did not count for the step; the image gets the base's label back.
    assert result.rebasable is False and recorded_rebasable(result) is False
    assert [labels[REBASABLE] for labels in final_labels(result)] == ["true", "true"]


def test_a_step_labelled_false_leaves_no_false_label_on_the_image(tmp_path: Path) -> None:
    layouts = FakeLayouts({"run:1": "1001:1000"})
    result = chain(layouts, image_build(step("a/no", "# label=false")), tmp_path)
    assert result.rebasable is False and recorded_rebasable(result) is False
    assert [REBASABLE in labels for labels in final_labels(result)] == [False, False]


def test_cnbexts_own_packages_can_keep_it_false(tmp_path: Path) -> None:
    layouts = FakeLayouts({"run:1": "1001:1000"})
    build = image_build(step("a/yes", "# label=true"), rebasable=False)
    assert recorded_rebasable(chain(layouts, build, tmp_path)) is False


def test_a_switch_builds_on_the_switched_to_image_with_its_user(tmp_path: Path) -> None:
    layouts = FakeLayouts({"run:1": "1001:1000", "other:2": "1234:1234"})
    build = image_build(step("a/switch", "# label=true", switch_to="other:2"), step("a/after", "#"))
    chain(layouts, build, tmp_path)
    assert layouts.exports == ["other:2"]
    switching = layouts.builds[0]
    assert (switching.build_args["user_id"], switching.build_args["group_id"]) == ("1234", "1234")
    assert set(switching.contexts) == {"cnbext-base", "other:2"}  # its FROM resolves to the copy
    assert layouts.builds[1].build_args["user_id"] == "1234"


def test_a_switch_with_nothing_after_its_from_is_not_built(tmp_path: Path) -> None:
    layouts = FakeLayouts({"run:1": "1001:1000", "other:2": "1234:1234"})
    build = image_build(step("a/switch", "#", switch_to="other:2", extends=False))
    result = chain(layouts, build, tmp_path)
    assert layouts.builds == []
    assert result.base_context is not None and "@sha256:" in result.base_context


def test_a_run_image_left_as_root_is_refused(tmp_path: Path) -> None:
    layouts = FakeLayouts({"run:1": "1001:1000"})
    with pytest.raises(ExtensionError) as caught:
        chain(layouts, image_build(step("a/root", "# user=0")), tmp_path)
    assert caught.value.exit_code == ROOT_USER_ERROR


def test_no_steps_no_work(tmp_path: Path) -> None:
    layouts = FakeLayouts({})
    build = image_build()
    assert chain(layouts, build, tmp_path) is build


def test_each_platforms_build_of_a_joined_builder_gets_its_own_chain(tmp_path: Path) -> None:
    # A several-target builder is published from its per-platform builds only: each must be
    # built on its own extended base, on its own platform.
    from dataclasses import replace

    from cnbext.plan.model import Plan, PullPolicy

    layouts = FakeLayouts({"run:1": "1001:1000"})
    whole = image_build(step("a/one", "# user=1001:1000"))
    ones = tuple(replace(whole, platforms=(p,)) for p in PLATFORMS)
    joined_build = replace(whole, per_platform=ones)
    plan = Plan("create-builder", (joined_build,), True, PullPolicy.IF_NOT_PRESENT)
    engine = cast(Any, layouts)
    (joined,) = build_plan_steps(engine, SilentReporter(), plan, tmp_path).builds
    assert [b.platforms for b in layouts.builds] == [(p,) for p in PLATFORMS]
    for one in joined.per_platform:
        assert one.base_context is not None
        assert Path(one.base_context.removeprefix("oci-layout://").split("@")[0]).is_dir()
