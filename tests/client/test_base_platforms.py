"""A platform the base lacks is refused before anything is built or published, with the base,
the platform asked for and the platforms it has; a dry run says the same. The platforms come
from what the base's registry serves (its origin), gathered with the facts."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

import cnbext
from cnbext.errors import ImageError
from cnbext.plan.facts import BaseImage
from tests.client.fake_engine import FakeEngine
from tests.client.fake_registry import FakeManifest, FakeRegistry
from tests.client.images import (
    BUILDER,
    BUILDER_NAME,
    OTHER_RUN,
    RUN,
    RUN_NAME,
    extend_builder_toml,
    extend_toml,
)

OUT = "localhost:5000/x/extended:1"
BOTH = ("linux/amd64", "linux/arm64")


def published(image: BaseImage, platforms: tuple[str, ...]) -> tuple[BaseImage, FakeManifest]:
    """``image`` as the daemon knows it from its registry, which serves ``platforms``."""
    repository, _, _ = image.reference.rpartition(":")
    index = "sha256:" + image.image_id[-8:] * 8
    served = {p: f"sha256:{i:064x}" for i, p in enumerate(platforms)}
    return replace(image, repo_digests=(f"{repository}@{index}",)), FakeManifest(index, served)


def engine_serving(**platforms: tuple[str, ...]) -> FakeEngine:
    """The fake engine with RUN, OTHER_RUN and BUILDER, each published for ``platforms[role]``
    (run, other, builder)."""
    images, tags = {}, {}
    for key, image in (("run", RUN), ("other", OTHER_RUN), ("builder", BUILDER)):
        known, manifest = published(image, platforms.get(key, BOTH))
        images[image.reference] = known
        tags[known.repo_digests[0]] = manifest
    return FakeEngine(images, served=FakeRegistry(tags))


@pytest.mark.parametrize("dry_run", [False, True])
def test_extend_for_a_platform_the_base_lacks_is_refused(tmp_path: Path, dry_run: bool) -> None:
    engine = engine_serving(run=("linux/amd64",))
    options = cnbext.ExtendOptions(names=(OUT,), platforms=BOTH, publish=True)
    with pytest.raises(ImageError) as raised:
        cnbext.extend(extend_toml(tmp_path), options, dry_run=dry_run, engine=engine)
    assert raised.value.message == (
        f"the image's base {RUN_NAME} has no image for linux/arm64 (it has linux/amd64); "
        "BuildKit would build it from another platform's image"
    )
    assert engine.made() == []


def test_extend_for_platforms_the_base_has_is_planned(tmp_path: Path) -> None:
    # arm64 entries often carry the v8 variant: linux/arm64 is served by linux/arm64/v8.
    engine = engine_serving(run=("linux/amd64", "linux/arm64/v8"))
    options = cnbext.ExtendOptions(names=(OUT,), platforms=BOTH, publish=True)
    result = cnbext.extend(extend_toml(tmp_path), options, dry_run=True, engine=engine)
    assert result.plan.builds[0].platforms == BOTH


def test_a_base_only_in_the_daemon_is_not_refused(tmp_path: Path) -> None:
    # No registry digest: nothing says which platforms a local index holds.
    options = cnbext.ExtendOptions(names=(OUT,), platforms=BOTH, publish=True)
    engine = FakeEngine({RUN_NAME: RUN})
    result = cnbext.extend(extend_toml(tmp_path), options, dry_run=True, engine=engine)
    assert result.plan.builds[0].platforms == BOTH


@pytest.mark.parametrize(
    ("served", "message"),
    [
        ({"builder": ("linux/amd64",)}, f"the builder's base {BUILDER_NAME} has no image for"),
        ({"run": ("linux/amd64",)}, f"the run image's base {RUN_NAME} has no image for"),
    ],
)
def test_extend_builder_refuses_for_the_builder_and_the_run_image(
    tmp_path: Path, served: dict[str, tuple[str, ...]], message: str
) -> None:
    engine = engine_serving(**served)
    options = cnbext.BuilderOptions(
        names=(OUT,), run_image="localhost:5000/x/run:2", platforms=BOTH, publish=True
    )
    for dry_run in (True, False):
        with pytest.raises(ImageError, match=message + r" linux/arm64 \(it has linux/amd64\)"):
            cnbext.extend_builder(
                extend_builder_toml(tmp_path), options, dry_run=dry_run, engine=engine
            )
    assert engine.made() == []
