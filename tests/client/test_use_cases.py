"""The use cases through the public API with the fake engine: what is read, when extensions
run and switch the run image, and that a dry run or a refused option builds nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import cnbext
from cnbext.engine.models import PhaseResult, PhaseRun
from cnbext.errors import UsageError
from tests.client.fake_engine import Call, FakeEngine
from tests.client.images import (
    BUILDER_NAME,
    IMAGES,
    OTHER_RUN_NAME,
    RUN_NAME,
    extend_builder_toml,
    extend_toml,
)
from tests.fixtures.buildpacks import write_extension

OUT = "localhost:5000/x/extended:1"
SWITCH = f"ARG base_image\nFROM {OTHER_RUN_NAME}\n"
INSTALL = "ARG base_image\nFROM ${base_image}\nUSER root\nRUN true\n"


def generating(files: dict[str, str]) -> Callable[[PhaseRun], PhaseResult]:
    """A generate that writes ``files`` to its output folder, as a container would."""

    def phase(run: PhaseRun) -> PhaseResult:
        if run.command[0].endswith("/bin/generate"):
            out = next(h for h, target, _ in run.mounts if target == "/cnbext/out/generate")
            for name, text in files.items():
                (out / name).write_text(text)
        return PhaseResult(0, "", timed_out=False)

    return phase


def extension(tmp_path: Path) -> cnbext.ExtensionRequest:
    path = write_extension(tmp_path / "ext", "ex/switch", "1.0.0", generate_script="#!/bin/sh\n")
    return cnbext.ExtensionRequest(str(path))


def test_dry_run_reads_the_image_and_builds_nothing(tmp_path: Path) -> None:
    engine = FakeEngine(IMAGES)
    result = cnbext.extend(
        extend_toml(tmp_path), cnbext.ExtendOptions(names=(OUT,)), dry_run=True, engine=engine
    )
    assert engine.calls == [Call("locate", RUN_NAME), Call("resolve", RUN_NAME)]
    assert result.dry_run and result.images == ()
    assert result.plan.builds[0].names == (OUT,)
    assert result.to_dict()["dryRun"] is True


def test_refused_options_and_names_touch_no_engine(tmp_path: Path) -> None:
    engine = FakeEngine(IMAGES)
    with pytest.raises(UsageError, match='invalid image reference "Bad Name"'):
        cnbext.extend(
            extend_toml(tmp_path), cnbext.ExtendOptions(names=("Bad Name",)), engine=engine
        )
    with pytest.raises(UsageError, match="--pull-policy never"):
        cnbext.extend_builder(
            extend_builder_toml(tmp_path),
            cnbext.BuilderOptions(names=(OUT,), publish=True, pull_policy=cnbext.PullPolicy.NEVER),
            engine=engine,
        )
    assert engine.calls == []


def test_names_are_normalized_once_for_every_command(tmp_path: Path) -> None:
    engine = FakeEngine(IMAGES)
    result = cnbext.extend(
        extend_toml(tmp_path), cnbext.ExtendOptions(names=("x/y",)), engine=engine
    )
    assert result.images[0].names == ("docker.io/x/y:latest",)
    assert engine.made() == [Call("build", "docker.io/x/y:latest")]


def test_extension_switching_a_run_image_is_applied_on_the_image_it_names(tmp_path: Path) -> None:
    engine = FakeEngine(IMAGES, phase=generating({"run.Dockerfile": SWITCH}))
    options = cnbext.ExtendOptions(names=(OUT,), extensions=(extension(tmp_path),))
    result = cnbext.extend(extend_toml(tmp_path), options, dry_run=True, engine=engine)
    assert [c for c in engine.calls if c.method in ("resolve", "phase")] == [
        Call("resolve", RUN_NAME),
        Call("phase", "/cnb/extensions/ex_switch/1.0.0/bin/detect"),
        Call("phase", "/cnb/extensions/ex_switch/1.0.0/bin/generate"),
        Call("resolve", OTHER_RUN_NAME),
    ]
    (build,) = result.plan.builds
    assert build.base == OTHER_RUN_NAME
    assert [s.switch_to for s in build.extension_steps] == [OTHER_RUN_NAME]


def test_a_build_image_ignores_a_run_image_switch(tmp_path: Path) -> None:
    engine = FakeEngine(IMAGES, phase=generating({"run.Dockerfile": SWITCH}))
    options = cnbext.ExtendOptions(names=(OUT,), extensions=(extension(tmp_path),))
    result = cnbext.extend(
        extend_toml(tmp_path, BUILDER_NAME), options, dry_run=True, engine=engine
    )
    assert Call("resolve", OTHER_RUN_NAME) not in engine.calls
    assert result.plan.builds[0].base == BUILDER_NAME
    assert any("is not applied" in w for w in result.plan.warnings)


def test_extend_builder_runs_extensions_in_the_builder_for_its_run_image(tmp_path: Path) -> None:
    seen: list[PhaseRun] = []
    generate = generating({"run.Dockerfile": INSTALL, "build.Dockerfile": INSTALL})

    def phase(run: PhaseRun) -> PhaseResult:
        seen.append(run)
        return generate(run)

    engine = FakeEngine(IMAGES, phase=phase)
    options = cnbext.BuilderOptions(
        names=(OUT,), run_image="localhost:5000/x/run:2", extensions=(extension(tmp_path),)
    )
    result = cnbext.extend_builder(extend_builder_toml(tmp_path), options, engine=engine)
    # Detect and generate run in the builder as its CNB user, targeting the run image.
    assert {(r.image, r.user) for r in seen} == {(BUILDER_NAME, "1000:1000")}
    assert seen[0].env["CNB_TARGET_DISTRO_NAME"] == "debian"
    run, builder = result.plan.builds
    assert (run.base, len(run.extension_steps)) == (RUN_NAME, 1)
    assert (builder.base, len(builder.extension_steps)) == (BUILDER_NAME, 1)
    assert [c.method for c in engine.made()] == ["build", "build"]


def test_extension_output_needs_a_run_image_name(tmp_path: Path) -> None:
    engine = FakeEngine(IMAGES, phase=generating({"run.Dockerfile": INSTALL}))
    options = cnbext.BuilderOptions(names=(OUT,), extensions=(extension(tmp_path),))
    with pytest.raises(UsageError, match="give --run-image NAME"):
        cnbext.extend_builder(extend_builder_toml(tmp_path), options, engine=engine)
    assert engine.made() == []


def test_detects_run_at_the_same_time_and_generates_in_order(tmp_path: Path) -> None:
    # Like the lifecycle's detector, every extension's detect is under way at once (the
    # barrier fails the test when they run one after another); generate keeps the order.
    ids = ("ex/one", "ex/two", "ex/three")
    requests = tuple(
        cnbext.ExtensionRequest(
            str(write_extension(tmp_path / f"ext{i}", ext, "1.0.0", generate_script="#!/bin/sh\n"))
        )
        for i, ext in enumerate(ids)
    )
    detects = {
        ("phase", f"/cnb/extensions/{ext.replace('/', '_')}/1.0.0/bin/detect") for ext in ids
    }
    engine = FakeEngine(IMAGES, phase=generating({"run.Dockerfile": INSTALL}), together=detects)
    options = cnbext.ExtendOptions(names=(OUT,), extensions=requests)
    result = cnbext.extend(extend_toml(tmp_path), options, dry_run=True, engine=engine)
    generates = [c.target for c in engine.calls if c.target.endswith("/bin/generate")]
    assert generates == [f"/cnb/extensions/{e.replace('/', '_')}/1.0.0/bin/generate" for e in ids]
    assert len(result.plan.builds[0].extension_steps) == 3
