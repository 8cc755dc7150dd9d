"""What cnbext makes, used by the real CNB lifecycle as pack uses it.

Builders made by `cnbext create-builder` (the lifecycle 0.21.17 release read through
CNBEXT_LIFECYCLE_BASE_URL from ../shared/lifecycle, with `[extend]`) and by `cnbext
extend-builder` run `creator` with CNB_PLATFORM_API=0.14, publishing to the loopback registry;
each app is then run. The build sees the build image's added packages (the tools-report
buildpack records them), the app runs with the run image's, and its
io.buildpacks.lifecycle.metadata names the extended run image and its mirror. A builder with
amd64 and arm64 targets gets the arm64 lifecycle archive in its arm64 image, which builds an
arm64 app under emulation. An app built on an extend-builder run image is rebased by the real
`rebaser` (no -force) onto that run image once `cnbext upgrade RUN_IMAGE` has moved it.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.engine.conftest import Cli, EngineEnv
from tests.fixtures.lifecycle_run import (
    Daemon,
    app_config,
    app_labels,
    create_app,
    phase,
    recorded_run_image,
    run_app,
    served_digests,
)
from tests.fixtures.real_lifecycle import Made, RealLifecycle, builder_toml

pytestmark = pytest.mark.engine

TOOLS_FILE = "/layers/cnbext-tests_tools-report/tools/tools.txt"


@pytest.fixture(scope="module")
def created(engine: EngineEnv, real_cli: tuple[Cli, RealLifecycle], daemon: Daemon) -> Made:
    """create-builder with [extend]: jq in both images, tree in the build image only."""
    cli, lifecycle = real_cli
    made = Made(engine.name("rl-builder"), engine.name("rl-run"), engine.name("rl-run-mirror"))
    extend = '[extend.metadata]\npackages = ["jq"]\n[extend.metadata.build]\npackages = ["tree"]\n'
    config = cli.write(
        "builder.toml", builder_toml(lifecycle, engine.build_image, engine.run_image, extend=extend)
    )
    cli(
        "create-builder", made.builder, "-c", str(config), "--run-image", made.run_image,
        "--run-image-mirror", made.mirror, "--publish", check=True,
    )  # fmt: skip
    daemon.note(made.builder, made.run_image, made.mirror)
    return made


def tools(daemon: Daemon, app: str, platform: str | None = None) -> dict[str, str]:
    report = run_app(daemon, app, "-c", f"cat {TOOLS_FILE}", entrypoint="sh", platform=platform)
    return dict(line.split(" ", 1) for line in report.splitlines() if " " in line)


def assert_runs_without(daemon: Daemon, app: str, tool: str) -> None:
    """``tool`` was a build-scope package only: the app's run image lacks it."""
    found = run_app(daemon, app, "-c", f"command -v {tool} || echo missing", entrypoint="sh")
    assert found.strip() == "missing"


def assert_records(app: str, made: Made) -> None:
    """The app's io.buildpacks.lifecycle.metadata names the run image, its mirror, and the
    platform manifest it was built on."""
    run_image = recorded_run_image(app)
    assert run_image["image"] == made.run_image
    assert run_image["mirrors"] == [made.mirror]
    repository, digest = run_image["reference"].split("@")
    assert repository == made.run_image.rsplit(":", 1)[0]
    assert digest in served_digests(made.run_image)


def test_a_created_builder_builds_an_app_that_runs_with_the_run_images_packages(
    engine: EngineEnv, created: Made, daemon: Daemon, app_source: Path
) -> None:
    app = engine.name("rl-app")
    output = create_app(daemon, created.builder, app, engine.registry, app_source)

    # Detected with jq-report, which passes only where the build image has jq.
    assert re.search(r"^examples/jq-report +0\.0\.1$", output, re.MULTILINE)
    assert "hello from a cnbext example builder (user 1001)" in run_app(daemon, app)
    assert tools(daemon, app) == {
        "jq": "yes",
        "tree": "yes",
        "file": "no",
        "less": "no",
        "arch": "x86_64",
    }
    # jq reached the run image; tree was for the build image only.
    assert run_app(daemon, app, "--version", entrypoint="jq").startswith("jq-")
    assert_runs_without(daemon, app, "tree")
    assert_records(app, created)


def test_an_extended_builder_builds_with_the_build_package_and_runs_with_the_run_package(
    engine: EngineEnv,
    created: Made,
    real_cli: tuple[Cli, RealLifecycle],
    daemon: Daemon,
    app_source: Path,
) -> None:
    cli, _ = real_cli
    extended = Made(engine.name("rl-file"), engine.name("rl-run-file"), engine.name("rl-mirror"))
    config = cli.write(
        "extend-builder.toml",
        f'[extend]\nimage = "{created.builder}"\n[extend.metadata]\npackages = ["file"]\n'
        '[extend.metadata.build]\npackages = ["less"]\n[extend.metadata.run]\npackages = ["tree"]\n',
    )
    cli(
        "extend-builder", extended.builder, "-e", str(config), "--run-image", extended.run_image,
        "--run-image-mirror", extended.mirror, "--publish", check=True,
    )  # fmt: skip
    daemon.note(extended.builder, extended.run_image, extended.mirror)
    app = engine.name("rl-app-file")

    create_app(daemon, extended.builder, app, engine.registry, app_source)

    assert "hello from a cnbext example builder" in run_app(daemon, app)
    assert tools(daemon, app) == {
        "jq": "yes", "tree": "yes", "file": "yes", "less": "yes", "arch": "x86_64",
    }  # fmt: skip
    assert "file-5" in run_app(daemon, app, "--version", entrypoint="file")
    assert run_app(daemon, app, "--version", entrypoint="tree").startswith("tree v")
    assert_runs_without(daemon, app, "less")
    assert_records(app, extended)


def test_the_arm64_builder_of_a_multi_target_builder_builds_an_arm64_app_under_emulation(
    engine: EngineEnv, real_cli: tuple[Cli, RealLifecycle], daemon: Daemon, app_source: Path
) -> None:
    if engine.multiarch_run_image is None or engine.multiarch_build_image is None:
        pytest.skip("the engine has no arm64 emulation, so no multi-arch example stack")
    cli, lifecycle = real_cli
    builder = engine.name("rl-multi")
    targets = (
        '[[targets]]\nos = "linux"\narch = "amd64"\n[[targets]]\nos = "linux"\narch = "arm64"\n'
    )
    toml = builder_toml(
        lifecycle,
        engine.multiarch_build_image,
        engine.multiarch_run_image,
        extend="",
        targets=targets,
    )
    cli(
        "create-builder", builder, "-c", str(cli.write("multi.toml", toml)), "--publish", check=True
    )
    app = engine.name("rl-app-arm64")

    # The arm64 builder (the arm64 lifecycle archive in it) runs under emulation.
    create_app(daemon, builder, app, engine.registry, app_source, platform="linux/arm64")

    assert app_config(app)["architecture"] == "arm64"
    assert "hello from a cnbext example builder" in run_app(daemon, app, platform="linux/arm64")
    assert tools(daemon, app, platform="linux/arm64")["arch"] == "aarch64"
    uname = run_app(daemon, app, "-m", entrypoint="uname", platform="linux/arm64")
    assert uname.strip() == "aarch64"
    assert recorded_run_image(app)["image"] == engine.multiarch_run_image


def push_run_base(engine: EngineEnv, name: str, tmp: Path, version: str) -> None:
    """The example run image plus a file naming its version, pushed as ``name``."""
    context = tmp / f"run-base-{version}"
    context.mkdir(parents=True)
    (context / "version").write_text(version + "\n")
    (context / "Dockerfile").write_text(f"FROM {engine.run_image}\nCOPY version /base-version\n")
    args = ("docker", "buildx", "build", "-q", "--network", "host", "--provenance=false")
    subprocess.run([*args, "-t", name, "--push", str(context)], check=True, capture_output=True)


def top_digest(reference: str) -> str:
    out = subprocess.run(
        ["docker", "buildx", "imagetools", "inspect", "--format", "{{json .Manifest}}", reference],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    digest: str = json.loads(out)["digest"]
    return digest


def test_an_app_on_an_upgraded_run_image_is_rebased_by_the_real_rebaser_without_force(
    engine: EngineEnv,
    real_cli: tuple[Cli, RealLifecycle],
    daemon: Daemon,
    app_source: Path,
    tmp_path: Path,
) -> None:
    cli, lifecycle = real_cli
    run_base, plain = engine.name("rl-runbase"), engine.name("rl-plain")
    made = Made(engine.name("rl-tree"), engine.name("rl-run-tree"), engine.name("rl-tree-mirror"))
    daemon.note(run_base, plain, made.builder, made.run_image, made.mirror)
    push_run_base(engine, run_base, tmp_path, "v1")
    toml = builder_toml(lifecycle, engine.build_image, run_base, extend="")
    cli("create-builder", plain, "-c", str(cli.write("plain.toml", toml)), "--publish", check=True)
    config = cli.write(
        "tree.toml",
        f'[extend]\nimage = "{plain}"\n[extend.metadata.run]\npackages = ["tree"]\n',
    )
    cli(
        "extend-builder", made.builder, "-e", str(config), "--run-image", made.run_image,
        "--run-image-mirror", made.mirror, "--publish", check=True,
    )  # fmt: skip
    # Packages were installed (not declared rebasable): cnbext's provenance says so, the run
    # image carries no io.buildpacks.rebasable=false for every app to inherit.
    run_doc = json.loads(cli("inspect", made.run_image, "-o", "json", check=True).stdout)
    assert run_doc["rebasable"] is None and run_doc["provenance"]["rebasable"] is False
    app = engine.name("rl-app-rebase")
    create_app(daemon, made.builder, app, engine.registry, app_source)
    assert app_labels(app).get("io.buildpacks.rebasable") != "false"
    before = recorded_run_image(app)["reference"]

    push_run_base(engine, run_base, tmp_path, "v2")
    upgraded = cli("upgrade", made.run_image, "--publish", "-o", "json")
    assert upgraded.returncode == 0, upgraded.stderr
    (result,) = json.loads(upgraded.stdout)["images"]
    assert (result["state"], result["method"]) == ("upgraded", "rebuild"), result
    assert top_digest(made.mirror) == top_digest(made.run_image) == result["digestAfter"]

    # The real rebaser, as `pack rebase` runs it, without -force.
    phase(daemon, made.builder, "rebaser", ["-insecure-registry", engine.registry, app])
    report = run_app(daemon, app, "-c", "cat /base-version; command -v tree", entrypoint="sh")
    assert report.split() == ["v2", "/usr/bin/tree"]
    assert "hello from a cnbext example builder" in run_app(daemon, app)
    run_image = recorded_run_image(app)
    assert (run_image["image"], run_image["mirrors"]) == (made.run_image, [made.mirror])
    assert run_image["reference"] != before
    assert run_image["reference"].split("@")[1] in served_digests(made.run_image)
    # The builder names the run image by tag: inspect says it moved on its own.
    builder_doc = json.loads(cli("inspect", made.builder, "-o", "json", check=True).stdout)
    assert builder_doc["status"]["runImage"]["state"] == "moved", builder_doc["status"]
