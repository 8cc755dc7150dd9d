"""Differential check: one run-image extension, ahead of time by cnbext and at build time by the
real lifecycle's extender.

The run-marker extension (tests/fixtures/lifecycle-apps/run-marker) is applied (a) by
`cnbext extend` to the example run image and (b) by the lifecycle 0.21.17: a builder that
cnbext made packages it, the detector generates its run.Dockerfile, the restorer caches the run
image for kaniko, the extender (`-kind run`, as root in a container of the run image with the
lifecycle in it, as pack runs it) applies it, and the exporter puts the app on the result. The
two run images then agree on their file tree (paths, modes, owners, sizes, link targets and
content) and user; what differs by design is checked to differ so: the app's own folders
(/cnb, /layers, /workspace), cnbext's io.cnbext.provenance and io.buildpacks.extend.metadata
labels, and io.buildpacks.rebasable (the extender marks the app "false"; cnbext records its
judgement in its provenance, see docs/extensions.md).
"""

from __future__ import annotations

import json
import subprocess
import tarfile
from pathlib import Path

import pytest

from tests.engine.conftest import Cli, EngineEnv, layers_rebasable
from tests.fixtures.lifecycle_run import (
    Daemon,
    app_config,
    phase_dirs,
    phase_steps,
    run_app,
    run_phase,
)
from tests.fixtures.real_lifecycle import (
    LIFECYCLE_APPS,
    RealLifecycle,
    builder_toml,
    extension_toml,
)

pytestmark = pytest.mark.engine

RUN_MARKER = LIFECYCLE_APPS / "run-marker"
EXTENSIONS = extension_toml(RUN_MARKER, "cnbext-tests/run-marker")
EXTEND_LABEL = "io.buildpacks.extend.metadata"
APP_LABELS = {
    "io.buildpacks.build.metadata",
    "io.buildpacks.lifecycle.metadata",
    "io.buildpacks.project.metadata",
}
# The container's own mounts, and the folders only an app has.
SKIPPED = ("/proc", "/sys", "/dev", "/cnb", "/layers", "/workspace")
MOUNTED = ("/etc/hostname", "/etc/hosts", "/etc/resolv.conf", "/.dockerenv")
TREE = (
    "find / -xdev \\( "
    + " -o ".join(f"-path {path}" for path in SKIPPED + MOUNTED)
    + " \\) -prune -o -printf '%p|%M|%U:%G|%s|%l\\n' | sort;"
    " find / -xdev \\( "
    + " -o ".join(f"-path {path}" for path in SKIPPED + MOUNTED)
    + " \\) -prune -o -type f -print0 | sort -z | xargs -0 sha256sum"
)


def file_tree(image: str) -> dict[str, str]:
    """Every path of ``image`` but the skipped ones: mode, owner, size, link target, sha256."""
    out = subprocess.run(
        ["docker", "run", "--rm", "--user", "root", "--entrypoint", "sh", image, "-c", TREE],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    tree: dict[str, str] = {}
    for line in out.splitlines():
        if "|" in line:
            path, rest = line.split("|", 1)
            tree[path] = rest
        else:
            digest, path = line.split(None, 1)
            tree[path] += f"|{digest}"
    return tree


def writable_lifecycle(lifecycle: RealLifecycle, into: Path) -> Path:
    """The release's binaries in a folder of their own: kaniko writes beside the extender (pack
    gives it a run image with the lifecycle layer added, writable in the container)."""
    with tarfile.open(lifecycle.archive("amd64")) as archive:
        archive.extractall(into, filter="tar")
    return into / "lifecycle"


def extended_ahead_of_time(cli: Cli, engine: EngineEnv, daemon: Daemon) -> str:
    name = engine.name("rl-marker-run")
    config = cli.write(
        "extend.toml", f'[extend]\nimage = "{engine.run_image}"\n[[extend.extensions]]\n'
        f'uri = "{RUN_MARKER}"\n',
    )  # fmt: skip
    cli("extend", name, "-c", str(config), "--publish", check=True)
    daemon.note(name)
    return name


def extended_at_build_time(
    cli: Cli, lifecycle: RealLifecycle, engine: EngineEnv, daemon: Daemon, tmp_path: Path
) -> str:
    """The app the five phases and the extender build; returns its name."""
    builder, app = engine.name("rl-marker-builder"), engine.name("rl-marker-app")
    toml = builder_toml(
        lifecycle, engine.build_image, engine.run_image, extend="", extensions=EXTENSIONS
    )
    cli("create-builder", builder, "-c", str(cli.write("b.toml", toml)), "--publish", check=True)
    daemon.note(builder)
    steps = phase_steps(app, [engine.registry])
    source = tmp_path / "app"
    source.mkdir()
    source.chmod(0o755)
    with phase_dirs(source, kaniko=True) as dirs:
        for name in ("analyzer", "detector", "restorer", "builder"):
            args, root = steps[name]
            ran = run_phase(daemon, builder, name, dirs, args, root=root)
        run_image = ran.analyzed["run-image"]
        assert run_image.get("extend") is True  # the detector's run.Dockerfile is to be applied
        present = subprocess.run(["docker", "image", "inspect", run_image["reference"]],
                                 capture_output=True).returncode == 0  # fmt: skip
        if not present:  # the example run image is loaded for every test: keep it
            daemon.note(run_image["reference"])
        mount = ["-v", f"{writable_lifecycle(lifecycle, tmp_path / 'lc')}:/cnb/lifecycle"]
        run_phase(
            daemon, run_image["reference"], "extender", dirs,
            ["-app", "/workspace", "-kind", "run"], root=True, mounts=mount,
        )  # fmt: skip
        args, root = steps["exporter"]
        run_phase(daemon, builder, "exporter", dirs, args, root=root)
    daemon.note(app)
    return app


def test_the_real_extender_and_cnbext_make_the_same_run_image(
    engine: EngineEnv,
    real_cli: tuple[Cli, RealLifecycle],
    daemon: Daemon,
    tmp_path: Path,
) -> None:
    cli, lifecycle = real_cli
    ahead = extended_ahead_of_time(cli, engine, daemon)
    app = extended_at_build_time(cli, lifecycle, engine, daemon, tmp_path)
    assert "hello from a cnbext example builder" in run_app(daemon, app)
    run_app(daemon, ahead, entrypoint="true")  # pulled for file_tree

    ours, theirs = file_tree(ahead), file_tree(app)
    assert ours["/etc/cnbext-marker"].startswith("-rw-r--r--|0:0|")
    assert ours["/opt/marker/made"].startswith("-rw-r-----|1001:1000|5|")
    differing = {
        path: (ours.get(path), theirs.get(path))
        for path in ours.keys() | theirs.keys()
        if ours.get(path) != theirs.get(path)
    }
    assert differing == {}

    ours_config, theirs_config = app_config(ahead)["config"], app_config(app)["config"]
    assert ours_config["User"] == theirs_config["User"]
    ours_labels, theirs_labels = ours_config["Labels"], theirs_config["Labels"]
    shared = ours_labels.keys() & theirs_labels.keys()
    assert {key: ours_labels[key] for key in shared} == {key: theirs_labels[key] for key in shared}
    # By design: cnbext's provenance and its record of the extensions applied; the app's
    # labels; the extender's rebasable "false" on the app, where cnbext records the same
    # judgement in its provenance only.
    assert ours_labels.keys() - shared == {"io.cnbext.provenance", EXTEND_LABEL}
    applied = json.loads(ours_labels[EXTEND_LABEL])["extensions"]
    assert {"id": "cnbext-tests/run-marker", "version": "0.0.1"} in applied
    assert theirs_labels.keys() - shared == APP_LABELS | {"io.buildpacks.rebasable"}
    assert theirs_labels["io.buildpacks.rebasable"] == "false"
    assert layers_rebasable(ours_labels) is False
