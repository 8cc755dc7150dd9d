"""Upgrading a builder command's run image by its own name replays only its part of the
recorded request, on the fake engine: the run image is rebuilt and saved under its name and
every mirror, no builder is built, and the new label records the same request."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import cnbext
from cnbext.client.upgrade import run_upgrade
from cnbext.client.upgrade_model import UpgradeOptions
from cnbext.cnb.provenance import PROVENANCE, BaseRecord, read_provenance
from cnbext.engine.models import ImageView
from cnbext.progress import SilentReporter
from tests.client.fake_engine import FakeEngine
from tests.client.fake_registry import FakeManifest, FakeRegistry
from tests.client.images import IMAGES, RUN_NAME, extend_builder_toml

BUILDER_OUT = "localhost:5000/b/builder-tree:1"
RUN_OUT = "localhost:5000/b/run-tree:1"
MIRROR = "localhost:5001/b/run-tree:1"
OLD, NEW = "sha256:" + "1" * 64, "sha256:" + "2" * 64


def first_run_image_label(tmp_path: Path, run_metadata: str) -> str:
    """The run image's provenance as extend-builder writes it, its base recorded at OLD."""
    config = extend_builder_toml(tmp_path, f"[extend.metadata.run]\n{run_metadata}")
    options = cnbext.BuilderOptions(
        names=(BUILDER_OUT,), run_image=RUN_OUT, run_image_mirrors=(MIRROR,), build_id="w1"
    )
    result = cnbext.extend_builder(config, options, dry_run=True, engine=FakeEngine(IMAGES))
    run_build, _builder = result.plan.builds
    provenance = read_provenance(run_build.labels)
    assert provenance is not None and provenance.role == "run image"
    return replace(provenance, base=BaseRecord(RUN_NAME, OLD)).encode()


def published(label: str) -> FakeEngine:
    view = ImageView(
        RUN_OUT, "registry", "sha256:" + "9" * 64, ("linux/amd64",), {PROVENANCE: label}, "", {}
    )
    return FakeEngine(
        IMAGES,
        registry_views={RUN_OUT: view},
        served=FakeRegistry({RUN_NAME: FakeManifest(NEW)}),
    )


def test_a_run_image_is_rebuilt_alone_under_its_name_and_mirrors(tmp_path: Path) -> None:
    label = first_run_image_label(tmp_path, 'packages = ["tree"]\n')
    assert json.loads(label)["rebasable"] is False  # packages, not declared rebasable
    engine = published(label)
    options = UpgradeOptions(names=(RUN_OUT,), publish=True)

    [result] = run_upgrade(options, SilentReporter(), engine=engine)

    assert (result.state, result.method) == ("upgraded", "rebuild"), result.error
    builds = [c.target for c in engine.calls if c.method == "build"]
    assert builds == [RUN_OUT]  # the builder is not rebuilt: it names the run image by tag
    assert MIRROR in [c.target for c in engine.calls if c.method == "copy"]
    assert not [c for c in engine.calls if BUILDER_OUT in c.target]
    built = engine.built[RUN_OUT]
    assert built.packages == ("tree",) and built.names == (RUN_OUT, MIRROR)
    again, first = json.loads(built.labels[PROVENANCE]), json.loads(label)
    assert (again["command"], again["role"]) == ("extend-builder", "run image")
    assert again["base"]["reference"] == RUN_NAME
    assert again["request"] == {
        **first["request"],
        "options": {**first["request"]["options"], "publish": True, "pull_policy": "always"},
    }


def test_a_mirror_upgraded_by_its_name_keeps_the_run_image_first(tmp_path: Path) -> None:
    engine = published(first_run_image_label(tmp_path, 'packages = ["tree"]\n'))
    engine.registry_views = {MIRROR: replace(engine.registry_views[RUN_OUT], reference=MIRROR)}
    [result] = run_upgrade(
        UpgradeOptions(names=(MIRROR,), publish=True), SilentReporter(), engine=engine
    )
    assert (result.state, result.method) == ("upgraded", "rebuild"), result.error
    assert engine.built[RUN_OUT].names == (RUN_OUT, MIRROR)


def test_a_run_image_declared_rebasable_records_it_and_is_found_stale(tmp_path: Path) -> None:
    label = first_run_image_label(tmp_path, 'packages = ["tree"]\nrebasable = true\n')
    assert json.loads(label)["rebasable"] is True
    engine = published(label)
    [result] = run_upgrade(
        UpgradeOptions(names=(RUN_OUT,), publish=True, check=True), SilentReporter(), engine=engine
    )
    assert result.state == "needs upgrade" and result.reasons == [f"base {RUN_NAME} moved"]


def test_inspect_of_the_builder_says_its_run_image_moved(tmp_path: Path) -> None:
    from cnbext.client.inspect import inspect_image

    config = extend_builder_toml(tmp_path, '[extend.metadata.run]\npackages = ["tree"]\n')
    options = cnbext.BuilderOptions(names=(BUILDER_OUT,), run_image=RUN_OUT)
    result = cnbext.extend_builder(config, options, dry_run=True, engine=FakeEngine(IMAGES))
    run_build, builder = result.plan.builds
    builder_label = read_provenance(builder.labels)
    run_label = read_provenance(run_build.labels)
    assert builder_label is not None and builder_label.run_image is not None
    assert run_label is not None
    recorded = replace(builder_label.run_image, base=BaseRecord(RUN_NAME, OLD))
    builder_view = ImageView(
        BUILDER_OUT, "registry", "sha256:" + "8" * 64, ("linux/amd64",),
        {**builder.result_labels, PROVENANCE: replace(builder_label, run_image=recorded).encode()},
        "1000:1000", {},
    )  # fmt: skip

    def run_view(base: str) -> ImageView:
        label = replace(run_label, base=BaseRecord(RUN_NAME, base)).encode()
        return ImageView(RUN_OUT, "registry", None, ("linux/amd64",), {PROVENANCE: label}, "", {})

    def status(base: str) -> dict[str, object]:
        views = {BUILDER_OUT: builder_view, RUN_OUT: run_view(base)}
        engine = FakeEngine(
            registry_views=views, served=FakeRegistry({RUN_NAME: FakeManifest(NEW)})
        )
        moved: dict[str, object] = inspect_image(BUILDER_OUT, engine=engine)["status"]["runImage"]
        return moved

    assert status(OLD)["state"] == "same"
    moved = status(NEW)
    assert (moved["state"], moved["recorded"], moved["now"]) == ("moved", OLD, NEW)
    assert "names it by tag" in str(moved["why"])


def test_a_create_builder_run_image_is_rebuilt_alone_without_its_modules(tmp_path: Path) -> None:
    import shutil

    from tests.client.images import BUILD, BUILD_NAME, builder_toml

    images = {**IMAGES, BUILD_NAME: BUILD}
    toml = builder_toml(tmp_path, '[extend.metadata.run]\npackages = ["tree"]\n')
    options = cnbext.BuilderOptions(
        names=(BUILDER_OUT,), run_image=RUN_OUT, run_image_mirrors=(MIRROR,)
    )
    result = cnbext.create_builder(toml, options, dry_run=True, engine=FakeEngine(images))
    run_build = result.plan.builds[0]
    provenance = read_provenance(run_build.labels)
    assert provenance is not None and provenance.role == "run image"
    label = replace(provenance, base=BaseRecord(RUN_NAME, OLD)).encode()
    # The run image needs neither the buildpacks nor the lifecycle: gone, it still upgrades.
    shutil.rmtree(tmp_path / "bp")
    shutil.rmtree(tmp_path / "lifecycle")
    engine = published(label)
    engine.images = images

    [upgraded] = run_upgrade(
        UpgradeOptions(names=(RUN_OUT,), publish=True), SilentReporter(), engine=engine
    )

    assert (upgraded.state, upgraded.method) == ("upgraded", "rebuild"), upgraded.error
    assert [c.target for c in engine.calls if c.method == "build"] == [RUN_OUT]
    assert engine.built[RUN_OUT].packages == ("tree",)
    assert MIRROR in [c.target for c in engine.calls if c.method == "copy"]
    again = json.loads(engine.built[RUN_OUT].labels[PROVENANCE])
    assert (again["command"], again["role"]) == ("create-builder", "run image")
