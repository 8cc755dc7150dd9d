"""Applying plans with the fake engine: publish order, what-was-published reporting on
failure, and which steps run concurrently."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

import cnbext
from cnbext.client.publish import apply_plan
from cnbext.errors import BuildError, PublishError
from cnbext.plan.model import ImageBuild
from tests.client.fake_engine import Call, FakeEngine, digest_of, failing_build, failing_copy
from tests.client.images import IMAGES, extend_builder_toml

BUILDER_OUT = "localhost:5000/b/builder:2"
RUN_OUT = "localhost:5000/stack/run:2"
MIRROR = "localhost:5001/stack/run:2"
MIRROR_2 = "localhost:5002/stack/run:2"
TAG = "localhost:5000/b/builder:tag"


def options(**changes: object) -> cnbext.BuilderOptions:
    values: dict[str, object] = {
        "names": (BUILDER_OUT,),
        "run_image": RUN_OUT,
        "run_image_mirrors": (MIRROR, MIRROR_2),
        "publish": True,
    }
    values.update(changes)
    return cnbext.BuilderOptions(**values)  # type: ignore[arg-type]


def extend_builder(tmp_path: Path, engine: FakeEngine, **changes: object) -> cnbext.Result:
    return cnbext.extend_builder(extend_builder_toml(tmp_path), options(**changes), engine=engine)


def test_run_image_and_mirrors_are_published_before_the_builder(tmp_path: Path) -> None:
    engine = FakeEngine(IMAGES)
    result = extend_builder(tmp_path, engine)
    published = [c for c in engine.made() if c.method != "prebuild"]
    assert published == [
        Call("build", RUN_OUT, publish=True),
        Call("copy", MIRROR),
        Call("copy", MIRROR_2),
        Call("build", BUILDER_OUT, publish=True),
    ]
    # The builder was built into the cache while the run image was pushed.
    assert Call("prebuild", BUILDER_OUT) in engine.made()
    assert [(i.role, i.names, i.published) for i in result.images] == [
        ("run image", (RUN_OUT, MIRROR, MIRROR_2), True),
        ("builder", (BUILDER_OUT,), True),
    ]
    assert result.images[0].digest == digest_of(RUN_OUT)


def test_a_failed_mirror_copy_says_what_was_published_and_stops_the_builder(
    tmp_path: Path,
) -> None:
    engine = FakeEngine(IMAGES, failures=failing_copy(MIRROR_2))
    with pytest.raises(PublishError) as caught:
        extend_builder(tmp_path, engine)
    run_digest = digest_of(RUN_OUT)
    assert caught.value.message.splitlines() == [
        f"cannot copy to {MIRROR_2}: denied",
        f"published: {RUN_OUT}@{run_digest}, {MIRROR}@{run_digest}",
        f"not published: {MIRROR_2}, {BUILDER_OUT}",
    ]
    assert Call("build", BUILDER_OUT, publish=True) not in engine.calls


def test_a_mirror_with_another_digest_is_a_publish_error(tmp_path: Path) -> None:
    engine = FakeEngine(IMAGES, wrong_digest={MIRROR})
    with pytest.raises(PublishError, match=f"{MIRROR} has digest") as caught:
        extend_builder(tmp_path, engine)
    assert f"not published: {MIRROR}, {MIRROR_2}, {BUILDER_OUT}" in caught.value.message
    assert Call("build", BUILDER_OUT, publish=True) not in engine.calls


def test_a_failed_builder_lists_the_run_image_and_mirrors_as_published(tmp_path: Path) -> None:
    engine = FakeEngine(IMAGES, failures=failing_build(BUILDER_OUT))
    with pytest.raises(BuildError) as caught:
        extend_builder(tmp_path, engine)
    digest = digest_of(RUN_OUT)
    lines = caught.value.message.splitlines()
    assert lines[1] == f"published: {RUN_OUT}@{digest}, {MIRROR}@{digest}, {MIRROR_2}@{digest}"
    assert lines[2] == f"not published: {BUILDER_OUT}"
    assert caught.value.exit_code == BuildError("x").exit_code  # keeps its own exit code


def test_a_failed_run_image_publishes_nothing(tmp_path: Path) -> None:
    engine = FakeEngine(IMAGES, failures=failing_build(RUN_OUT))
    with pytest.raises(BuildError) as caught:
        extend_builder(tmp_path, engine)
    assert "published: nothing" in caught.value.message
    assert [c for c in engine.made() if c.method in ("copy", "build")] == [
        Call("build", RUN_OUT, publish=True)
    ]


def test_the_builder_builds_while_the_run_image_is_pushed(tmp_path: Path) -> None:
    # Each waits for the other: run one after the other, this would fail.
    together = {("build", RUN_OUT), ("prebuild", BUILDER_OUT)}
    engine = FakeEngine(IMAGES, together=together)
    extend_builder(tmp_path, engine)


def test_without_publish_both_images_build_together_and_load(tmp_path: Path) -> None:
    together = {("build", RUN_OUT), ("build", BUILDER_OUT)}
    engine = FakeEngine(IMAGES, together=together)
    result = extend_builder(tmp_path, engine, publish=False, run_image_mirrors=())
    assert not any(c.method in ("copy", "prebuild") for c in engine.calls)
    assert [(i.names, i.published) for i in result.images] == [
        ((RUN_OUT,), False),
        ((BUILDER_OUT,), False),
    ]


def platform_digest(build: ImageBuild) -> str:
    return digest_of(f"{build.primary_name}#{build.platforms[0]}")


def test_per_platform_builders_are_pushed_then_joined_into_one_index(tmp_path: Path) -> None:
    engine = FakeEngine(IMAGES)
    result = extend_builder(tmp_path, engine)
    run, builder = result.plan.builds
    ones = tuple(
        replace(builder, names=(f"{BUILDER_OUT}-linux-{arch}",), platforms=(f"linux/{arch}",))
        for arch in ("amd64", "arm64")
    )
    joined = replace(builder, names=(BUILDER_OUT, TAG), per_platform=ones, tag_platforms=True)
    plan = replace(result.plan, builds=(run, joined))
    engine.calls.clear()
    images = apply_plan(engine, plan)
    repository = BUILDER_OUT.rsplit(":", 1)[0]
    digests = [f"{repository}@{platform_digest(one)}" for one in ones]
    published = [c for c in engine.made() if c.method != "prebuild"]
    assert published[3:] == [
        Call("push-platform", ones[0].primary_name, publish=True),
        Call("push-platform", ones[1].primary_name, publish=True),
        Call("index", f"{BUILDER_OUT}<-{','.join(digests)}", publish=True),
        Call("copy", TAG),
    ]
    # Each platform's build went into the cache while the run image was pushed.
    assert {c.target for c in engine.made() if c.method == "prebuild"} == {
        one.primary_name for one in ones
    }
    assert images[1].digest == digest_of(BUILDER_OUT)


def test_a_failed_index_lists_the_per_platform_names_published(tmp_path: Path) -> None:
    engine = FakeEngine(IMAGES)
    result = extend_builder(tmp_path, engine)
    run, builder = result.plan.builds
    one = replace(builder, names=(f"{BUILDER_OUT}-linux-amd64",), platforms=("linux/amd64",))
    joined = replace(builder, per_platform=(one,), tag_platforms=True)
    source = f"{BUILDER_OUT.rsplit(':', 1)[0]}@{platform_digest(one)}"
    engine.failures[("index", f"{BUILDER_OUT}<-{source}")] = PublishError("denied")
    with pytest.raises(PublishError) as caught:
        apply_plan(engine, replace(result.plan, builds=(run, joined)))
    lines = caught.value.message.splitlines()
    assert lines[1].endswith(f", {one.primary_name}@{platform_digest(one)}")
    assert lines[2] == f"not published: {BUILDER_OUT}"
