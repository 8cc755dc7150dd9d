"""`cnbext extend-builder` against a real Docker engine, BuildKit and registries."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest

from tests.engine.conftest import Cli, EngineEnv, label_json

pytestmark = pytest.mark.engine


def extend_builder_toml(builder: str, metadata: str) -> str:
    return f'[extend]\nimage = "{builder}"\n\n{metadata}'


SCOPED = (
    '[extend.metadata]\npackages = ["file"]\n'
    '[extend.metadata.build]\npackages = ["less"]\n'
    '[extend.metadata.run]\npackages = ["tree"]\n'
)


@pytest.fixture(scope="module")
def extended(
    engine: EngineEnv, example_builder: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    """The example builder extended with its run image, published with a mirror, once."""
    import os

    builder, _ = example_builder
    work = tmp_path_factory.mktemp("extend-builder")
    cli = Cli(work, {**os.environ, "CNBEXT_NETWORK": "host"})
    cli.write("extend-builder.toml", extend_builder_toml(builder, SCOPED))
    names = {
        "builder": engine.name("xb-builder"),
        "run": engine.name("xb-run"),
        "mirror": engine.name(
            "xb-mirror", registry=engine.registry.replace("localhost", "127.0.0.1")
        ),
    }
    result = cli(
        "extend-builder",
        names["builder"],
        "-e",
        "extend-builder.toml",
        "--run-image",
        names["run"],
        "--run-image-mirror",
        names["mirror"],
        "--publish",
        "-o",
        "json",
        check=True,
    )
    images = {i["role"]: i for i in json.loads(result.stdout)["images"]}
    names["run_digest"] = images["run image"]["digest"]
    names["builder_digest"] = images["builder"]["digest"]
    engine.docker.image.pull(names["builder"], quiet=True)
    engine.docker.image.pull(names["run"], quiet=True)
    return names


def test_packages_run_in_the_builder_as_the_cnb_user_and_in_the_run_image(
    engine: EngineEnv, extended: dict[str, str]
) -> None:
    out = engine.run(
        extended["builder"],
        "id -u; file --version | head -1; less --version | head -1; jq --version",
    )
    uid, file_version, less_version, jq = out.splitlines()
    assert uid == "1000"
    assert file_version.startswith("file-")
    assert less_version.startswith("less ")
    assert jq.startswith("jq-")  # from create-builder's [extend], still there
    run_out = engine.run(
        extended["run"], "id -u; file --version | head -1; tree --version | head -c 4"
    )
    assert run_out.split()[:2] == ["1001", run_out.split()[1]]
    assert "tree" in run_out
    assert engine.run(extended["run"], "command -v less || echo none") == "none"


def test_the_rewritten_metadata_differs_only_in_the_run_image(
    engine: EngineEnv, example_builder: tuple[str, str], extended: dict[str, str]
) -> None:
    original = label_json(engine, example_builder[0], "io.buildpacks.builder.metadata")
    rewritten = label_json(engine, extended["builder"], "io.buildpacks.builder.metadata")
    expected_run = {"image": extended["run"], "mirrors": [extended["mirror"]]}
    assert rewritten["images"] == [expected_run]
    assert rewritten["stack"]["runImage"] == expected_run
    for field in original:
        if field not in ("images", "stack"):
            assert rewritten[field] == original[field], field
    assert set(rewritten) == set(original)
    files = engine.run(extended["builder"], "cat /cnb/run.toml; echo ---; cat /cnb/stack.toml")
    run_toml, stack_toml = files.split("---\n")
    assert tomllib.loads(run_toml) == {"images": [expected_run]}
    assert tomllib.loads(stack_toml) == {"run-image": expected_run}


def test_user_env_layers_and_stack_ids_are_kept(
    engine: EngineEnv, example_builder: tuple[str, str], extended: dict[str, str]
) -> None:
    before = engine.docker.image.inspect(example_builder[0])
    after = engine.docker.image.inspect(extended["builder"])
    assert after.config.user == before.config.user == "1000:1000"
    assert after.config.env == before.config.env
    assert str(after.config.working_dir) == "/layers"
    # The builder's own layers (modules, lifecycle) are all still there, in order.
    own = before.root_fs.layers or []
    assert (after.root_fs.layers or [])[: len(own)] == own
    assert (
        engine.labels(extended["builder"])["io.buildpacks.stack.id"]
        == (engine.labels(extended["run"])["io.buildpacks.stack.id"])
    )
    assert label_json(engine, extended["builder"], "io.buildpacks.buildpack.layers") == (
        label_json(engine, example_builder[0], "io.buildpacks.buildpack.layers")
    )


def test_each_image_records_its_merged_scope(engine: EngineEnv, extended: dict[str, str]) -> None:
    # create-builder's [extend] gave jq (+ tree to the builder); extend-builder adds its scopes.
    assert label_json(engine, extended["builder"], "io.buildpacks.extend.metadata") == {
        "packages": ["jq", "tree", "file", "less"]
    }
    assert label_json(engine, extended["run"], "io.buildpacks.extend.metadata") == {
        "packages": ["jq", "file", "tree"]
    }


def test_mirrors_have_the_run_image_digest(engine: EngineEnv, extended: dict[str, str]) -> None:
    assert engine.registry_digest(extended["run"]) == extended["run_digest"]
    assert engine.registry_digest(extended["mirror"]) == extended["run_digest"]
    assert engine.registry_digest(extended["builder"]) == extended["builder_digest"]


def test_extending_an_extended_builder_merges_both_labels(
    engine: EngineEnv, extended: dict[str, str], cnbext: Cli
) -> None:
    cnbext.write(
        "extend-builder.toml",
        extend_builder_toml(extended["builder"], '[extend.metadata]\npackages = ["bc"]\n'),
    )
    again, run = engine.name("xb-again"), engine.name("xb-again-run")
    cnbext("extend-builder", again, "-e", "extend-builder.toml", "--run-image", run, check=True)
    assert label_json(engine, again, "io.buildpacks.extend.metadata")["packages"] == [
        "jq",
        "tree",
        "file",
        "less",
        "bc",
    ]
    assert label_json(engine, run, "io.buildpacks.extend.metadata")["packages"] == [
        "jq",
        "file",
        "tree",
        "bc",
    ]
    assert label_json(engine, again, "io.buildpacks.builder.metadata")["images"][0]["image"] == run
    assert "bc" in engine.run(run, "command -v bc")


def test_without_run_image_the_builder_keeps_its_run_image(
    engine: EngineEnv, example_builder: tuple[str, str], cnbext: Cli
) -> None:
    builder, run = example_builder
    cnbext.write(
        "extend-builder.toml",
        extend_builder_toml(builder, '[extend.metadata]\npackages = ["bc"]\n'),
    )
    name = engine.name("xb-builder-only")
    result = cnbext("extend-builder", name, "-e", "extend-builder.toml", "-o", "json", check=True)
    assert [i["role"] for i in json.loads(result.stdout)["images"]] == ["builder"]
    metadata = label_json(engine, name, "io.buildpacks.builder.metadata")
    assert metadata == label_json(engine, builder, "io.buildpacks.builder.metadata")
    assert metadata["images"][0]["image"] == run


def test_a_builder_with_packs_label_shapes_keeps_unknown_fields(
    engine: EngineEnv, cnbext: Cli, tmp_path: Path
) -> None:
    """Labels as pack writes them (legacy stack.runImage only, mirrors null) plus fields
    cnbext does not know: all survive, the run image is named everywhere."""
    metadata = {
        "description": "pack-made",
        "buildpacks": [{"id": "paketo-buildpacks/node", "version": "1.2.3"}],
        "stack": {"runImage": {"image": engine.run_image, "mirrors": None}, "vendor": "kept"},
        "lifecycle": {
            "version": "0.21.0",
            "api": {"buildpack": "0.2", "platform": "0.3"},
            "apis": {
                "buildpack": {"deprecated": [], "supported": ["0.10"]},
                "platform": {"deprecated": [], "supported": ["0.13"]},
            },
        },
        "createdBy": {"name": "Pack CLI", "version": "0.36.0"},
        "futureField": {"nested": [1, 2, {"deep": True}]},
    }
    context = tmp_path / "pack-builder"
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM {engine.build_image}\n")
    pack_builder = engine.name("pack-shaped")
    engine.docker.buildx.build(
        context,
        tags=[pack_builder],
        labels={
            "io.buildpacks.builder.metadata": json.dumps(metadata),
            "io.buildpacks.buildpack.order": '[{"group":[{"id":"paketo-buildpacks/node"}]}]',
        },
        push=True,
        provenance=False,
    )
    cnbext.write(
        "extend-builder.toml",
        extend_builder_toml(pack_builder, '[extend.metadata.run]\npackages = ["jq"]\n'),
    )
    name, run = engine.name("pack-extended"), engine.name("pack-run")
    cnbext("extend-builder", name, "-e", "extend-builder.toml", "--run-image", run, check=True)
    rewritten = label_json(engine, name, "io.buildpacks.builder.metadata")
    assert rewritten["futureField"] == metadata["futureField"]
    assert rewritten["stack"]["vendor"] == "kept"
    assert rewritten["stack"]["runImage"] == {"image": run, "mirrors": []}
    assert rewritten["images"] == [{"image": run, "mirrors": []}]
    for field in ("description", "buildpacks", "lifecycle", "createdBy"):
        assert rewritten[field] == metadata[field]
    assert engine.labels(name)["io.buildpacks.buildpack.order"] == (
        '[{"group":[{"id":"paketo-buildpacks/node"}]}]'
    )
    assert "jq-" in engine.run(run, "jq --version")


def test_a_failed_mirror_publishes_no_builder(
    engine: EngineEnv, example_builder: tuple[str, str], cnbext: Cli
) -> None:
    cnbext.write("extend-builder.toml", extend_builder_toml(example_builder[0], SCOPED))
    builder, run = engine.name("xb-half"), engine.name("xb-half-run")
    unreachable = "127.0.0.1:5999/cnbext-tests/nowhere:1"
    result = cnbext(
        "extend-builder",
        builder,
        "-e",
        "extend-builder.toml",
        "--run-image",
        run,
        "--run-image-mirror",
        unreachable,
        "--publish",
    )
    assert result.returncode == 6, result.stderr
    assert f"published: {run}@sha256:" in result.stderr
    assert f"not published: {unreachable}, {builder}" in result.stderr
    assert not engine.in_registry(builder)


def test_a_second_run_with_nothing_changed_is_a_cache_hit(
    engine: EngineEnv, example_builder: tuple[str, str], cnbext: Cli
) -> None:
    cnbext.write("extend-builder.toml", extend_builder_toml(example_builder[0], SCOPED))
    builder, run = engine.name("xb-cache"), engine.name("xb-cache-run")
    args = ("extend-builder", builder, "-e", "extend-builder.toml", "--run-image", run)
    cnbext(*args, check=True)
    first = (engine.docker.image.inspect(builder).id, engine.docker.image.inspect(run).id)
    again = cnbext(*args, "-v", check=True)
    assert (engine.docker.image.inspect(builder).id, engine.docker.image.inspect(run).id) == first
    # Both builds ran their install step, and BuildKit answered each from its cache: twice
    # each, once to read what it installs (cnbext.client.installed), once for the image.
    run_steps = re.findall(r"^#(\d+) \[[^\]]*\] RUN ", again.stderr, flags=re.MULTILINE)
    assert len(run_steps) == 4
    for step in run_steps:
        assert f"#{step} CACHED" in again.stderr


def test_an_image_that_is_not_a_builder_is_refused(engine: EngineEnv, cnbext: Cli) -> None:
    cnbext.write(
        "extend-builder.toml",
        extend_builder_toml(engine.run_image, SCOPED.split("[extend.metadata.run]")[0]),
    )
    result = cnbext("extend-builder", engine.name("nope"), "-e", "extend-builder.toml")
    assert result.returncode == 4
    assert "is not a builder: it has no io.buildpacks.builder.metadata label" in result.stderr


def test_run_metadata_without_run_image_is_refused_before_any_work(
    engine: EngineEnv, example_builder: tuple[str, str], cnbext: Cli
) -> None:
    cnbext.write("extend-builder.toml", extend_builder_toml(example_builder[0], SCOPED))
    result = cnbext("extend-builder", engine.name("nope"), "-e", "extend-builder.toml")
    assert result.returncode == 2
    assert "has [extend.metadata.run]: give --run-image NAME" in result.stderr
    assert "Reading" not in result.stderr
