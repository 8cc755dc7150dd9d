"""create-builder's pack flags and pack-shaped metadata, planned with hand-made facts."""

from __future__ import annotations

import json
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest

from cnbext.errors import UsageError
from cnbext.plan.create_builder import check_options, plan_create_builder
from cnbext.sources.lifecycle import ApiSet
from tests.plan.test_create_builder import (
    BASE_TOML,
    LIFECYCLE,
    OPTIONS,
    RUN_IMAGE,
    descriptor,
    inputs_for,
    load,
)


def test_labels_are_added_to_the_builder(tmp_path: Path) -> None:
    config = load(tmp_path)
    options = replace(OPTIONS, labels={"org.opencontainers.image.source": "https://x", "a": "b=c"})
    (builder,) = plan_create_builder(config, options, *inputs_for(config)).builds
    assert builder.labels["org.opencontainers.image.source"] == "https://x"
    assert builder.result_labels["a"] == "b=c"


def test_labels_that_make_the_builder_are_refused(tmp_path: Path) -> None:
    config = load(tmp_path)
    options = replace(OPTIONS, labels={"io.buildpacks.builder.metadata": "{}"})
    with pytest.raises(UsageError, match="cnbext writes this label"):
        check_options(options, config)


def test_tags_are_more_names_of_the_builder(tmp_path: Path) -> None:
    config = load(tmp_path)
    options = replace(
        OPTIONS, names=("localhost:5000/b/builder:1", "localhost:5000/b/builder:latest")
    )
    plan = plan_create_builder(config, options, *inputs_for(config))
    assert plan.builds[0].copies == ("localhost:5000/b/builder:latest",)


def test_flattened_modules_share_one_layer(tmp_path: Path) -> None:
    config = load(tmp_path)
    flat = "sha256:" + "f" * 64
    inputs = inputs_for(
        config,
        flattened={"buildpacks/0": "flatten/0", "buildpacks/1": "flatten/0"},
        module_trees={"flatten/0": Path("/staged/flat")},
        diff_ids={
            "buildpacks/0": "sha256:" + "0" * 64,
            "buildpacks/1": "sha256:" + "1" * 64,
            "flatten/0": flat,
        },
    )
    options = replace(OPTIONS, flatten=(("ex/a@1.0.0", "ex/b@1.0.0"),))
    (builder,) = plan_create_builder(config, options, *inputs).builds
    layers = json.loads(builder.labels["io.buildpacks.buildpack.layers"])
    assert layers["ex/a"]["1.0.0"]["layerDiffID"] == layers["ex/b"]["1.0.0"]["layerDiffID"] == flat
    assert builder.expected_diff_ids == (flat,)
    copies = [
        line
        for line in builder.dockerfile.splitlines()
        if "buildpacks/" in line or "flatten/" in line
    ]
    assert copies == ["COPY --link flatten/0/ /"]
    assert set(builder.context_trees) >= {"flatten/0"}
    assert "buildpacks/0" not in builder.context_trees


def test_flatten_of_a_module_not_on_the_builder_is_refused(tmp_path: Path) -> None:
    config = load(tmp_path)
    options = replace(OPTIONS, flatten=(("ex/a@1.0.0", "ex/zz@9.9.9"),))
    with pytest.raises(UsageError, match=r"ex/zz@9\.9\.9"):
        plan_create_builder(config, options, *inputs_for(config))


def test_order_keeps_exec_env_and_system_gets_its_label(tmp_path: Path) -> None:
    text = BASE_TOML.replace('  id = "ex/a"\n', '  id = "ex/a"\n  exec-env = ["production"]\n', 1)
    text += '[[system.pre.buildpacks]]\nid = "ex/b"\noptional = true\n'
    config = load(tmp_path, text)
    (builder,) = plan_create_builder(config, OPTIONS, *inputs_for(config)).builds
    order = tomllib.loads(builder.context_files["files/cnb/order.toml"])
    assert order["order"][0]["group"][0] == {
        "id": "ex/a",
        "version": "1.0.0",
        "exec-env": ["production"],
    }
    label = json.loads(builder.labels["io.buildpacks.buildpack.order"])
    assert label[0]["group"][0]["exec-env"] == ["production"]
    system = json.loads(builder.labels["io.buildpacks.buildpack.system"])
    assert system == {"pre": {"buildpacks": [{"id": "ex/b", "version": "1.0.0", "optional": True}]}}


def test_builder_metadata_records_module_info_as_pack_does(tmp_path: Path) -> None:
    config = load(tmp_path)
    raw = {
        "buildpack": {
            "id": "ex/a",
            "version": "1.0.0",
            "name": "A",
            "description": "does a",
            "homepage": "https://a",
            "keywords": ["x"],
            "licenses": [{"type": "MIT"}],
            "clear-env": True,
            "sbom-formats": ["ignored"],
        }
    }
    modules = [descriptor("ex/a", name="A", homepage="https://a", raw=raw), descriptor("ex/b")]
    (builder,) = plan_create_builder(config, OPTIONS, *inputs_for(config, modules)).builds
    metadata = json.loads(builder.labels["io.buildpacks.builder.metadata"])
    assert metadata["buildpacks"][0] == {
        "id": "ex/a",
        "name": "A",
        "version": "1.0.0",
        "description": "does a",
        "homepage": "https://a",
        "keywords": ["x"],
        "licenses": [{"type": "MIT"}],
        "clear-env": True,
    }


def test_module_versions_other_than_x_y_z_warn(tmp_path: Path) -> None:
    config = load(tmp_path)
    modules = [descriptor("ex/a", "1.0.0-SNAPSHOT"), descriptor("ex/b")]
    plan = plan_create_builder(config, OPTIONS, *inputs_for(config, modules))
    assert any(
        "$.buildpacks[0]: buildpack ex/a version '1.0.0-SNAPSHOT' is not X.Y.Z" in w
        for w in plan.warnings
    )


def test_append_image_name_suffix_warns(tmp_path: Path) -> None:
    config = load(tmp_path)
    plan = plan_create_builder(
        config, replace(OPTIONS, append_image_name_suffix=True), *inputs_for(config)
    )
    assert (
        "--append-image-name-suffix will be ignored, use combined with --publish" in plan.warnings
    )


def test_platforms_chosen_from_targets_are_built(tmp_path: Path) -> None:
    config = load(tmp_path)
    options = replace(OPTIONS, publish=True, platforms=("linux/amd64", "linux/arm64"))
    (builder,) = plan_create_builder(config, options, *inputs_for(config)).builds
    assert builder.platforms == ("linux/amd64", "linux/arm64")


def test_an_extended_run_image_is_built_for_every_target_platform(tmp_path: Path) -> None:
    text = BASE_TOML + '[extend.metadata.run]\npackages = ["jq"]\n'
    config = load(tmp_path, text)
    inputs = inputs_for(config, run_base=RUN_IMAGE)
    options = replace(
        OPTIONS,
        publish=True,
        run_image="localhost:5000/b/run:1",
        platforms=("linux/amd64", "linux/arm64"),
    )
    run, builder = plan_create_builder(config, options, *inputs).builds
    assert run.platforms == builder.platforms == ("linux/amd64", "linux/arm64")


def test_deprecated_buildpack_apis_warn_as_pack_does(tmp_path: Path) -> None:
    config = load(tmp_path)
    lifecycle = replace(LIFECYCLE, buildpack_apis=ApiSet(("0.7",), ("0.10",)))
    modules = [descriptor("ex/a", api="0.7"), descriptor("ex/b")]
    inputs = inputs_for(config, modules, lifecycles={"amd64": lifecycle})
    plan = plan_create_builder(config, OPTIONS, *inputs)
    assert "Buildpack ex/a@1.0.0 is using deprecated Buildpacks API version 0.7" in plan.warnings
