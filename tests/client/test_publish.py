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
    made = engine.made()
    # Both images are built (and pushed by digest, under no name) before any name is given.
    assert set(made[:2]) == {
        Call("build", RUN_OUT, publish=True),
        Call("build", BUILDER_OUT, publish=True),
    }
    # Then names in publish order: the run image, its mirrors (in any order), the builder.
    assert made[2] == Call("copy", RUN_OUT)
    assert set(made[3:5]) == {Call("copy", MIRROR), Call("copy", MIRROR_2)}
    assert made[5:] == [Call("copy", BUILDER_OUT)]
    # Each image is built exactly once.
    assert [c.method for c in made].count("build") == 2
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
    assert Call("copy", BUILDER_OUT) not in engine.calls


def test_a_mirror_with_another_digest_is_a_publish_error(tmp_path: Path) -> None:
    engine = FakeEngine(IMAGES, wrong_digest={MIRROR})
    with pytest.raises(PublishError, match=f"{MIRROR} has digest") as caught:
        extend_builder(tmp_path, engine)
    assert f"not published: {MIRROR}, {BUILDER_OUT}" in caught.value.message
    assert Call("copy", BUILDER_OUT) not in engine.calls


def test_a_failed_builder_build_publishes_nothing(tmp_path: Path) -> None:
    engine = FakeEngine(IMAGES, failures=failing_build(BUILDER_OUT))
    with pytest.raises(BuildError) as caught:
        extend_builder(tmp_path, engine)
    lines = caught.value.message.splitlines()
    assert lines[1] == "published: nothing"
    assert lines[2] == f"not published: {RUN_OUT}, {MIRROR}, {MIRROR_2}, {BUILDER_OUT}"
    assert not any(c.method == "copy" for c in engine.calls)
    assert caught.value.exit_code == BuildError("x").exit_code  # keeps its own exit code


def test_a_failed_builder_naming_lists_the_run_image_and_mirrors_as_published(
    tmp_path: Path,
) -> None:
    engine = FakeEngine(IMAGES, failures=failing_copy(BUILDER_OUT))
    with pytest.raises(PublishError) as caught:
        extend_builder(tmp_path, engine)
    digest = digest_of(RUN_OUT)
    lines = caught.value.message.splitlines()
    published = lines[1].removeprefix("published: ").split(", ")
    assert published[0] == f"{RUN_OUT}@{digest}"
    assert set(published[1:]) == {f"{MIRROR}@{digest}", f"{MIRROR_2}@{digest}"}
    assert lines[2] == f"not published: {BUILDER_OUT}"


def test_a_failed_run_image_publishes_nothing(tmp_path: Path) -> None:
    engine = FakeEngine(IMAGES, failures=failing_build(RUN_OUT))
    with pytest.raises(BuildError) as caught:
        extend_builder(tmp_path, engine)
    assert "published: nothing" in caught.value.message
    assert not any(c.method == "copy" for c in engine.calls)


def test_the_builder_and_the_run_image_build_at_the_same_time(tmp_path: Path) -> None:
    # Each waits for the other: run one after the other, this would fail.
    together = {("build", RUN_OUT), ("build", BUILDER_OUT)}
    engine = FakeEngine(IMAGES, together=together)
    extend_builder(tmp_path, engine)


def test_mirrors_are_copied_at_the_same_time(tmp_path: Path) -> None:
    together = {("copy", MIRROR), ("copy", MIRROR_2)}
    engine = FakeEngine(IMAGES, together=together)
    extend_builder(tmp_path, engine)


def test_without_publish_both_images_build_together_and_load(tmp_path: Path) -> None:
    together = {("build", RUN_OUT), ("build", BUILDER_OUT)}
    engine = FakeEngine(IMAGES, together=together)
    result = extend_builder(tmp_path, engine, publish=False, run_image_mirrors=())
    assert not any(c.method == "copy" for c in engine.calls)
    assert [(i.names, i.published) for i in result.images] == [
        ((RUN_OUT,), False),
        ((BUILDER_OUT,), False),
    ]


# -- an engine that pushes by name (BuildKit's docker driver) ---------------------------------


def by_name(**changes: object) -> FakeEngine:
    return FakeEngine(IMAGES, by_digest=False, **changes)  # type: ignore[arg-type]


def test_by_name_the_builder_builds_into_the_cache_while_the_run_image_is_pushed(
    tmp_path: Path,
) -> None:
    engine = by_name(together={("build", RUN_OUT), ("prebuild", BUILDER_OUT)})
    result = extend_builder(tmp_path, engine)
    made = engine.made()
    assert set(made[:2]) == {Call("build", RUN_OUT, publish=True), Call("prebuild", BUILDER_OUT)}
    assert made[2] == Call("copy", RUN_OUT)
    assert set(made[3:5]) == {Call("copy", MIRROR), Call("copy", MIRROR_2)}
    assert made[5:] == [Call("build", BUILDER_OUT, publish=True), Call("copy", BUILDER_OUT)]
    assert [i.names for i in result.images] == [(RUN_OUT, MIRROR, MIRROR_2), (BUILDER_OUT,)]


def test_by_name_a_failed_mirror_stops_the_builder_push(tmp_path: Path) -> None:
    engine = by_name(failures=failing_copy(MIRROR_2))
    with pytest.raises(PublishError) as caught:
        extend_builder(tmp_path, engine)
    assert f"not published: {MIRROR_2}, {BUILDER_OUT}" in caught.value.message
    assert Call("build", BUILDER_OUT, publish=True) not in engine.calls


def test_by_name_a_failed_builder_lists_the_run_image_and_mirrors_as_published(
    tmp_path: Path,
) -> None:
    engine = by_name(failures=failing_build(BUILDER_OUT))
    with pytest.raises(BuildError) as caught:
        extend_builder(tmp_path, engine)
    lines = caught.value.message.splitlines()
    assert lines[1].startswith(f"published: {RUN_OUT}@{digest_of(RUN_OUT)}, ")
    assert lines[2] == f"not published: {BUILDER_OUT}"


def test_one_image_is_pushed_by_name_even_where_digests_would_do(tmp_path: Path) -> None:
    # A single image has no order to keep: pushed under its name, then copied.
    engine = FakeEngine(IMAGES)
    result = extend_builder(tmp_path, engine, run_image=None, run_image_mirrors=())
    assert engine.made() == [
        Call("build", BUILDER_OUT, publish=True),
        Call("copy", BUILDER_OUT),
    ]
    assert result.images[0].published


def platform_digest(build: ImageBuild) -> str:
    return digest_of(f"{build.primary_name}#{build.platforms[0]}")


@pytest.mark.parametrize("digests", [True, False], ids=["by-digest", "by-name"])
def test_per_platform_builders_are_pushed_then_joined_into_one_index(
    tmp_path: Path, digests: bool
) -> None:
    # Own names (--append-image-name-suffix) are pushed as pack pushes them, in plan order,
    # whatever the driver.
    engine = FakeEngine(IMAGES, by_digest=digests)
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
    sources = [f"{repository}@{platform_digest(one)}" for one in ones]
    published = [c for c in engine.made() if c.method != "prebuild"]
    assert published[4:] == [
        Call("push-platform", ones[0].primary_name, publish=True),
        Call("push-platform", ones[1].primary_name, publish=True),
        Call("index", f"{BUILDER_OUT}<-{','.join(sources)}", publish=True),
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


def test_per_platform_images_without_own_names_are_pushed_by_digest_and_joined(
    tmp_path: Path,
) -> None:
    engine = FakeEngine(IMAGES)
    result = extend_builder(tmp_path, engine)
    run, builder = result.plan.builds
    ones = tuple(replace(builder, platforms=(f"linux/{arch}",)) for arch in ("amd64", "arm64"))
    plan = replace(result.plan, builds=(run, replace(builder, per_platform=ones)))
    engine.calls.clear()
    images = apply_plan(engine, plan)
    made = engine.made()
    # Every image pushed under no name before anything is named; the index joins the digests.
    assert {c.method for c in made[:3]} == {"build"}
    assert "push-platform" not in {c.method for c in made}
    source = f"{BUILDER_OUT.rsplit(':', 1)[0]}@{digest_of(BUILDER_OUT)}"
    assert made[-1] == Call("index", f"{BUILDER_OUT}<-{source},{source}", publish=True)
    assert [c.method for c in made[3:-1]] == ["copy", "copy", "copy"]
    assert images[1].digest == digest_of(BUILDER_OUT)
