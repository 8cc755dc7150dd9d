"""Hostile buildpacks, images and extensions through the real commands, on the real engine.

Every attack in tests/fixtures/malicious.py is given to `cnbext create-builder --publish`
or `cnbext extend-builder --publish`: it must be refused with its documented exit code and a
clear message, nothing may be published, cnbext's temp folder must be gone, and the
sentinel files beside $TMPDIR (which the attacks aim at) must keep their content and modes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.engine.conftest import Cli, EngineEnv
from tests.engine.test_extensions_engine import config as extend_builder_config
from tests.engine.test_extensions_engine import generate_script
from tests.fixtures.buildpacks import write_extension
from tests.fixtures.malicious import (
    DESCRIPTOR,
    Member,
    Sentinels,
    archive_corpus,
    package_corpus,
    write_cnb,
    write_tgz,
)

pytestmark = pytest.mark.engine

ARCHIVES = archive_corpus("sentinel")
PACKAGES = package_corpus("sentinel")


@pytest.fixture
def hostile(builder_cli: Cli, tmp_path: Path) -> tuple[Cli, Sentinels]:
    """The CLI with $TMPDIR inside tmp_path, beside the sentinels the corpus aims at."""
    (tmp_path / "tmp").mkdir()
    builder_cli.env["TMPDIR"] = str(tmp_path / "tmp")
    return builder_cli, Sentinels.plant(tmp_path / "sentinel")


def builder_toml(engine: EngineEnv, uri: str) -> str:
    return (
        f'[[buildpacks]]\nuri = "{uri}"\n\n[[order]]\n[[order.group]]\nid = "evil"\n\n'
        f'[build]\nimage = "{engine.build_image}"\n\n[[run.images]]\nimage = "{engine.run_image}"\n'
    )


def refused(
    engine: EngineEnv, cli: Cli, sentinels: Sentinels, uri: str, code: int, message: str
) -> None:
    cli.write("builder.toml", builder_toml(engine, uri))
    name = engine.name("hostile")
    result = cli("create-builder", name, "-c", "builder.toml", "--publish")
    assert result.returncode == code, result.stderr
    assert message in result.stderr
    assert not engine.in_registry(name)
    sentinels.assert_untouched()
    assert list(Path(cli.env["TMPDIR"]).iterdir()) == []  # cnbext's temp folder is gone


@pytest.mark.parametrize(("members", "why"), ARCHIVES.values(), ids=ARCHIVES.keys())
def test_hostile_archives_are_refused(
    engine: EngineEnv,
    hostile: tuple[Cli, Sentinels],
    tmp_path: Path,
    members: list[Member],
    why: str,
) -> None:
    cli, sentinels = hostile
    archive = write_tgz(tmp_path / "evil.tgz", members)
    refused(engine, cli, sentinels, str(archive), 3, why)


@pytest.mark.parametrize(("layers", "why"), PACKAGES.values(), ids=PACKAGES.keys())
def test_hostile_buildpackages_are_refused(
    engine: EngineEnv,
    hostile: tuple[Cli, Sentinels],
    tmp_path: Path,
    layers: list[list[Member]] | None,
    why: str,
) -> None:
    cli, sentinels = hostile
    package = write_cnb(tmp_path / "evil.cnb", layers)
    refused(engine, cli, sentinels, str(package), 3, why)


def _decoy(context: Path, sentinels: Sentinels) -> None:
    """The image also holds a file where its link points, so the engine exports the link
    itself (BuildKit refuses to copy a dangling one): only cnbext's checks stand between the
    link and the host file of the same path."""
    (context / "decoy").write_text("in the image")
    (context / "Dockerfile").write_text(
        f"FROM scratch\nCOPY cnb/ /cnb/\nCOPY decoy {sentinels.root}/victim\n"
    )


def _push_image(engine: EngineEnv, context: Path, label: str) -> str:
    image = engine.name(label)
    engine.docker.buildx.build(context, tags=[image], push=True, provenance=False)
    return image


def test_an_image_whose_buildpack_links_to_a_host_file_is_refused(
    engine: EngineEnv, hostile: tuple[Cli, Sentinels], tmp_path: Path
) -> None:
    cli, sentinels = hostile
    context = tmp_path / "image"
    module = context / "cnb" / "buildpacks" / "evil" / "1.0.0"
    module.mkdir(parents=True)
    (module / "buildpack.toml").write_bytes(DESCRIPTOR)
    (module / "leak").symlink_to(sentinels.root / "victim")
    _decoy(context, sentinels)
    image = _push_image(engine, context, "evil-buildpack-image")
    refused(engine, cli, sentinels, f"docker://{image}", 3, "symlink to the absolute path")


# --- extensions ------------------------------------------------------------------------------


def extend_builder(
    engine: EngineEnv, cli: Cli, builder: str, extension: Path | str
) -> tuple[object, str, str]:
    cli.write("extend-builder.toml", extend_builder_config(builder, extension))
    name, run_image = engine.name("hostile-builder"), engine.name("hostile-run")
    result = cli(
        "extend-builder", name, "-e", "extend-builder.toml", "--run-image", run_image, "--publish"
    )
    return result, name, run_image


def _link_script(kind: str, command: str) -> dict[str, str]:
    return {f"{kind}_script": f"#!/bin/sh\nset -eu\n{command}\n"}


EXTENSION_ATTACKS = {
    "detect plan is a link to a host file": (
        lambda s: _link_script("detect", f'ln -s {s}/victim "$CNB_BUILD_PLAN_PATH"'),
        22,
        "plan.toml is a symlink",
    ),
    "build.Dockerfile is a link to a host file": (
        lambda s: _link_script("generate", f'ln -s {s}/victim "$CNB_OUTPUT_DIR/build.Dockerfile"'),
        92,
        "build.Dockerfile is a symlink",
    ),
    "extend-config.toml is a link to a host file": (
        lambda s: _link_script(
            "generate", f'ln -s {s}/victim "$CNB_OUTPUT_DIR/extend-config.toml"'
        ),
        92,
        "extend-config.toml is a symlink",
    ),
    "context is a link to a host folder": (
        lambda s: {
            "generate_script": generate_script(
                ("build.Dockerfile", "ARG base_image\nFROM ${base_image}\nCOPY . /stolen\n")
            )
            + f'ln -s {s}/victim-dir "$CNB_OUTPUT_DIR/context"\n'
        },
        92,
        "context is a symlink",
    ),
    "context holds a link leading out of it": (
        lambda s: {
            "generate_script": generate_script(
                ("build.Dockerfile", "ARG base_image\nFROM ${base_image}\nCOPY . /stolen\n")
            )
            + 'mkdir -p "$CNB_OUTPUT_DIR/context"\n'
            + 'ln -s ../../../../../.. "$CNB_OUTPUT_DIR/context/up"\n'
        },
        92,
        "context/up: a symlink to '../../../../../..'",
    ),
}


@pytest.mark.parametrize(
    ("script", "code", "message"), EXTENSION_ATTACKS.values(), ids=EXTENSION_ATTACKS.keys()
)
def test_extension_outputs_are_never_followed(
    engine: EngineEnv,
    example_builder: tuple[str, str],
    hostile: tuple[Cli, Sentinels],
    tmp_path: Path,
    script: Callable[[Path], dict[str, str]],
    code: int,
    message: str,
) -> None:
    cli, sentinels = hostile
    evil = write_extension(tmp_path / "evil", "test/evil", "1.0.0", **script(sentinels.root))
    result, name, run_image = extend_builder(engine, cli, example_builder[0], evil)
    assert result.returncode == code, result.stderr  # type: ignore[attr-defined]
    assert message in result.stderr  # type: ignore[attr-defined]
    assert "host secret" not in result.stderr + result.stdout  # type: ignore[attr-defined]
    assert not engine.in_registry(name)
    assert not engine.in_registry(run_image)
    sentinels.assert_untouched()


def test_a_plan_planted_by_detect_is_not_written_through(
    engine: EngineEnv,
    example_builder: tuple[str, str],
    hostile: tuple[Cli, Sentinels],
    tmp_path: Path,
) -> None:
    """Detect tries to leave a link where cnbext writes generate's plan: it cannot write
    there, and generate reads the plan cnbext wrote."""
    cli, sentinels = hostile
    evil = write_extension(
        tmp_path / "evil",
        "test/evil",
        "1.0.0",
        # Where the plan for generate goes is not detect's to write: both tries must fail.
        detect_script=(
            f"#!/bin/sh\nln -s {sentinels.root}/victim /cnbext/out/plan.toml 2>/dev/null\n"
            f"ln -s {sentinels.root}/victim /cnbext/out/plan/plan.toml 2>/dev/null\nexit 0\n"
        ),
        generate_script=generate_script(
            ("run.Dockerfile", 'ARG base_image\nFROM ${base_image}\nLABEL io.cnbext.test.p="1"\n')
        )
        + 'grep -q entries "$CNB_BP_PLAN_PATH"\n',  # generate got the plan cnbext wrote
    )
    result, _, _ = extend_builder(engine, cli, example_builder[0], evil)
    assert result.returncode == 0, result.stderr  # type: ignore[attr-defined]
    sentinels.assert_untouched()


def test_a_static_generate_folder_with_absolute_links_is_refused(
    engine: EngineEnv,
    example_builder: tuple[str, str],
    hostile: tuple[Cli, Sentinels],
    tmp_path: Path,
) -> None:
    cli, sentinels = hostile
    context = tmp_path / "ext-image"
    root = context / "cnb" / "extensions" / "test_static" / "1.0.0"
    write_extension(root, "test/static", "1.0.0", detect_script=None)
    (root / "generate" / "context").mkdir(parents=True)
    (root / "generate" / "build.Dockerfile").write_text(
        "ARG base_image\nFROM ${base_image}\nCOPY . /stolen\n"
    )
    (root / "generate" / "context" / "config.json").symlink_to(sentinels.root / "victim")
    _decoy(context, sentinels)
    image = _push_image(engine, context, "evil-static-extension")
    result, name, _ = extend_builder(engine, cli, example_builder[0], f"docker://{image}")
    assert result.returncode == 3, result.stderr  # type: ignore[attr-defined]
    assert "symlink to the absolute path" in result.stderr  # type: ignore[attr-defined]
    assert not engine.in_registry(name)
    sentinels.assert_untouched()


def test_extension_containers_get_memory_pids_and_time_limits(
    engine: EngineEnv, example_builder: tuple[str, str], cnbext: Cli, tmp_path: Path
) -> None:
    probe = (
        "p=$(cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max)\n"
        "m=$(cat /sys/fs/cgroup/memory.max 2>/dev/null "
        "|| cat /sys/fs/cgroup/memory/memory.limit_in_bytes)\n"
        "c=$(grep CapEff /proc/self/status | tr -d ' \\t' | cut -d: -f2)\n"
        "n=$(grep NoNewPrivs /proc/self/status | tr -d ' \\t' | cut -d: -f2)\n"
        'printf \'ARG base_image\\nFROM ${base_image}\\nLABEL io.cnbext.test.pids="%s" '
        'io.cnbext.test.memory="%s" io.cnbext.test.caps="%s" io.cnbext.test.nnp="%s"\\n\' '
        '"$p" "$m" "$c" "$n" >"$CNB_OUTPUT_DIR/build.Dockerfile"\n'
    )
    ext = write_extension(
        tmp_path / "probe", "test/probe", "1.0.0", generate_script="#!/bin/sh\n" + probe
    )
    cnbext.write("extend-builder.toml", extend_builder_config(example_builder[0], ext))
    cnbext.env["CNBEXT_EXTENSION_PIDS"] = "300"
    name = engine.name("limits")
    cnbext("extend-builder", name, "-e", "extend-builder.toml", check=True)
    labels = engine.labels(name)
    assert labels["io.cnbext.test.pids"] == "300"
    assert labels["io.cnbext.test.memory"] == str(2 << 30)  # the default
    assert labels["io.cnbext.test.caps"] == "0000000000000000"  # --cap-drop ALL
    assert labels["io.cnbext.test.nnp"] == "1"  # no-new-privileges


@pytest.mark.parametrize("value", ["nan", "inf", "0"])
def test_a_timeout_that_would_disable_itself_is_refused(
    engine: EngineEnv, example_builder: tuple[str, str], cnbext: Cli, tmp_path: Path, value: str
) -> None:
    ext = write_extension(tmp_path / "ext", "test/ext", "1.0.0")
    cnbext.write("extend-builder.toml", extend_builder_config(example_builder[0], ext))
    cnbext.env["CNBEXT_EXTENSION_TIMEOUT"] = value
    name = engine.name("nan")
    result = cnbext("extend-builder", name, "-e", "extend-builder.toml")
    assert result.returncode == 2, result.stderr
    assert "CNBEXT_EXTENSION_TIMEOUT" in result.stderr
