"""Several targets published as pack does: per-target names, the joined index, run images
checked for every target platform."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from cnbext.cnb.imageref import suffixed_name
from cnbext.errors import ConfigError
from cnbext.plan.builder_targets import (
    check_run_image_platforms,
    join_platform_builds,
    run_image_references,
)
from cnbext.plan.create_builder import plan_create_builder
from tests.plan.test_create_builder import OPTIONS, inputs_for, load

RUN = "localhost:5000/stack/run:1"
MIRROR = "localhost:5001/stack/run:1"


@pytest.mark.parametrize(
    ("name", "platform", "expected"),
    [
        # pack's internal/name AppendSuffix cases
        ("my.registry.com/my-repo/my-image:some-tag", "linux/amd64/v6", "my.registry.com/my-repo/my-image:some-tag-linux-amd64-v6"),
        ("my.registry.com/my-repo/my-image:latest", "linux/amd64/v6", "my.registry.com/my-repo/my-image:linux-amd64-v6"),
        ("my.registry.com/my-repo/my-image:some-tag", "linux/amd64", "my.registry.com/my-repo/my-image:some-tag-linux-amd64"),
        ("my.registry.com/my-repo/my-image", "linux/arm64", "my.registry.com/my-repo/my-image:linux-arm64"),
        ("localhost:5000/a/b@sha256:" + "1" * 64, "linux/arm64", "localhost:5000/a/b@sha256:" + "1" * 64),
    ],
)  # fmt: skip
def test_per_target_names_are_packs(name: str, platform: str, expected: str) -> None:
    assert suffixed_name(name, platform) == expected


def test_every_run_image_must_serve_every_target_platform(tmp_path: Path) -> None:
    config = load(tmp_path)
    assert run_image_references(config) == (RUN, MIRROR)
    platforms = ("linux/amd64", "linux/arm64")
    served = {RUN: ("linux/amd64", "linux/arm64/v8"), MIRROR: ("linux/amd64", "linux/arm64")}
    assert check_run_image_platforms(config, platforms, served) == ()
    with pytest.raises(ConfigError) as caught:
        check_run_image_platforms(config, platforms, {**served, MIRROR: ("linux/amd64",)})
    assert [str(p) for p in caught.value.problems] == [
        "builder.toml:20:1: $.run.images[0]: run image localhost:5001/stack/run:1 has no image "
        "for linux/arm64 (it has linux/amd64); every target platform needs one"
    ]
    # A variant asked for is needed exactly.
    with pytest.raises(ConfigError) as caught:
        check_run_image_platforms(config, ("linux/arm/v7",), {RUN: ("linux/arm/v6",)})
    assert "has no image for linux/arm/v7 (it has linux/arm/v6)" in str(caught.value.problems[0])


def test_a_run_image_that_cannot_be_read_is_packs_warning(tmp_path: Path) -> None:
    config = load(tmp_path)
    served = {RUN: ("linux/amd64",), MIRROR: None}
    assert check_run_image_platforms(config, ("linux/amd64",), served) == (
        f"run image {MIRROR} is not accessible",
    )


def test_per_platform_builds_are_joined_under_name(tmp_path: Path) -> None:
    config = load(tmp_path)
    options = replace(OPTIONS, names=(OPTIONS.names[0], "localhost:5000/b/other:1"), publish=True)
    per_platform = [
        plan_create_builder(config, replace(options, platforms=(p,)), *inputs_for(config)).builds[
            -1
        ]
        for p in ("linux/amd64", "linux/arm64")
    ]
    (builder,) = plan_create_builder(config, options, *inputs_for(config)).builds
    joined = join_platform_builds(builder, per_platform, suffix=True)
    assert joined.names == options.names
    assert [(b.names, b.platforms) for b in joined.per_platform] == [
        (("localhost:5000/b/builder:1-linux-amd64",), ("linux/amd64",)),
        (("localhost:5000/b/builder:1-linux-arm64",), ("linux/arm64",)),
    ]
    assert joined.tag_platforms
    plain = join_platform_builds(builder, per_platform, suffix=False)
    assert [b.names for b in plain.per_platform] == [(options.names[0],)] * 2
    assert not plain.tag_platforms
