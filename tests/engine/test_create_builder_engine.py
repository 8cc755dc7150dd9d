"""`cnbext create-builder` against a real Docker engine, BuildKit and registries.

The real lifecycle cannot be downloaded here: a structure-only lifecycle fixture (real
lifecycle.toml, placeholder executables) is served from a loopback HTTP server, exactly where
cnbext would download the release archive from.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from tests.engine.conftest import EXAMPLES, Cli, EngineEnv, label_json, layers_rebasable

pytestmark = pytest.mark.engine


def test_builder_metadata_names_the_extended_run_image_and_the_modules(
    engine: EngineEnv, example_builder: tuple[str, str]
) -> None:
    builder, run = example_builder
    metadata = label_json(engine, builder, "io.buildpacks.builder.metadata")
    assert isinstance(metadata, dict)
    assert metadata["description"].startswith("cnbext example builder")
    assert [b["id"] for b in metadata["buildpacks"]] == [
        "examples/hello",
        "examples/jq-report",
        "examples/meta",
    ]
    assert metadata["images"] == [{"image": run, "mirrors": []}]
    assert metadata["stack"] == {"runImage": {"image": run, "mirrors": []}}
    assert metadata["lifecycle"]["version"] == "0.21.0"
    assert "0.10" in metadata["lifecycle"]["apis"]["buildpack"]["supported"]
    assert "0.13" in metadata["lifecycle"]["apis"]["platform"]["supported"]
    assert metadata["createdBy"]["name"] == "cnbext"
    order = label_json(engine, builder, "io.buildpacks.buildpack.order")
    assert order == [
        {
            "group": [
                {"id": "examples/jq-report", "version": "0.0.1"},
                {"id": "examples/hello", "version": "0.0.1", "optional": True},
            ]
        },
        {"group": [{"id": "examples/hello", "version": "0.0.1"}]},
        {"group": [{"id": "examples/meta", "version": "0.0.1"}]},
    ]
    assert engine.labels(builder)["io.buildpacks.stack.id"] == "io.cnbext.examples.bookworm"


def test_each_module_layer_diff_id_is_a_real_layer_of_the_builder(
    engine: EngineEnv, example_builder: tuple[str, str]
) -> None:
    builder, _ = example_builder
    layers = label_json(engine, builder, "io.buildpacks.buildpack.layers")
    assert isinstance(layers, dict)
    image_layers = engine.docker.image.inspect(builder).root_fs.layers or []
    for module_id in ("examples/hello", "examples/jq-report"):
        entry = layers[module_id]["0.0.1"]
        assert entry["api"] == "0.10"
        assert entry["layerDiffID"] in image_layers
    assert (
        layers["examples/hello"]["0.0.1"]["layerDiffID"]
        != (layers["examples/jq-report"]["0.0.1"]["layerDiffID"])
    )
    # The composite has a layer of its own (just its buildpack.toml) and records its order.
    meta = layers["examples/meta"]["0.0.1"]
    assert meta["layerDiffID"] in image_layers
    assert meta["order"] == [
        {
            "group": [
                {"id": "examples/jq-report", "version": "0.0.1"},
                {"id": "examples/hello", "version": "0.0.1", "optional": True},
            ]
        }
    ]


def test_builder_files_user_workdir_and_ownership(
    engine: EngineEnv, example_builder: tuple[str, str]
) -> None:
    builder, run = example_builder
    image = engine.docker.image.inspect(builder)
    assert image.config.user == "1000:1000"
    assert str(image.config.working_dir) == "/layers"
    assert "CNB_USER_ID=1000" in (image.config.env or [])
    script = (
        "stat -c '%U:%G %a %Y %n' /workspace /layers "
        "/cnb/buildpacks/examples_hello/0.0.1/bin/build "
        "/cnb/buildpacks/examples_hello/0.0.1/buildpack.toml /cnb/lifecycle/detector; "
        "echo ---; cat /cnb/order.toml; echo ---; cat /cnb/run.toml; echo ---; "
        "cat /cnb/stack.toml; echo ---; cat /cnb/build-config/env/BP_EXAMPLE_GREETING"
    )
    stats, order, run_toml, stack, env = engine.run(builder, script).split("---\n")
    assert stats.splitlines() == [
        "cnb:cnb 755 0 /workspace",
        "cnb:cnb 755 0 /layers",
        "root:root 755 0 /cnb/buildpacks/examples_hello/0.0.1/bin/build",
        "root:root 644 0 /cnb/buildpacks/examples_hello/0.0.1/buildpack.toml",
        "root:root 755 0 /cnb/lifecycle/detector",
    ]
    assert tomllib.loads(order)["order"][0]["group"][1] == {
        "id": "examples/hello",
        "version": "0.0.1",
        "optional": True,
    }
    assert tomllib.loads(run_toml) == {"images": [{"image": run, "mirrors": []}]}
    assert tomllib.loads(stack) == {"run-image": {"image": run, "mirrors": []}}
    assert env.strip() == "hello"


def test_extend_packages_serve_the_buildpacks_and_the_run_image(
    engine: EngineEnv, example_builder: tuple[str, str]
) -> None:
    builder, run = example_builder
    detect = "/cnb/buildpacks/examples_jq-report/0.0.1/bin/detect"
    # In the builder, as the CNB user, the buildpack that needs jq detects...
    assert "jq-" in engine.run(builder, f"{detect} && id -u && jq --version && tree --version")
    # ...which it cannot on the plain build image: exit 100 means "does not apply".
    plain = subprocess.run(
        [
            "docker",
            "run",
            "--rm",
            "-v",
            f"{EXAMPLES}/buildpacks:/bp:ro",
            engine.build_image,
            "/bp/jq-report/bin/detect",
        ],
        capture_output=True,
    )
    assert plain.returncode == 100
    assert engine.run(run, "id -u; jq --version").split()[:2] == ["1001", "jq-1.6"]
    run_metadata = label_json(engine, run, "io.buildpacks.extend.metadata")
    builder_metadata = label_json(engine, builder, "io.buildpacks.extend.metadata")
    assert run_metadata == {"packages": ["jq"]}
    assert builder_metadata == {"packages": ["jq", "tree"]}


def test_the_same_config_twice_gives_the_same_module_layers(
    engine: EngineEnv, example_builder: tuple[str, str], builder_cli: Cli
) -> None:
    builder, _ = example_builder
    again = engine.name("builder-again")
    builder_cli(
        "create-builder",
        again,
        "-c",
        str(EXAMPLES / "builder.toml"),
        "--run-image",
        engine.name("run-again"),
        check=True,
    )
    first = label_json(engine, builder, "io.buildpacks.buildpack.layers")
    second = label_json(engine, again, "io.buildpacks.buildpack.layers")
    assert first == second


def test_publish_puts_the_run_image_and_mirrors_out_before_the_builder(
    engine: EngineEnv, builder_cli: Cli
) -> None:
    builder, run, mirror = (
        engine.name("pub-builder"),
        engine.name("pub-run"),
        engine.name("pub-mirror"),
    )
    result = builder_cli(
        "create-builder",
        builder,
        "-c",
        str(EXAMPLES / "builder.toml"),
        "--run-image",
        run,
        "--run-image-mirror",
        mirror,
        "--publish",
        "-o",
        "json",
    )
    assert result.returncode == 0, result.stderr
    images = json.loads(result.stdout)["images"]
    assert [i["role"] for i in images] == ["run image", "builder"]
    run_digest = images[0]["digest"]
    assert engine.registry_digest(run) == run_digest
    assert engine.registry_digest(mirror) == run_digest
    assert engine.registry_digest(builder) == images[1]["digest"]
    metadata = json.loads(images[1]["labels"]["io.buildpacks.builder.metadata"])
    assert metadata["images"] == [{"image": run, "mirrors": [mirror]}]
    # The builder pushed to the registry has the module layers its label names.
    layers = json.loads(images[1]["labels"]["io.buildpacks.buildpack.layers"])
    diff_ids = engine.registry_config(builder)["rootfs"]["diff_ids"]
    assert layers["examples/hello"]["0.0.1"]["layerDiffID"] in diff_ids


def test_a_failed_mirror_publishes_no_builder(engine: EngineEnv, builder_cli: Cli) -> None:
    builder, run = engine.name("half-builder"), engine.name("half-run")
    unreachable = "127.0.0.1:5999/cnbext-tests/nowhere:1"
    result = builder_cli(
        "create-builder",
        builder,
        "-c",
        str(EXAMPLES / "builder.toml"),
        "--run-image",
        run,
        "--run-image-mirror",
        unreachable,
        "--publish",
    )
    assert result.returncode == 6, result.stderr
    assert f"published: {run}@sha256:" in result.stderr
    assert f"not published: {unreachable}, {builder}" in result.stderr
    assert engine.in_registry(run)
    assert not engine.in_registry(builder)


def copy_examples(tmp_path: Path) -> Path:
    target = tmp_path / "examples"
    shutil.copytree(EXAMPLES, target)
    return target


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda t: t.replace('id = "examples/jq-report"', 'id = "examples/jq-reprot"'),
            "builder.toml:22:3: $.order[0].group[0]: no versions of buildpack examples/jq-reprot were found on the builder",
        ),
        (
            lambda t: t.replace(
                'uri = "buildpacks/hello"', 'uri = "buildpacks/hello"\nid = "examples/other"'
            ),
            "builder.toml:12:1: $.buildpacks[0]: buildpack from URI 'buildpacks/hello' has ID 'examples/hello' which does not match ID 'examples/other' from builder config",
        ),
        (
            lambda t: t.replace('packages = ["tree"]', 'packages = ["Tree"]'),
            "builder.toml:56:13: $.extend.metadata.build.packages[0]: 'Tree' is not a valid apt package",
        ),
        (
            lambda t: t.replace('version = "0.21.0"', 'version = "0.21.x"'),
            "builder.toml:48:11: $.lifecycle.version: 'lifecycle.version' must be a valid semver",
        ),
        (
            lambda t: t.replace("cnbext-examples/build:bookworm", "cnbext-examples/run:bookworm"),
            "builder.toml:38:9: $.build.image: build image localhost:5000/cnbext-examples/run:bookworm must set CNB_USER_ID to an integer (missing)",
        ),
    ],
    ids=["unresolvable order entry", "id mismatch", "bad package", "semver", "not a build image"],
)
def test_invalid_builder_configs_are_located_and_build_nothing(
    engine: EngineEnv, builder_cli: Cli, tmp_path: Path, edit: object, expected: str
) -> None:
    examples = copy_examples(tmp_path)
    config = examples / "builder.toml"
    config.write_text(edit(config.read_text()))  # type: ignore[operator]
    builder_cli.workdir = examples
    name = engine.name("never")
    result = builder_cli(
        "create-builder",
        name,
        "-c",
        "builder.toml",
        "--run-image",
        engine.name("never-run"),
        "--publish",
    )
    assert result.returncode == 3, result.stderr
    assert expected in result.stderr
    assert not engine.in_registry(name)


def test_buildpacks_from_an_image(
    engine: EngineEnv, example_builder: tuple[str, str], builder_cli: Cli, tmp_path: Path
) -> None:
    """docker:// sources: the example builder itself carries both buildpacks."""
    source, _ = example_builder
    examples = copy_examples(tmp_path)
    config = examples / "builder.toml"
    text = config.read_text()
    text = text.replace(
        'uri = "buildpacks/hello"', f'uri = "docker://{source}"\nid = "examples/hello"'
    )
    text = text.replace('[[buildpacks]]\nuri = "buildpacks/jq-report"\n', "")
    text = text.replace('[[buildpacks]]\nuri = "buildpacks/meta"\n', "")
    text = text.split("# jq for the build image")[0]  # no [extend]: a plain pack builder
    config.write_text(text)
    builder_cli.workdir = examples
    name = engine.name("from-image")
    builder_cli("create-builder", name, "-c", "builder.toml", check=True)
    layers = label_json(engine, name, "io.buildpacks.buildpack.layers")
    original = label_json(engine, source, "io.buildpacks.buildpack.layers")
    assert layers == original


def test_lifecycle_from_a_lifecycle_image_with_labels(
    engine: EngineEnv, builder_cli: Cli, tmp_path: Path
) -> None:
    """Like buildpacksio/lifecycle: binaries in /cnb/lifecycle, version and APIs in labels."""
    from tests.fixtures.lifecycle_fixture import PLACEHOLDER_SCRIPT, write_lifecycle_tree

    tree = write_lifecycle_tree(tmp_path / "lifecycle-tree", version="0.20.5")
    context = tmp_path / "lifecycle-image"
    shutil.copytree(tree / "lifecycle", context / "lifecycle")
    (context / "Dockerfile").write_text("FROM scratch\nCOPY lifecycle/ /cnb/lifecycle/\n")
    image = engine.name("lifecycle-image")
    apis = {
        "buildpack": {"deprecated": [], "supported": ["0.9", "0.10", "0.11"]},
        "platform": {"deprecated": [], "supported": ["0.12", "0.13"]},
    }
    engine.docker.buildx.build(
        context,
        tags=[image],
        labels={
            "io.buildpacks.lifecycle.version": "0.20.5",
            "io.buildpacks.lifecycle.apis": json.dumps(apis),
        },
        push=True,
        provenance=False,
    )
    examples = copy_examples(tmp_path)
    config = examples / "builder.toml"
    config.write_text(config.read_text().replace('version = "0.21.0"', f'uri = "docker://{image}"'))
    builder_cli.workdir = examples
    name = engine.name("lifecycle-from-image")
    builder_cli(
        "create-builder",
        name,
        "-c",
        "builder.toml",
        "--run-image",
        engine.name("lc-run"),
        check=True,
    )
    metadata = label_json(engine, name, "io.buildpacks.builder.metadata")
    assert isinstance(metadata, dict)
    assert metadata["lifecycle"]["version"] == "0.20.5"
    assert metadata["lifecycle"]["apis"] == apis
    assert engine.run(name, "cat /cnb/lifecycle/detector") == PLACEHOLDER_SCRIPT.decode().rstrip()


def test_modules_the_base_already_has_are_not_added_again(
    engine: EngineEnv, example_builder: tuple[str, str], builder_cli: Cli, tmp_path: Path
) -> None:
    """A builder made on top of a builder with the same modules adds no module layers."""
    base, _ = example_builder
    examples = copy_examples(tmp_path)
    config = examples / "builder.toml"
    text = config.read_text().replace("localhost:5000/cnbext-examples/build:bookworm", base)
    config.write_text(text.split("# jq for the build image")[0])
    builder_cli.workdir = examples
    name = engine.name("on-builder")
    builder_cli("create-builder", name, "-c", "builder.toml", check=True)
    layers = label_json(engine, name, "io.buildpacks.buildpack.layers")
    assert layers == label_json(engine, base, "io.buildpacks.buildpack.layers")
    image_layers = engine.docker.image.inspect(name).root_fs.layers or []
    assert isinstance(layers, dict)
    for versions in layers.values():
        diff_id = versions["0.0.1"]["layerDiffID"]
        assert image_layers.count(diff_id) == 1


def test_extensions_are_packaged_for_build_time(
    engine: EngineEnv, builder_cli: Cli, tmp_path: Path
) -> None:
    examples = copy_examples(tmp_path)
    config = examples / "builder.toml"
    config.write_text(
        config.read_text().split("# jq for the build image")[0]
        + '\n[[extensions]]\nuri = "extensions/curl"\n'
        + '\n[[extensions]]\nuri = "extensions/run-motd"\n'
        + '\n[[order-extensions]]\n  [[order-extensions.group]]\n  id = "examples/curl"\n'
        + '  [[order-extensions.group]]\n  id = "examples/run-motd"\n'
    )
    builder_cli.workdir = examples
    name = engine.name("with-extensions")
    builder_cli("create-builder", name, "-c", "builder.toml", check=True)
    layers = label_json(engine, name, "io.buildpacks.extension.layers")
    image_layers = engine.docker.image.inspect(name).root_fs.layers or []
    assert set(layers) == {"examples/curl", "examples/run-motd"}
    for versions in layers.values():
        assert versions["0.0.1"]["layerDiffID"] in image_layers
    assert label_json(engine, name, "io.buildpacks.buildpack.order-extensions") == [
        {
            "group": [
                {"id": "examples/curl", "version": "0.0.1"},
                {"id": "examples/run-motd", "version": "0.0.1"},
            ]
        }
    ]
    metadata = label_json(engine, name, "io.buildpacks.builder.metadata")
    assert [e["id"] for e in metadata["extensions"]] == ["examples/curl", "examples/run-motd"]
    files = engine.run(
        name,
        "stat -c '%U %a %n' /cnb/extensions/examples_curl/0.0.1/bin/generate; cat /cnb/order.toml",
    )
    stat, order_text = files.split("\n", 1)
    assert stat == "root 755 /cnb/extensions/examples_curl/0.0.1/bin/generate"
    assert tomllib.loads(order_text)["order-extensions"] == [
        {
            "group": [
                {"id": "examples/curl", "version": "0.0.1"},
                {"id": "examples/run-motd", "version": "0.0.1"},
            ]
        }
    ]


def test_extensions_need_platform_api_0_13_unless_experimental(
    engine: EngineEnv, builder_cli: Cli, tmp_path: Path
) -> None:
    from tests.fixtures.lifecycle_fixture import make_lifecycle_archive

    old = make_lifecycle_archive(
        tmp_path / "old", version="0.16.0", platform_apis=("0.10", "0.11", "0.12")
    )
    examples = copy_examples(tmp_path)
    config = examples / "builder.toml"
    config.write_text(
        config.read_text()
        .split("# jq for the build image")[0]
        .replace('version = "0.21.0"', f'uri = "{old}"')
        + '\n[[extensions]]\nuri = "extensions/curl"\n'
    )
    builder_cli.workdir = examples
    refused = builder_cli("create-builder", engine.name("old-lifecycle"), "-c", "builder.toml")
    assert refused.returncode == 3
    assert "image extensions need a lifecycle with Platform API 0.13 or newer" in refused.stderr
    allowed = builder_cli(
        "create-builder", engine.name("old-lifecycle"), "-c", "builder.toml", "--experimental"
    )
    assert allowed.returncode == 0, allowed.stderr
    assert "packaged anyway: --experimental" in allowed.stderr


def test_extend_extensions_are_applied_ahead_of_time_by_create_builder(
    engine: EngineEnv, builder_cli: Cli, tmp_path: Path
) -> None:
    """[[extend.extensions]] in builder.toml and --extension: build.Dockerfiles go to the build
    image before the buildpacks are added, run.Dockerfiles to the run image."""
    examples = copy_examples(tmp_path)
    config = examples / "builder.toml"
    config.write_text(
        config.read_text().split("# jq for the build image")[0]
        + '\n[[extend.extensions]]\nuri = "extensions/curl"\n'
    )
    builder_cli.workdir = examples
    builder, run_image = engine.name("ext-created"), engine.name("ext-created-run")
    result = builder_cli(
        "create-builder",
        builder,
        "-c",
        "builder.toml",
        "--run-image",
        run_image,
        "--extension",
        str(examples / "extensions" / "run-motd"),
    )
    assert result.returncode == 0, result.stderr
    assert engine.run(
        builder, "id -u; curl --version | head -c 4; echo; ls /cnb/buildpacks"
    ).split() == [
        "1000",
        "curl",
        "examples_hello",
        "examples_jq-report",
        "examples_meta",
    ]
    assert "Welcome" in engine.run(run_image, "cat /etc/motd")
    assert label_json(engine, builder, "io.buildpacks.extend.metadata") == {
        "extensions": [{"id": "examples/curl", "version": "0.0.1"}]
    }
    assert label_json(engine, run_image, "io.buildpacks.extend.metadata") == {
        "extensions": [{"id": "examples/run-motd", "version": "0.0.1"}]
    }
    run_labels = engine.labels(run_image)
    assert layers_rebasable(run_labels) is True  # run-motd's run.Dockerfile says so
    assert "io.buildpacks.rebasable" not in run_labels  # as on the base
    metadata = label_json(engine, builder, "io.buildpacks.builder.metadata")
    assert metadata["images"][0]["image"] == run_image
    # Module layers are still the ones the label names.
    layers = label_json(engine, builder, "io.buildpacks.buildpack.layers")
    image_layers = engine.docker.image.inspect(builder).root_fs.layers or []
    assert layers["examples/hello"]["0.0.1"]["layerDiffID"] in image_layers
