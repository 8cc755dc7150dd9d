"""The request replayed whole, for real: a two-target builder with --label, --tag and --flatten
keeps every one of them through upgrade, on every platform; the same request saved under two
names is the same image."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.engine.conftest import EXAMPLES, Cli, EngineEnv
from tests.engine.test_create_builder_pack_engine import builder_toml
from tests.engine.test_day2_engine import inspect, manifest, platforms_of, push_base, upgrade

pytestmark = pytest.mark.engine

BOTH = "linux/amd64,linux/arm64"
FLATTENED = "examples/hello@0.0.1,examples/jq-report@0.0.1"


def run_on(reference: str, platform: str, command: str) -> list[str]:
    return subprocess.run(
        [
            *("docker", "run", "--rm", "--pull", "always", "--platform", platform),
            *(reference, "sh", "-c", command),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()


def check_builder(engine: EngineEnv, builder: str, tag: str, version: str) -> None:
    """Both platforms, each its own machine on the new base; the label; one layer for the
    flattened modules; the --tag at the builder's digest."""
    assert platforms_of(builder) == {"linux/amd64", "linux/arm64"}
    for platform, machine in (("linux/amd64", "x86_64"), ("linux/arm64", "aarch64")):
        out = run_on(builder, platform, "uname -m; cat /base-version; ls /cnb/buildpacks")
        assert out == [machine, version, "examples_hello", "examples_jq-report"]
    for platform, config in engine.registry_config(builder).items():
        assert isinstance(config, dict)
        labels = config["config"]["Labels"]
        assert labels["org.example.team"] == "ops", platform
        layers = json.loads(labels["io.buildpacks.buildpack.layers"])
        hello = layers["examples/hello"]["0.0.1"]["layerDiffID"]
        assert layers["examples/jq-report"]["0.0.1"]["layerDiffID"] == hello, platform
        assert config["rootfs"]["diff_ids"].count(hello) == 1, platform
    assert manifest(tag)[0] == manifest(builder)[0]


def test_a_two_target_builder_keeps_every_flag_through_upgrade(
    engine: EngineEnv, builder_cli: Cli, tmp_path: Path
) -> None:
    if engine.multiarch_build_image is None or engine.multiarch_run_image is None:
        pytest.skip("the engine has no linux/arm64 emulation (make engine sets it up on Debian)")
    build = engine.name("rq-build")
    builder, tag = engine.name("rq-builder"), engine.name("rq-builder-tag")
    push_base(engine, build, tmp_path, "v1", base=engine.multiarch_build_image, platforms=BOTH)
    examples = tmp_path / "examples"
    shutil.copytree(EXAMPLES, examples)
    config = examples / "builder.toml"
    config.write_text(builder_toml(build, engine.multiarch_run_image, examples=examples))
    builder_cli(
        *("create-builder", builder, "-c", str(config), "--publish"),
        *("--target", "linux/amd64", "--target", "linux/arm64"),
        *("--label", "org.example.team=ops", "--tag", tag, "--flatten", FLATTENED),
        check=True,
    )
    check_builder(engine, builder, tag, "v1")
    request = inspect(builder_cli, tag)["request"]
    assert request["options"]["labels"] == {"org.example.team": "ops"}
    assert request["options"]["flatten"] == [FLATTENED.split(",")]
    assert inspect(builder_cli, tag)["names"] == [tag, builder]

    # The week after: the build image moves. No --config: the request is in the builder.
    push_base(engine, build, tmp_path, "v2", base=engine.multiarch_build_image, platforms=BOTH)
    code, images = upgrade(builder_cli, "--publish", builder)
    assert code == 0, images
    # Nothing of the builder's own touched the build image: rebased in the registry.
    assert (images[0]["state"], images[0]["method"]) == ("upgraded", "rebase")
    check_builder(engine, builder, tag, "v2")

    # A rebuild replays the same request (every flag) through create-builder, with the module
    # folders gone: the modules come from the published builder itself.
    shutil.rmtree(examples)
    push_base(engine, build, tmp_path, "v3", base=engine.multiarch_build_image, platforms=BOTH)
    code, images = upgrade(builder_cli, "--publish", "--rebase", "never", builder)
    assert code == 0, images
    assert (images[0]["state"], images[0]["method"]) == ("upgraded", "rebuild")
    check_builder(engine, builder, tag, "v3")
    assert inspect(builder_cli, builder)["status"]["state"] == "up to date"


def test_the_same_request_under_two_names_is_the_same_image(
    engine: EngineEnv, cnbext: Cli, tmp_path: Path
) -> None:
    base = engine.name("rq-base")
    push_base(engine, base, tmp_path, "v1")
    cnbext.write("extend.toml", f'[extend]\nimage = "{base}"\n[extend.metadata]\nowner = "ops"\n')
    first, second = engine.name("rq-a"), engine.name("rq-b")
    digests = []
    for name in (first, second):
        result = cnbext(
            *("extend", name, "-c", "extend.toml", "--build-id", "fixed"),
            *("--publish", "-o", "json"),
            check=True,
        )
        digests.append(json.loads(result.stdout)["images"][0]["digest"])
    assert digests[0] == digests[1]
    assert first not in json.dumps(engine.registry_config(first))


def test_every_platforms_image_is_the_same_under_two_names(
    engine: EngineEnv, cnbext: Cli, tmp_path: Path
) -> None:
    if engine.multiarch_run_image is None:
        pytest.skip("the engine has no linux/arm64 emulation (make engine sets it up on Debian)")
    base = engine.name("rq-mbase")
    push_base(engine, base, tmp_path, "v1", base=engine.multiarch_run_image, platforms=BOTH)
    cnbext.write("extend.toml", f'[extend]\nimage = "{base}"\n[extend.metadata]\nowner = "ops"\n')
    names = (engine.name("rq-ma"), engine.name("rq-mb"))
    for name in names:
        cnbext(
            *("extend", name, "-c", "extend.toml", "--build-id", "fixed", "--publish"),
            *("--platform", "linux/amd64", "--platform", "linux/arm64"),
            check=True,
        )
    first, second = (manifest(n)[1]["manifests"] for n in names)
    assert {m["platform"]["architecture"]: m["digest"] for m in first} == {
        m["platform"]["architecture"]: m["digest"] for m in second
    }
