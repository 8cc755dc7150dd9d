"""Planning `cnbext extend-builder` with hand-made facts: no engine."""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from cnbext.cnb.builder_layout import RunImage, rewrite_run_image, run_images_of
from cnbext.config.extend_builder import ExtendBuilderConfig, load_extend_builder_config
from cnbext.errors import ConfigError, ImageError, UsageError
from cnbext.plan.builder_options import BuilderOptions
from cnbext.plan.extend_builder import check_options, plan_extend_builder, read_builder
from cnbext.plan.facts import BaseImage, ImageFacts
from cnbext.plan.model import PullPolicy

METADATA: dict[str, Any] = {
    "description": "a builder",
    "buildpacks": [{"id": "ex/a", "version": "1.0.0"}],
    "images": [
        {"image": "localhost:5000/stack/run:1", "mirrors": None},
        {"image": "localhost:5000/stack/run-other:1", "mirrors": ["m/other:1"]},
    ],
    "stack": {"runImage": {"image": "localhost:5000/stack/run:1", "mirrors": None}},
    "lifecycle": {"version": "0.21.0"},
    "unknownToCnbext": {"keep": [1, 2]},
}
BUILDER = BaseImage(
    reference="localhost:5000/b/builder:1",
    image_id="sha256:" + "c" * 64,
    user="1000:1000",
    labels={
        "io.buildpacks.builder.metadata": json.dumps(METADATA),
        "io.buildpacks.stack.id": "io.example.stack",
    },
    env={"CNB_USER_ID": "1000", "CNB_GROUP_ID": "1000"},
    os="linux",
    architecture="amd64",
    os_release="ID=debian\n",
    binaries=frozenset({"/usr/bin/apt-get"}),
)
RUN = replace(
    BUILDER,
    reference="localhost:5000/stack/run:1",
    user="1001:1000",
    labels={"io.buildpacks.stack.id": "io.example.stack"},
)
OPTIONS = BuilderOptions(
    names=("localhost:5000/b/builder:2",),
    run_image="localhost:5000/stack/run:2",
    run_image_mirrors=("localhost:5001/stack/run:2",),
    publish=False,
    pull_policy=PullPolicy.IF_NOT_PRESENT,
    platforms=(),
    build_id=None,
)
SCOPED = (
    '[extend.metadata]\npackages = ["jq"]\n'
    '[extend.metadata.build]\npackages = ["git"]\n'
    '[extend.metadata.run]\npackages = ["curl"]\n'
)


def load(tmp_path: Path, metadata: str = SCOPED) -> ExtendBuilderConfig:
    path = tmp_path / "extend-builder.toml"
    path.write_text(f'[extend]\nimage = "localhost:5000/b/builder:1"\n{metadata}')
    return load_extend_builder_config(path, "extend-builder.toml")


def test_builder_and_run_image_plans(tmp_path: Path) -> None:
    plan = plan_extend_builder(load(tmp_path), OPTIONS, ImageFacts(BUILDER, RUN))
    run, builder = plan.builds
    assert run.names == ("localhost:5000/stack/run:2", "localhost:5001/stack/run:2")
    assert run.packages == ("jq", "curl")
    assert builder.packages == ("jq", "git")
    lines = builder.dockerfile.splitlines()
    install = next(i for i, line in enumerate(lines) if line.startswith("RUN "))
    assert lines.index("USER root") < install < lines.index("COPY --link files/ /")
    assert lines[-1] == "USER ${user_id}:${group_id}"
    assert builder.build_args["user_id"] == "1000"
    run_toml = tomllib.loads(builder.context_files["files/cnb/run.toml"])
    assert run_toml["images"] == [
        {"image": "localhost:5000/stack/run:2", "mirrors": ["localhost:5001/stack/run:2"]},
        {"image": "localhost:5000/stack/run-other:1", "mirrors": ["m/other:1"]},
    ]
    stack = tomllib.loads(builder.context_files["files/cnb/stack.toml"])
    assert stack["run-image"]["image"] == "localhost:5000/stack/run:2"
    assert plan.steps()[0] == "build the run image and the builder concurrently"


def test_metadata_keeps_every_field_but_the_run_image(tmp_path: Path) -> None:
    (_, builder) = plan_extend_builder(load(tmp_path), OPTIONS, ImageFacts(BUILDER, RUN)).builds
    rewritten = json.loads(builder.labels["io.buildpacks.builder.metadata"])
    new_run = {"image": "localhost:5000/stack/run:2", "mirrors": ["localhost:5001/stack/run:2"]}
    assert rewritten["images"][0] == new_run
    assert rewritten["images"][1] == METADATA["images"][1]
    assert rewritten["stack"]["runImage"] == new_run
    for field in ("description", "buildpacks", "lifecycle", "unknownToCnbext"):
        assert rewritten[field] == METADATA[field]
    assert builder.result_labels["io.buildpacks.stack.id"] == "io.example.stack"


def test_without_run_image_only_the_builder_changes(tmp_path: Path) -> None:
    config = load(tmp_path, '[extend.metadata]\npackages = ["jq"]\n')
    options = replace(OPTIONS, run_image=None, run_image_mirrors=())
    (builder,) = plan_extend_builder(config, options, ImageFacts(BUILDER, None)).builds
    assert "io.buildpacks.builder.metadata" not in builder.labels
    assert builder.context_files == {}
    assert "COPY" not in builder.dockerfile


@pytest.mark.parametrize(
    ("metadata", "changes", "message"),
    [
        (
            SCOPED,
            {"run_image": None, "run_image_mirrors": ()},
            "has [extend.metadata.run]: give --run-image",
        ),
        (
            '[extend.metadata.build]\npackages = ["git"]\n',
            {},
            "has no [extend.metadata] or [extend.metadata.run]",
        ),
        (
            '[extend.metadata]\npackages = ["jq"]\n',
            {"run_image": None},
            "--run-image-mirror needs --run-image",
        ),
        ("", {"run_image": None, "run_image_mirrors": ()}, "nothing to do"),
        (SCOPED, {"publish": True, "pull_policy": PullPolicy.NEVER}, "--pull-policy never"),
    ],
)
def test_flags_that_cannot_work(
    tmp_path: Path, metadata: str, changes: dict[str, object], message: str
) -> None:
    with pytest.raises(UsageError, match=re.escape(message)):
        config, options = load(tmp_path, metadata), replace(OPTIONS, **changes)  # type: ignore[arg-type]
        check_options(options, config)
        plan_extend_builder(config, options, ImageFacts(BUILDER, RUN))


def test_not_a_builder(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="is not a builder"):
        plan_extend_builder(load(tmp_path), OPTIONS, ImageFacts(RUN, RUN))


def test_a_bad_package_is_located_in_its_scope(tmp_path: Path) -> None:
    config = load(tmp_path, SCOPED.replace('["git"]', '["jq", "Git"]'))
    with pytest.raises(ConfigError) as caught:
        plan_extend_builder(config, OPTIONS, ImageFacts(BUILDER, RUN))
    assert str(caught.value.problems[0]).startswith(
        "extend-builder.toml:6:19: $.extend.metadata.build.packages[1]: 'Git' is not a valid apt"
    )


def test_legacy_stack_run_image_with_null_mirrors() -> None:
    legacy: dict[str, Any] = {
        "stack": {"runImage": {"image": "r/run:1", "mirrors": None}},
        "other": 1,
    }
    assert run_images_of(legacy) == [RunImage("r/run:1", ())]
    rewritten = rewrite_run_image(legacy, RunImage("r/run:2", ("m/run:2",)))
    assert rewritten == {
        "stack": {"runImage": {"image": "r/run:2", "mirrors": ["m/run:2"]}},
        "images": [{"image": "r/run:2", "mirrors": ["m/run:2"]}],
        "other": 1,
    }
    assert legacy["stack"]["runImage"]["image"] == "r/run:1"  # the input is not changed


def test_read_builder_needs_a_run_image() -> None:
    empty = replace(BUILDER, labels={"io.buildpacks.builder.metadata": '{"description": "x"}'})
    with pytest.raises(ImageError, match="names no run image"):
        read_builder(empty)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[extend]\n[extend.metadata]\npackages = ["jq"]\n',
            "extend-builder.toml:1:1: $.extend: missing required key 'image' in [extend]",
        ),
        (
            '[extend]\nimage = "a/b"\nimages = 1\n',
            "extend-builder.toml:3:1: $.extend.images: unknown key 'images'; did you mean 'image'?",
        ),
        (
            '[extend]\nimage = "a/b"\n[extend.metadata.run]\npackages = "jq"\n',
            "extend-builder.toml:4:12: $.extend.metadata.run.packages: expected an array",
        ),
        (
            '[extend]\nimage = "a b"\n',
            "extend-builder.toml:2:9: $.extend.image: reference must not contain whitespace",
        ),
    ],
)
def test_invalid_extend_builder_configs(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "extend-builder.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_extend_builder_config(path, "extend-builder.toml")
    assert str(caught.value.problems[0]).startswith(expected)
