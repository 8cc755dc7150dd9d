"""create-builder at pack parity, for real: targets (one image index, each platform with its own
build image and lifecycle), --label, --tag, --flatten, lifecycle version shorthands."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.engine.conftest import EXAMPLES, Cli, EngineEnv, label_json

pytestmark = pytest.mark.engine


def builder_toml(build: str, run: str, extra: str = "", examples: Path = EXAMPLES) -> str:
    return f"""
[[buildpacks]]
uri = "{examples}/buildpacks/hello"
[[buildpacks]]
uri = "{examples}/buildpacks/jq-report"
[[order]]
  [[order.group]]
  id = "examples/hello"
[build]
image = "{build}"
[[run.images]]
image = "{run}"
{extra}"""


TWO_TARGETS = """
[[targets]]
os = "linux"
arch = "amd64"
[[targets.distros]]
name = "debian"
version = "12"
[[targets]]
os = "linux"
arch = "arm64"
"""


def platforms_of(reference: str) -> list[str]:
    out = subprocess.run(
        ["docker", "buildx", "imagetools", "inspect", "--format", "{{json .Manifest}}", reference],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    manifests = json.loads(out).get("manifests", [])
    return sorted(f"{m['platform']['os']}/{m['platform']['architecture']}" for m in manifests)


def test_two_targets_publish_one_index_each_platform_with_its_own_lifecycle(
    engine: EngineEnv, builder_cli: Cli
) -> None:
    if engine.multiarch_build_image is None or engine.multiarch_run_image is None:
        pytest.skip("the engine has no linux/arm64 emulation (make engine sets it up on Debian)")
    builder, tag = engine.name("multiarch-builder"), engine.name("multiarch-tag")
    builder_cli.write(
        "builder.toml",
        builder_toml(engine.multiarch_build_image, engine.multiarch_run_image, TWO_TARGETS),
    )
    result = builder_cli(
        "create-builder",
        builder,
        "-c",
        "builder.toml",
        "--publish",
        "--tag",
        tag,
        "--label",
        "org.example.team=builders",
        "-o",
        "json",
    )
    assert result.returncode == 0, result.stderr
    digest = json.loads(result.stdout)["images"][0]["digest"]
    assert platforms_of(builder) == ["linux/amd64", "linux/arm64"]
    # --tag: the same index under another name, copied by digest.
    assert engine.registry_digest(tag) == digest
    for platform, machine, arch in (
        ("linux/amd64", "x86_64", "amd64"),
        ("linux/arm64", "aarch64", "arm64"),
    ):
        out = engine.docker.run(
            builder,
            ["sh", "-c", "uname -m; cat /cnb/lifecycle/fixture-arch; ls /cnb/buildpacks"],
            platform=platform,
            remove=True,
            pull="always",
        )
        # The platform's build image (its userland runs as that machine) and the lifecycle
        # release for that architecture.
        assert str(out).split() == [machine, arch, "examples_hello", "examples_jq-report"]
    config = engine.registry_config(builder)
    per_platform = list(config.values()) if "config" not in config else [config]
    for image_config in per_platform:
        assert isinstance(image_config, dict)
        labels = image_config["config"]["Labels"]
        assert labels["org.example.team"] == "builders"
        assert "io.buildpacks.builder.metadata" in labels


def test_without_publish_only_the_daemons_target_is_built(
    engine: EngineEnv, builder_cli: Cli
) -> None:
    builder = engine.name("daemon-target")
    builder_cli.write(
        "builder.toml", builder_toml(engine.build_image, engine.run_image, TWO_TARGETS)
    )
    result = builder_cli("create-builder", builder, "-c", "builder.toml", "-o", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["images"][0]["platforms"] == ["linux/amd64"]
    assert engine.docker.image.inspect(builder).architecture == "amd64"
    # A --target the daemon cannot hold: refused before any work, nothing made.
    other = engine.name("no-daemon-target")
    refused = builder_cli("create-builder", other, "-c", "builder.toml", "--target", "linux/arm64")
    assert refused.returncode == 2
    assert "no target matches the daemon's platform linux/amd64: linux/arm64" in refused.stderr
    assert not engine.docker.image.exists(other)


def test_flatten_puts_modules_in_one_layer_every_label_naming_it(
    engine: EngineEnv, builder_cli: Cli
) -> None:
    builder = engine.name("flattened")
    builder_cli.write("builder.toml", builder_toml(engine.build_image, engine.run_image))
    result = builder_cli(
        "create-builder",
        builder,
        "-c",
        "builder.toml",
        "--flatten",
        "examples/hello@0.0.1,examples/jq-report@0.0.1",
        "--label",
        "a=b",
    )
    assert result.returncode == 0, result.stderr
    layers = label_json(engine, builder, "io.buildpacks.buildpack.layers")
    hello = layers["examples/hello"]["0.0.1"]["layerDiffID"]
    assert layers["examples/jq-report"]["0.0.1"]["layerDiffID"] == hello
    image = engine.docker.image.inspect(builder)
    diff_ids = list(image.root_fs.layers or [])
    assert diff_ids.count(hello) == 1
    assert engine.labels(builder)["a"] == "b"
    # Both modules are in that one layer: the layer below it has neither.
    listing = engine.run(builder, "ls /cnb/buildpacks")
    assert listing.split() == ["examples_hello", "examples_jq-report"]


@pytest.mark.parametrize(("written", "release"), [("0.20", "0.20.0"), ("v0.21", "0.21.0")])
def test_lifecycle_version_shorthands_download_the_release_pack_would(
    engine: EngineEnv, builder_cli: Cli, written: str, release: str
) -> None:
    builder = engine.name("shorthand")
    extra = f'[lifecycle]\nversion = "{written}"\n'
    builder_cli.write("builder.toml", builder_toml(engine.build_image, engine.run_image, extra))
    result = builder_cli("create-builder", builder, "-c", "builder.toml")
    assert result.returncode == 0, result.stderr
    metadata = label_json(engine, builder, "io.buildpacks.builder.metadata")
    assert metadata["lifecycle"]["version"] == release


MODULE_IMAGE_DOCKERFILE = """\
ARG base_image
FROM ${base_image}
USER root
ARG TARGETARCH
RUN d=/cnb/buildpacks/examples_arch/0.0.1 && mkdir -p $d/bin \\
 && printf 'api = "0.10"\\n[buildpack]\\nid = "examples/arch"\\nversion = "0.0.1"\\n' \\
    > $d/buildpack.toml \\
 && printf '#!/bin/sh\\nexit 0\\n' > $d/bin/detect && cp $d/bin/detect $d/bin/build \\
 && chmod 755 $d/bin/* && echo $TARGETARCH > $d/arch
"""


def manifests_of(reference: str) -> dict[str, str]:
    """An index's entries: platform -> manifest digest."""
    out = subprocess.run(
        ["docker", "buildx", "imagetools", "inspect", "--format", "{{json .Manifest}}", reference],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {
        f"{m['platform']['os']}/{m['platform']['architecture']}": m["digest"]
        for m in json.loads(out).get("manifests", [])
    }


def push_per_arch_module_image(engine: EngineEnv, builder_cli: Cli, base: str) -> str:
    """A multi-platform buildpack image whose module differs per platform (its arch file)."""
    (builder_cli.workdir / "Dockerfile").write_text(MODULE_IMAGE_DOCKERFILE)
    image = engine.name("module-per-arch")
    subprocess.run(
        [
            *("docker", "buildx", "build", "--quiet", "--network", "host"),
            *("--provenance=false", "--platform", "linux/amd64,linux/arm64"),
            *("--build-arg", f"base_image={base}", "-t", image, "--push"),
            str(builder_cli.workdir),
        ],
        check=True,
        capture_output=True,
    )
    return image


def test_one_builder_per_target_each_with_its_platforms_modules_and_suffixed_names(
    engine: EngineEnv, builder_cli: Cli
) -> None:
    """pack's multi-arch builder: a module that differs per platform goes to each platform's
    builder as that platform has it; with --append-image-name-suffix each platform's builder
    is also NAME-os-arch, the very image the index names."""
    if engine.multiarch_build_image is None or engine.multiarch_run_image is None:
        pytest.skip("the engine has no linux/arm64 emulation (make engine sets it up on Debian)")
    base = engine.multiarch_build_image
    module_image = push_per_arch_module_image(engine, builder_cli, base)
    builder = engine.name("per-target-builder", tag="1.0")
    extra = f'[[buildpacks]]\nuri = "docker://{module_image}"\n' + TWO_TARGETS
    builder_cli.write("builder.toml", builder_toml(base, engine.multiarch_run_image, extra))
    result = builder_cli(
        "create-builder", builder, "-c", "builder.toml", "--publish", "--append-image-name-suffix"
    )
    assert result.returncode == 0, result.stderr
    index = manifests_of(builder)
    assert sorted(index) == ["linux/amd64", "linux/arm64"]
    for platform, machine in (("linux/amd64", "x86_64"), ("linux/arm64", "aarch64")):
        arch = platform.split("/")[1]
        own = f"{builder}-linux-{arch}"
        # The per-target name is that platform's image, the very manifest the index names.
        assert engine.registry_digest(own) == index[platform]
        assert engine.registry_config(own)["architecture"] == arch
        out = engine.docker.run(
            builder,
            ["sh", "-c", "uname -m; cat /cnb/buildpacks/examples_arch/0.0.1/arch"],
            platform=platform,
            remove=True,
            pull="always",
        )
        assert str(out).split() == [machine, arch]
        labels = engine.registry_config(own)["config"]
        assert isinstance(labels, dict)
        layers = json.loads(labels["Labels"]["io.buildpacks.buildpack.layers"])
        diff_ids = engine.registry_config(own)["rootfs"]
        assert isinstance(diff_ids, dict)
        # Each platform's labels name its own module layer.
        assert layers["examples/arch"]["0.0.1"]["layerDiffID"] in diff_ids["diff_ids"]


def test_a_run_image_without_a_target_platform_is_refused_before_anything_is_published(
    engine: EngineEnv, builder_cli: Cli
) -> None:
    if engine.multiarch_build_image is None:
        pytest.skip("the engine has no linux/arm64 emulation (make engine sets it up on Debian)")
    builder = engine.name("run-lacks-arm64")
    # The example run image is linux/amd64 only.
    toml = builder_toml(engine.multiarch_build_image, engine.run_image, TWO_TARGETS)
    builder_cli.write("builder.toml", toml)
    result = builder_cli(
        "create-builder", builder, "-c", "builder.toml", "--publish", "--append-image-name-suffix"
    )
    assert result.returncode == 3, result.stderr
    assert (
        f"$.run.images[0]: run image {engine.run_image} has no image for linux/arm64 "
        "(it has linux/amd64); every target platform needs one"
    ) in result.stderr
    for name in (builder, f"{builder}-linux-amd64", f"{builder}-linux-arm64"):
        assert not engine.in_registry(name)
