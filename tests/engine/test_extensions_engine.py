"""Image extensions applied ahead of time by `cnbext extend-builder`, against a real engine:
one test per extender rule, and each kind of bad extension."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import tomllib
from pathlib import Path

import pytest

from cnbext.engine.models import PhaseRun
from cnbext.engine.phases import run_phase
from tests.engine.conftest import EXAMPLES, Cli, EngineEnv, label_json, layers_rebasable
from tests.fixtures.buildpacks import write_extension

pytestmark = pytest.mark.engine

EXTENSIONS = EXAMPLES / "extensions"
RESTORE_USER = "ARG user_id\nARG group_id\nUSER ${user_id}:${group_id}\n"


def config(builder: str, *uris: Path | str) -> str:
    text = f'[extend]\nimage = "{builder}"\n'
    for uri in uris:
        text += f'\n[[extend.extensions]]\nuri = "{uri}"\n'
    return text


def generate_script(*files: tuple[str, str]) -> str:
    """A bin/generate that writes each (name, content) into $CNB_OUTPUT_DIR."""
    lines = ["#!/bin/sh", "set -eu"]
    for name, content in files:
        lines.append(f'mkdir -p "$(dirname "$CNB_OUTPUT_DIR/{name}")"')
        lines.append(f"cat >\"$CNB_OUTPUT_DIR/{name}\" <<'EOF'\n{content}EOF")
    return "\n".join(lines) + "\n"


def run(
    cnbext: Cli,
    builder: str,
    *extensions: Path,
    run_image: str | None = None,
    extra: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[str]:
    cnbext.write("extend-builder.toml", config(builder, *extensions))
    args = ["extend-builder", builder + "-x", "-e", "extend-builder.toml", *extra]
    if run_image is not None:
        args += ["--run-image", run_image]
    return cnbext(*args)


def test_example_extensions_install_into_the_builder_and_extend_the_run_image(
    engine: EngineEnv, example_builder: tuple[str, str], cnbext: Cli
) -> None:
    builder = engine.name("ext-builder")
    run_image = engine.name("ext-run")
    cnbext.write(
        "extend-builder.toml",
        config(
            example_builder[0],
            EXTENSIONS / "curl",
            EXTENSIONS / "run-motd",
            EXTENSIONS / "switch-run",
        ),
    )
    result = cnbext(
        "extend-builder", builder, "-e", "extend-builder.toml", "--run-image", run_image
    )
    assert result.returncode == 0, result.stderr
    # curl's build.Dockerfile went to the builder, which is back to the CNB user.
    assert engine.run(builder, "id -u; curl --version | head -c 4").split() == ["1000", "curl"]
    # run-motd's run.Dockerfile: extend-config arg and context.run file; it says rebasable.
    assert engine.run(run_image, "id -u; cat /etc/motd").splitlines() == [
        "1001",
        "Welcome to a run image extended ahead of time by examples/run-motd",
        "hello from a cnbext example extension",
    ]
    assert layers_rebasable(engine.labels(run_image)) is True
    assert "io.buildpacks.rebasable" not in engine.labels(run_image)
    assert label_json(engine, run_image, "io.buildpacks.extend.metadata")["extensions"] == [
        {"id": "examples/run-motd", "version": "0.0.1"}
    ]
    assert label_json(engine, builder, "io.buildpacks.extend.metadata")["extensions"] == [
        {"id": "examples/curl", "version": "0.0.1"}
    ]
    # Each new history entry names its extension, as the lifecycle's extender writes it; the
    # run image's own history is left as it was.
    history = subprocess.run(
        ["docker", "image", "history", "--no-trunc", "--format", "{{.CreatedBy}}", run_image],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    named = [h for h in history if h.endswith("Created by extension: examples/run-motd")]
    assert (
        "Layer: 'COPY motd /etc/motd # buildkit', Created by extension: examples/run-motd" in named
    )
    assert "USER 1001:1000" in history  # from the example stack, not renamed
    assert not any("examples/curl" in h for h in history)
    # switch-run's detect exits 100 without the platform env: it does not apply, no error.
    assert "examples/switch-run@0.0.1 does not apply" in result.stderr
    assert (
        label_json(engine, builder, "io.buildpacks.builder.metadata")["images"][0]["image"]
        == run_image
    )


def test_a_run_image_switch_ignores_earlier_run_dockerfiles_and_is_named_by_the_builder(
    engine: EngineEnv, example_builder: tuple[str, str], cnbext: Cli
) -> None:
    builder, run_image = engine.name("switch-builder"), engine.name("switch-run")
    cnbext.write(
        "extend-builder.toml",
        config(example_builder[0], EXTENSIONS / "run-motd", EXTENSIONS / "switch-run"),
    )
    result = cnbext(
        "extend-builder",
        builder,
        "-e",
        "extend-builder.toml",
        "--run-image",
        run_image,
        "--env",
        "BP_SWITCH_RUN_IMAGE=true",
    )
    assert result.returncode == 0, result.stderr
    assert "run.Dockerfile of examples/run-motd is ignored" in result.stderr
    labels = engine.labels(run_image)
    assert labels["io.cnbext.examples.variant"] == "alt"  # the image switched to
    assert labels["io.cnbext.examples.switched-by"] == "examples/switch-run"
    assert layers_rebasable(labels) is False  # the switching Dockerfile does not say so
    assert "io.buildpacks.rebasable" not in labels  # the switched-to image has none
    assert "Welcome" not in engine.run(run_image, "cat /etc/motd")
    assert json.loads(labels["io.buildpacks.extend.metadata"]) == {
        "extensions": [{"id": "examples/switch-run", "version": "0.0.1"}]
    }
    assert (
        label_json(engine, builder, "io.buildpacks.builder.metadata")["images"][0]["image"]
        == run_image
    )


def test_detect_and_generate_get_the_spec_environment(
    engine: EngineEnv, example_builder: tuple[str, str], cnbext: Cli, tmp_path: Path
) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "marker.txt").write_text("from the app dir")
    probe = write_extension(
        tmp_path / "probe",
        "test/env-probe",
        "1.0.0",
        detect_script=(
            "#!/bin/sh\nset -eu\n"
            'printf "[[provides]]\\nname = \\"probe\\"\\n" >"$CNB_BUILD_PLAN_PATH"\n'
        ),
        generate_script="""#!/bin/sh
set -eu
mkdir -p "$CNB_OUTPUT_DIR/context"
{
  id -u; pwd; echo "$CNB_EXTENSION_DIR"; echo "$CNB_PLATFORM_DIR"
  cat "$CNB_PLATFORM_DIR/env/GREETING"; echo
  echo "$CNB_TARGET_OS"; echo "$CNB_TARGET_ARCH"
  echo "$CNB_TARGET_DISTRO_NAME"; echo "$CNB_TARGET_DISTRO_VERSION"
  cat marker.txt; echo
} >"$CNB_OUTPUT_DIR/context/facts.txt"
cp "$CNB_BP_PLAN_PATH" "$CNB_OUTPUT_DIR/context/plan.toml"
cat >"$CNB_OUTPUT_DIR/build.Dockerfile" <<'DOCKERFILE'
ARG base_image
FROM ${base_image}
COPY facts.txt plan.toml /cnbext-test/
DOCKERFILE
""",
    )
    cnbext.write(
        "extend-builder.toml",
        config(example_builder[0], probe) + '[extend.extensions.metadata]\nflavour = "vanilla"\n',
    )
    name = engine.name("env-probe")
    result = cnbext(
        "extend-builder",
        name,
        "-e",
        "extend-builder.toml",
        "--env",
        "GREETING=hi=there",
        "--app",
        str(app),
    )
    assert result.returncode == 0, result.stderr
    facts = engine.run(name, "cat /cnbext-test/facts.txt").splitlines()
    assert facts == [
        "1000",
        "/workspace",
        "/cnb/extensions/test_env-probe/1.0.0",
        "/platform",
        "hi=there",  # split on the first '=' only
        "linux",
        "amd64",
        "debian",
        "12",
        "from the app dir",
    ]
    plan = tomllib.loads(engine.run(name, "cat /cnbext-test/plan.toml"))
    assert plan == {"entries": [{"name": "probe", "metadata": {"flavour": "vanilla"}}]}


def test_each_dockerfile_gets_a_fresh_build_id_unless_pinned_and_the_previous_user(
    engine: EngineEnv, example_builder: tuple[str, str], cnbext: Cli, tmp_path: Path
) -> None:
    dockerfile = (
        "ARG base_image\nFROM ${base_image}\nARG build_id=0\nARG user_id\nARG group_id\n"
        'LABEL io.cnbext.test.NAME="${build_id} ${user_id}:${group_id}"\n'
    )
    first = write_extension(
        tmp_path / "a",
        "test/a",
        "1.0.0",
        generate_script=generate_script(("build.Dockerfile", dockerfile.replace("NAME", "a"))),
    )
    second = write_extension(
        tmp_path / "b",
        "test/b",
        "1.0.0",
        generate_script=generate_script(("build.Dockerfile", dockerfile.replace("NAME", "b"))),
    )
    cnbext.write("extend-builder.toml", config(example_builder[0], first, second))
    name = engine.name("build-ids")
    cnbext("extend-builder", name, "-e", "extend-builder.toml", check=True)
    labels = engine.labels(name)
    (id_a, user_a), (id_b, user_b) = (labels[f"io.cnbext.test.{n}"].split() for n in "ab")
    assert user_a == user_b == "1000:1000"
    assert id_a != id_b and len(id_a) == 36  # a UUID per Dockerfile
    pinned = engine.name("build-ids-pinned")
    cnbext("extend-builder", pinned, "-e", "extend-builder.toml", "--build-id", "pin-1", check=True)
    labels = engine.labels(pinned)
    assert [labels[f"io.cnbext.test.{n}"].split()[0] for n in "ab"] == ["pin-1", "pin-1"]


def test_static_detect_and_generate_folders(
    engine: EngineEnv, example_builder: tuple[str, str], cnbext: Cli, tmp_path: Path
) -> None:
    static = write_extension(tmp_path / "static", "test/static", "1.0.0", detect_script=None)
    (static / "generate").mkdir()
    (static / "generate" / "build.Dockerfile").write_text(
        'ARG base_image\nFROM ${base_image}\nLABEL io.cnbext.test.static="yes"\n'
    )
    cnbext.write("extend-builder.toml", config(example_builder[0], static))
    name = engine.name("static")
    cnbext("extend-builder", name, "-e", "extend-builder.toml", check=True)
    assert engine.labels(name)["io.cnbext.test.static"] == "yes"


BAD = {
    "detect exits 1": (
        {"detect_script": "#!/bin/sh\necho broken >&2\nexit 1\n"},
        21,
        "detect exited 1",
    ),
    "plan with requires": (
        {
            "detect_script": '#!/bin/sh\nprintf "[[requires]]\\nname = \\"x\\"\\n" >"$CNB_BUILD_PLAN_PATH"\n'
        },
        22,
        'outputs "requires" which is not allowed',
    ),
    "generate exits non-zero": (
        {"generate_script": "#!/bin/sh\necho nope >&2\nexit 3\n"},
        91,
        "generate exited 3",
    ),
    "reserved arg name": (
        {
            "generate_script": generate_script(
                ("extend-config.toml", '[[build.args]]\nname = "user_id"\nvalue = "0"\n'),
                ("build.Dockerfile", "ARG base_image\nFROM ${base_image}\n"),
            )
        },
        92,
        'test/bad/extend-config.toml:2:8: $.build.args[0].name: arg with name "user_id" is not allowed',
    ),
    "integer value": (
        {
            "generate_script": generate_script(
                ("extend-config.toml", '[[build.args]]\nname = "n"\nvalue = 1\n'),
                ("build.Dockerfile", "ARG base_image\nFROM ${base_image}\n"),
            )
        },
        92,
        "test/bad/extend-config.toml:3:9: $.build.args[0].value: expected a string, found the number 1",
    ),
    "args as a string": (
        {"generate_script": generate_script(("extend-config.toml", '[run]\nargs = "x"\n'))},
        92,
        'test/bad/extend-config.toml:2:8: $.run.args: expected an array, found the string "x"',
    ),
    "args as strings": (
        {"generate_script": generate_script(("extend-config.toml", '[run]\nargs = ["x"]\n'))},
        92,
        'test/bad/extend-config.toml:2:9: $.run.args[0]: expected a table, found the string "x"',
    ),
    "FROM $base_image": (
        {
            "generate_script": generate_script(
                ("build.Dockerfile", "ARG base_image\nFROM $base_image\nRUN true\n")
            )
        },
        92,
        "test/bad/build.Dockerfile:2:6: error: build.Dockerfile did not contain required "
        "FROM ${base_image} command",
    ),
    "unbalanced brace": (
        {
            "generate_script": generate_script(
                ("run.Dockerfile", "ARG base_image\nFROM ${base_image\nRUN true\n")
            )
        },
        92,
        "test/bad/run.Dockerfile:2:6: error: FROM ${base_image: write the base image exactly",
    ),
    "unknown instruction": (
        {
            "generate_script": generate_script(
                ("build.Dockerfile", "ARG base_image\nFROM ${base_image}\nRUNN true\n")
            )
        },
        92,
        "test/bad/build.Dockerfile:3:1: error: unknown instruction: RUNN (did you mean RUN?)",
    ),
    # Dockerfiles BuildKit's parser reads but its instructions.Parse refuses (the lifecycle
    # runs both): refused before any build, at the refused instruction.
    "COPY with one argument": (
        {
            "generate_script": generate_script(
                ("build.Dockerfile", "ARG base_image\nFROM ${base_image}\nCOPY only-one\n")
            )
        },
        92,
        "test/bad/build.Dockerfile:3:1: error: COPY requires at least two arguments, but only "
        "one was provided. Destination could not be determined",
    ),
    "HEALTHCHECK interval under 1ms": (
        {
            "generate_script": generate_script(
                (
                    "run.Dockerfile",
                    "ARG base_image\nFROM ${base_image}\n  HEALTHCHECK --interval=1us CMD true\n",
                )
            )
        },
        92,
        'test/bad/run.Dockerfile:3:15: error: Interval "interval" cannot be less than 1ms',
    ),
    "multi-stage Dockerfile": (
        {
            "generate_script": generate_script(
                (
                    "build.Dockerfile",
                    "ARG base_image\nFROM ${base_image} AS one\nFROM ${base_image}\n",
                ),
            )
        },
        92,
        "test/bad/build.Dockerfile:3:1: error: build.Dockerfile is not permitted to use multistage",
    ),
    "missing ARG base_image": (
        {
            "generate_script": generate_script(
                ("build.Dockerfile", "FROM ${base_image}\nUSER 1000\n")
            )
        },
        92,
        "test/bad/build.Dockerfile:1:1: error: build.Dockerfile did not start with required ARG",
    ),
    "final run image user is root": (
        {
            "generate_script": generate_script(
                ("run.Dockerfile", "ARG base_image\nFROM ${base_image}\nUSER root\n"),
            )
        },
        101,
        "the final user ID is 0 (root)",
    ),
}


@pytest.mark.parametrize(("script", "code", "message"), BAD.values(), ids=BAD.keys())
def test_bad_extensions_fail_with_their_exit_code_and_publish_nothing(
    engine: EngineEnv,
    example_builder: tuple[str, str],
    cnbext: Cli,
    tmp_path: Path,
    script: dict[str, str],
    code: int,
    message: str,
) -> None:
    bad = write_extension(tmp_path / "bad", "test/bad", "1.0.0", **script)
    cnbext.write("extend-builder.toml", config(example_builder[0], bad))
    builder, run_image = engine.name("bad-builder"), engine.name("bad-run")
    images_before = engine.image_list()
    result = cnbext(
        "extend-builder",
        builder,
        "-e",
        "extend-builder.toml",
        "--run-image",
        run_image,
        "--publish",
    )
    assert result.returncode == code, result.stderr
    assert message in result.stderr
    assert "internal error" not in result.stderr
    assert not engine.in_registry(builder)
    assert not engine.in_registry(run_image)
    assert engine.image_list() == images_before  # nothing built into the daemon either


def test_a_detect_that_hangs_is_stopped(
    engine: EngineEnv, example_builder: tuple[str, str], cnbext: Cli, tmp_path: Path
) -> None:
    slow = write_extension(
        tmp_path / "slow", "test/slow", "1.0.0", detect_script="#!/bin/sh\nsleep 60\n"
    )
    cnbext.write("extend-builder.toml", config(example_builder[0], slow))
    cnbext.env["CNBEXT_EXTENSION_TIMEOUT"] = "2"
    result = cnbext("extend-builder", engine.name("slow"), "-e", "extend-builder.toml")
    assert result.returncode == 21
    assert "detect timed out" in result.stderr


def test_an_extension_from_an_image(
    engine: EngineEnv, example_builder: tuple[str, str], cnbext: Cli, tmp_path: Path
) -> None:
    """docker:// sources: an image holding /cnb/extensions/<id>/<version>, as extension
    packages do."""
    import shutil

    context = tmp_path / "ext-image"
    shutil.copytree(EXTENSIONS / "curl", context / "cnb" / "extensions" / "examples_curl" / "0.0.1")
    (context / "Dockerfile").write_text("FROM scratch\nCOPY cnb/ /cnb/\n")
    image = engine.name("curl-extension")
    engine.docker.buildx.build(context, tags=[image], push=True, provenance=False)
    cnbext.write("extend-builder.toml", config(example_builder[0], f"docker://{image}"))
    name = engine.name("from-ext-image")
    cnbext("extend-builder", name, "-e", "extend-builder.toml", check=True)
    assert engine.run(name, "curl --version | head -c 4") == "curl"
    assert label_json(engine, name, "io.buildpacks.extend.metadata")["extensions"] == [
        {"id": "examples/curl", "version": "0.0.1"}
    ]


OVER_THE_CAP = {
    # Writes without end, ignoring the errors: the tmpfs refuses every write past the cap, the
    # deadline ends it, and what it wrote is still measured.
    "a flood": (
        '#!/bin/sh\ni=0\nwhile :; do head -c 200000 /dev/zero > "$CNB_OUTPUT_DIR/f$i"; '
        "i=$((i+1)); done\n",
        "8",
    ),
    # One file of twice the cap: the kernel stops it at the cap, head fails, generate ends.
    "one big file": (
        '#!/bin/sh\nset -e\nhead -c 2000000 /dev/zero > "$CNB_OUTPUT_DIR/big"\n',
        "300",
    ),
}


@pytest.mark.parametrize(("script", "timeout"), OVER_THE_CAP.values(), ids=OVER_THE_CAP.keys())
def test_a_generate_writing_past_the_output_cap_is_stopped(
    engine: EngineEnv,
    example_builder: tuple[str, str],
    cnbext: Cli,
    tmp_path: Path,
    script: str,
    timeout: str,
) -> None:
    flood = write_extension(tmp_path / "flood", "test/flood", "1.0.0", generate_script=script)
    volumes = {v.name for v in engine.docker.volume.list()}
    cnbext.write("extend-builder.toml", config(example_builder[0], flood))
    cnbext.env["CNBEXT_EXTENSION_OUTPUT_BYTES"] = "1000000"
    cnbext.env["CNBEXT_EXTENSION_TIMEOUT"] = timeout
    started = time.monotonic()
    result = cnbext("extend-builder", engine.name("flood"), "-e", "extend-builder.toml")
    assert result.returncode == 91, result.stderr
    assert "generate wrote more than 1000000 bytes to its output and was stopped" in result.stderr
    assert time.monotonic() - started < 60
    assert {v.name for v in engine.docker.volume.list()} == volumes  # the tmpfs is gone


def test_a_build_image_that_would_run_extensions_as_root_is_refused(
    engine: EngineEnv, example_builder: tuple[str, str], cnbext: Cli, tmp_path: Path
) -> None:
    root_run = engine.name("root-run")
    context = tmp_path / "root-run"
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM {example_builder[1]}\nUSER root\n")
    engine.docker.buildx.build(context, tags=[root_run], push=True, provenance=False)
    probe = write_extension(
        tmp_path / "probe", "test/probe", "1.0.0", detect_script="#!/bin/sh\nid -u > /tmp/x\n"
    )
    cnbext.write(
        "extend.toml",
        f'[extend]\nimage = "{root_run}"\n[[extend.extensions]]\nuri = "{probe}"\n',
    )
    result = cnbext("extend", engine.name("root-run-x"), "-c", "extend.toml")
    assert result.returncode == 4, result.stderr
    assert f"{root_run}: image extensions would run as root in it (User 'root')" in result.stderr
    assert "Running test/probe" not in result.stderr


def test_an_image_with_no_cnb_ids_and_an_empty_user_is_refused_before_any_container(
    engine: EngineEnv, cnbext: Cli, tmp_path: Path
) -> None:
    # A plain distro image: no CNB_USER_ID/CNB_GROUP_ID and no User, so its containers would
    # run as root; the planted detect would write a sentinel into the app folder if it ran.
    plain = "localhost:5000/fixtures/debian:bookworm"
    assert engine.docker.image.inspect(plain).config.user in ("", None)
    app = tmp_path / "app"
    app.mkdir()
    probe = write_extension(
        tmp_path / "probe",
        "test/probe",
        "1.0.0",
        detect_script=f"#!/bin/sh\ntouch {app}/ran-as-root\n",
    )
    cnbext.write(
        "extend.toml", f'[extend]\nimage = "{plain}"\n[[extend.extensions]]\nuri = "{probe}"\n'
    )
    result = cnbext("extend", engine.name("plain-x"), "-c", "extend.toml")
    assert result.returncode == 4, result.stderr
    assert (
        f"{plain}: image extensions would run as root in it "
        "(no CNB_USER_ID/CNB_GROUP_ID and an empty User)"
    ) in result.stderr
    assert "Running test/probe" not in result.stderr
    assert not (app / "ran-as-root").exists()


PLAIN = "localhost:5000/fixtures/debian:bookworm"


def _phase(tmp_path: Path, script: str, *, timeout: float = 60) -> tuple[PhaseRun, Path]:
    out = tmp_path / "out"
    out.mkdir()
    run = PhaseRun(
        image=PLAIN,
        command=("/bin/sh", "-c", script),
        env={"OUT": "/cnbext/out/generate"},
        mounts=((out, "/cnbext/out/generate", False),),
        user="1001:1000",
        workdir="/",
        timeout=timeout,
        output=out,
        output_bytes=1 << 20,
    )
    return run, out


def _phase_leftovers(engine: EngineEnv) -> tuple[set[str], list[str]]:
    volumes = {v.name for v in engine.docker.volume.list()}
    containers = [c.name for c in engine.docker.container.list(all=True)]
    return volumes, [c for c in containers if c.startswith("cnbext-phase-")]


def test_what_a_phase_writes_as_its_uid_reaches_the_host_as_cnbexts_own_files(
    engine: EngineEnv, tmp_path: Path
) -> None:
    # The phase runs as 1001 and makes a folder only 1001 could empty; on the host every file
    # is cnbext's own (copied out of the tmpfs), links are kept as written, nothing is left.
    volumes_before, _ = _phase_leftovers(engine)
    run, out = _phase(
        tmp_path,
        'mkdir -m 700 "$OUT/private" && echo secret > "$OUT/private/f" && chmod 400 '
        '"$OUT/private/f" && ln -s /etc/passwd "$OUT/link" && id -u > "$OUT/uid"',
    )
    result = run_phase(engine.docker, run, None)
    assert (result.exit_code, result.timed_out, result.over_output) == (0, False, False)
    assert (out / "uid").read_text() == "1001\n"  # it did run as the CNB user
    assert (out / "link").readlink() == Path("/etc/passwd")
    assert (out / "private" / "f").read_text() == "secret\n"
    owners = {p.lstat().st_uid for p in [out / "link", out / "private", out / "private" / "f"]}
    assert owners == {os.getuid()}
    shutil.rmtree(out)  # as cnbext's work folder removal does: nothing refuses
    volumes_after, phase_containers = _phase_leftovers(engine)
    assert volumes_after == volumes_before and phase_containers == []


def test_a_phase_past_its_deadline_is_stopped_with_what_it_wrote(
    engine: EngineEnv, tmp_path: Path
) -> None:
    run, out = _phase(tmp_path, 'echo early > "$OUT/early"; (sleep 300 &); sleep 300', timeout=2)
    started = time.monotonic()
    result = run_phase(engine.docker, run, None)
    assert time.monotonic() - started < 30
    assert result.timed_out and result.exit_code is None
    assert (out / "early").read_text() == "early\n"
    assert _phase_leftovers(engine)[1] == []
