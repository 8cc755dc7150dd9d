"""Extension steps chained inside BuildKit, per platform, with nothing left in the daemon:
real builds, run under emulation for the foreign platform."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from cnbext.cnb.sbom import SBOM_LABEL
from tests.engine.conftest import EXAMPLES, Cli, EngineEnv, extend_toml, layers_rebasable
from tests.fixtures.buildpacks import write_extension

pytestmark = pytest.mark.engine

PLATFORMS = ("--platform", "linux/amd64", "--platform", "linux/arm64")
RESTORE_USER = "ARG user_id\nARG group_id\nUSER ${user_id}:${group_id}\n"
# Heredocs whose bodies have lines starting with FROM: text to BuildKit, not instructions.
ARCH_RUN = (
    "ARG base_image\nFROM ${base_image}\nARG build_id=0\nUSER root\n"
    "RUN <<EOF\nuname -m > /etc/cnbext-ext-arch\nEOF\n"
    "COPY <<EOF /etc/cnbext-heredoc\nFROM here on, just text\nEOF\n"
    'LABEL "io.buildpacks.rebasable"="true"\n' + RESTORE_USER
)
ARCH_BUILD = ARCH_RUN.replace("/etc/cnbext-ext-arch", "/etc/cnbext-build-arch")


def static_extension(root: Path, ext_id: str, **files: str) -> Path:
    """An extension without bin/: detect passes, generate/ holds ``files``."""
    dest = write_extension(root / ext_id.replace("/", "_"), ext_id, "1.0.0", detect_script=None)
    (dest / "generate").mkdir()
    for name, text in files.items():
        (dest / "generate" / name.replace("_", ".")).write_text(text)
    return dest


def run_on(engine: EngineEnv, image: str, platform: str, command: str) -> list[str]:
    output = engine.docker.run(
        image, ["sh", "-c", command], platform=platform, pull="always", remove=True
    )
    return str(output).split()


def history(engine: EngineEnv, reference: str) -> list[str]:
    return subprocess.run(
        ["docker", "image", "history", "--no-trunc", "--format", "{{.CreatedBy}}", reference],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()


def names_added(before: set[str], after: set[str]) -> set[str]:
    """The names a command added to the daemon. The daemon is shared with other work, so
    only this suite's own images are checked for removal."""
    gone = {line for line in before - after if " localhost:5000/cnbext-" in line}
    assert gone == set(), "an image the user had is gone"
    return {line.split(" ", 1)[1] for line in after - before}


def test_two_platform_publish_runs_each_platforms_binaries_and_reruns_identically(
    engine: EngineEnv, cnbext: Cli, tmp_path: Path
) -> None:
    if engine.multiarch_run_image is None:
        pytest.skip("the engine has no linux/arm64 emulation (make engine sets it up on Debian)")
    ext = static_extension(tmp_path, "test/arch", run_Dockerfile=ARCH_RUN)
    cnbext.write(
        "extend.toml",
        extend_toml(engine.multiarch_run_image, 'packages = ["jq"]\nrebasable = true\n'),
    )
    name = engine.name("arch")
    args = (
        "extend",
        name,
        "-c",
        "extend.toml",
        "--publish",
        *PLATFORMS,
        "--extension",
        str(ext),
    )
    before = engine.image_list()
    first = cnbext(*args, "--build-id", "1", "-o", "json")
    assert first.returncode == 0, first.stderr
    # BuildKit's docker driver keeps a pushed image under its name: nothing else is added.
    assert names_added(before, engine.image_list()) <= {name}
    (image,) = json.loads(first.stdout)["images"]
    assert layers_rebasable(image["labels"]) is True  # the quoted LABEL form
    for platform, arch in (("linux/amd64", "x86_64"), ("linux/arm64", "aarch64")):
        command = "uname -m; cat /etc/cnbext-ext-arch; id -u; jq --version; cat /etc/cnbext-heredoc"
        out = run_on(engine, name, platform, command)
        assert out[:3] == [arch, arch, "1001"], platform
        assert out[3].startswith("jq-")
        assert out[4:] == ["FROM", "here", "on,", "just", "text"]
    configs = engine.registry_config(name)
    for config in configs.values():
        entries = [h.get("created_by", "") for h in config["history"]]
        assert any(e.endswith("Created by extension: test/arch") for e in entries)
        # The SBOM layer is on by default, one per platform: the re-run below republishes
        # each platform's image under a name that already names the index holding it.
        assert config["rootfs"]["diff_ids"][-1] == config["config"]["Labels"][SBOM_LABEL]
    sbom_layers = {c["config"]["Labels"][SBOM_LABEL] for c in configs.values()}
    assert len(sbom_layers) == 2, "each platform has its own SBOM document"
    again = cnbext(*args, "--build-id", "1", "-o", "json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["images"][0]["digest"] == image["digest"]


def test_a_multiarch_builder_from_create_builder_and_extend_builder(
    engine: EngineEnv, builder_cli: Cli, tmp_path: Path
) -> None:
    if engine.multiarch_run_image is None or engine.multiarch_build_image is None:
        pytest.skip("the engine has no linux/arm64 emulation (make engine sets it up on Debian)")
    ext = static_extension(
        tmp_path, "test/arch", build_Dockerfile=ARCH_BUILD, run_Dockerfile=ARCH_RUN
    )
    text = (EXAMPLES / "builder.toml").read_text()
    text = text.replace('uri = "buildpacks/', f'uri = "{EXAMPLES}/buildpacks/')
    text = text.replace(
        "cnbext-examples/build:bookworm", "cnbext-examples/build-multiarch:bookworm"
    )
    text = text.replace("cnbext-examples/run:bookworm", "cnbext-examples/run-multiarch:bookworm")
    builder_cli.write("builder.toml", text + f'\n[[extend.extensions]]\nuri = "{ext}"\n')
    builder, run_image = engine.name("mb"), engine.name("mb-run")
    before = engine.image_list()
    created = builder_cli(
        "create-builder", builder, "-c", "builder.toml", "--run-image", run_image, "--publish",
        *PLATFORMS,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert names_added(before, engine.image_list()) <= {builder, run_image}
    for platform, arch in (("linux/amd64", "x86_64"), ("linux/arm64", "aarch64")):
        assert run_on(engine, builder, platform, "uname -m; cat /etc/cnbext-build-arch") == [
            arch,
            arch,
        ]
        assert run_on(engine, run_image, platform, "uname -m; cat /etc/cnbext-ext-arch") == [
            arch,
            arch,
        ]
    # inspect reads one platform's config of each index: it names every platform's packages.
    for image, package in ((builder, "tree"), (run_image, "jq")):
        shown = json.loads(builder_cli("inspect", image, "-o", "json", check=True).stdout)
        added = {
            platform: {(p["name"], p["architecture"]) for p in change["added"]}
            for platform, change in shown["packages"].items()
        }
        assert added.keys() == {"linux/amd64", "linux/arm64"}, image
        assert (package, "arm64") in added["linux/arm64"] and (package, "amd64") in added[
            "linux/amd64"
        ]
    # Extend that builder again, as a second party would.
    ext2 = static_extension(
        tmp_path,
        "test/arch2",
        build_Dockerfile=ARCH_BUILD.replace("cnbext-build-arch", "cnbext-build-arch2"),
        run_Dockerfile=ARCH_RUN.replace("cnbext-ext-arch", "cnbext-ext-arch2"),
    )
    builder_cli.write("extend-builder.toml", f'[extend]\nimage = "{builder}"\n')
    builder2, run2 = engine.name("mb2"), engine.name("mb2-run")
    before = engine.image_list()
    extended = builder_cli(
        "extend-builder", builder2, "-e", "extend-builder.toml", "--run-image", run2,
        "--publish", "--extension", str(ext2), *PLATFORMS,
    )  # fmt: skip
    assert extended.returncode == 0, extended.stderr
    assert names_added(before, engine.image_list()) <= {builder2, run2}
    for platform, arch in (("linux/amd64", "x86_64"), ("linux/arm64", "aarch64")):
        files = "cat /etc/cnbext-build-arch /etc/cnbext-build-arch2"
        assert run_on(engine, builder2, platform, f"uname -m; {files}") == [arch, arch, arch]
        files = "cat /etc/cnbext-ext-arch /etc/cnbext-ext-arch2"
        assert run_on(engine, run2, platform, f"uname -m; {files}") == [arch, arch, arch]


def test_loaded_results_stay_usable_and_the_daemon_gains_only_the_names(
    engine: EngineEnv, cnbext: Cli, tmp_path: Path
) -> None:
    """The sequence that once lost blobs: images BuildKit loaded, one of them removed, then
    builds FROM the others. With no images in between, every step keeps working."""
    ext = static_extension(tmp_path, "test/arch", run_Dockerfile=ARCH_RUN)
    first, second, third = engine.name("gc-a"), engine.name("gc-b"), engine.name("gc-c")

    def extend(name: str, base: str, build_id: str) -> None:
        cnbext.write("extend.toml", extend_toml(base, 'packages = ["jq"]\n'))
        before = engine.image_list()
        result = cnbext(
            "extend", name, "-c", "extend.toml", "--extension", str(ext), "--build-id", build_id
        )
        assert result.returncode == 0, result.stderr
        assert names_added(before, engine.image_list()) <= {name}

    extend(first, engine.run_image, "1")
    image_id = engine.docker.image.inspect(first).id
    extend(first, engine.run_image, "1")  # the same again: the same image
    assert engine.docker.image.inspect(first).id == image_id
    extend(second, first, "2")
    engine.docker.image.remove(first)
    extend(third, second, "3")
    extend(first, engine.run_image, "1")  # and back, from the cache
    assert engine.docker.image.inspect(first).id == image_id
    for name in (second, third):
        assert engine.run(name, "cat /etc/cnbext-ext-arch; jq --version | head -c 3").split() == [
            "x86_64",
            "jq-",
        ]
    assert sum(e.endswith("Created by extension: test/arch") for e in history(engine, third)) >= 3


def test_switching_run_dockerfile_gets_the_switched_to_images_user(
    engine: EngineEnv, cnbext: Cli, tmp_path: Path
) -> None:
    # A run image with another user than the one being extended (1001:1000).
    other = engine.name("other-user")
    context = tmp_path / "other"
    context.mkdir()
    (context / "Dockerfile").write_text(
        f"FROM {engine.run_image}\nUSER root\n"
        "RUN groupadd -g 1234 other && useradd -u 1234 -g 1234 other\nUSER 1234:1234\n"
    )
    engine.docker.buildx.build(context, tags=[other], push=True, provenance=False, network="host")
    switch = static_extension(
        tmp_path,
        "test/switch",
        run_Dockerfile=f"FROM {other}\nUSER root\nRUN echo switched > /etc/switched\n"
        + RESTORE_USER,
    )
    after = static_extension(
        tmp_path,
        "test/after",
        run_Dockerfile="ARG base_image\nFROM ${base_image}\nUSER root\n"
        "RUN id -u > /etc/after-uid-was-root\n" + RESTORE_USER,
    )
    name = engine.name("switched")
    cnbext.write("extend.toml", extend_toml(engine.run_image, ""))
    result = cnbext(
        "extend", name, "-c", "extend.toml", "--extension", str(switch), "--extension", str(after)
    )
    assert result.returncode == 0, result.stderr
    assert engine.docker.image.inspect(name).config.user == "1234:1234"
    assert engine.run(name, "id -u; id -g; cat /etc/switched").split() == [
        "1234",
        "1234",
        "switched",
    ]
    labels = engine.labels(name)
    assert layers_rebasable(labels) is False  # neither Dockerfile says so
    assert json.loads(labels["io.buildpacks.extend.metadata"])["extensions"] == [
        {"id": "test/switch", "version": "1.0.0"},
        {"id": "test/after", "version": "1.0.0"},
    ]


def test_rebasable_is_read_from_each_built_step_and_reset_before_each(
    engine: EngineEnv, cnbext: Cli, tmp_path: Path
) -> None:
    arg_expanded = static_extension(
        tmp_path,
        "test/arg-label",
        run_Dockerfile="ARG base_image\nFROM ${base_image}\nARG rebasable=true\n"
        "LABEL io.buildpacks.rebasable=${rebasable}\n",
    )
    quoted = static_extension(
        tmp_path,
        "test/quoted-label",
        run_Dockerfile='ARG base_image\nFROM ${base_image}\nLABEL io.buildpacks.rebasable="True"\n',
    )
    silent = static_extension(
        tmp_path,
        "test/silent",
        run_Dockerfile="ARG base_image\nFROM ${base_image}\nLABEL io.cnbext.test=x\n",
    )
    rebasable, inherited = engine.name("rebasable"), engine.name("inherited")
    cnbext.write("extend.toml", extend_toml(engine.run_image, ""))
    both = ("--extension", str(arg_expanded), "--extension", str(quoted))
    cnbext("extend", rebasable, "-c", "extend.toml", *both, check=True)
    assert layers_rebasable(engine.labels(rebasable)) is True
    # The steps' labels went to the provenance: the image has its base's (none).
    assert "io.buildpacks.rebasable" not in engine.labels(rebasable)
    # On an image labelled rebasable, a Dockerfile that does not say so makes it false: the
    # label is reset before each run.Dockerfile, so the inherited value does not count; the
    # image keeps the label its base had.
    subprocess.run(
        ["docker", "buildx", "build", "-q", "--load", "-t", rebasable, "-"],
        input=f"FROM {rebasable}\nLABEL io.buildpacks.rebasable=true\n",
        text=True, check=True, capture_output=True,
    )  # fmt: skip
    cnbext.write("extend.toml", extend_toml(rebasable, ""))
    cnbext("extend", inherited, "-c", "extend.toml", "--extension", str(silent), check=True)
    labels = engine.labels(inherited)
    assert layers_rebasable(labels) is False
    assert labels["io.buildpacks.rebasable"] == "true"  # its base's, untouched
    assert labels["io.cnbext.test"] == "x"


@pytest.mark.usefixtures("default_sigint")
def test_ctrl_c_during_a_step_leaves_no_scratch_and_no_image(
    engine: EngineEnv, cnbext: Cli, tmp_path: Path
) -> None:
    slow = static_extension(
        tmp_path,
        "test/slow",
        run_Dockerfile="ARG base_image\nFROM ${base_image}\nARG build_id=0\n"
        "RUN echo cnbext-step-started && sleep 60\n",
    )
    cnbext.write("extend.toml", extend_toml(engine.run_image, ""))
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    before = engine.image_list()
    # A terminal's Ctrl-C reaches the whole foreground process group: cnbext and buildx.
    process = subprocess.Popen(
        [sys.executable, "-m", "cnbext", "extend", engine.name("interrupted"), "-c", "extend.toml",
         "--extension", str(slow), "-v"],
        cwd=cnbext.workdir, env={**cnbext.env, "TMPDIR": str(scratch)},
        stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    assert process.stderr is not None
    for line in process.stderr:
        if "cnbext-step-started" in line and "echo" not in line:
            break
    os.killpg(process.pid, signal.SIGINT)
    process.communicate(timeout=120)
    assert process.returncode == 130
    assert list(scratch.iterdir()) == []
    assert engine.image_list() == before
