"""Differential check: run-image extensions, ahead of time by cnbext and at build time by the
real lifecycle's extender.

Each case's extension is applied (a) by `cnbext extend` to the example run image and (b) by the
lifecycle 0.21.17: a builder that cnbext made packages it, the detector generates its
run.Dockerfile, the restorer caches the run image for kaniko, the extender (`-kind run`, as
root in a container of the run image with the lifecycle in it, as pack runs it) applies it, and
the exporter puts the app on the result. Both get the same platform env (pack's `--env`, a
`/platform/env` folder; cnbext's `--env`). The cases:

- run-marker (tests/fixtures/lifecycle-apps): a COPY from `context.run`, a folder and a file with
  their own mode and owner, the user switched back;
- run-motd (builder-examples/extensions): an `extend-config.toml` build arg taken from the
  platform env, a COPY from `context.run`, and `LABEL io.buildpacks.rebasable=true`;
- switch-run (builder-examples/extensions): a run.Dockerfile whose FROM names another run image
  (the example stack's run-alt), with a LABEL after it: the run image is switched and extended.

The extensions that provide something are kept in the detected group by the requires buildpack
(tests/fixtures/lifecycle-apps/requires). The two run images then agree on their file tree
(paths, modes, owners, sizes, link targets and content), user and shared labels; what differs
by design is checked to differ so: the app's own folders (/cnb, /layers, /workspace), cnbext's
io.cnbext.provenance and io.buildpacks.extend.metadata labels, and io.buildpacks.rebasable (the
extender writes it on the app from the Dockerfiles' labels; cnbext records its judgement in its
provenance, see docs/extensions.md).
"""

from __future__ import annotations

import json
import subprocess
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass, field
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
    EXAMPLES,
    LIFECYCLE_APPS,
    RealLifecycle,
    builder_toml,
    extension_toml,
)

pytestmark = pytest.mark.engine

EXTEND_LABEL = "io.buildpacks.extend.metadata"
REBASABLE = "io.buildpacks.rebasable"
APP_LABELS = {
    "io.buildpacks.build.metadata",
    "io.buildpacks.lifecycle.metadata",
    "io.buildpacks.project.metadata",
}
REQUIRES = LIFECYCLE_APPS / "requires"
# The container's own mounts, and the folders only an app has.
SKIPPED = ("/proc", "/sys", "/dev", "/cnb", "/layers", "/workspace", "/platform")
MOUNTED = ("/etc/hostname", "/etc/hosts", "/etc/resolv.conf", "/.dockerenv")
TREE = (
    "find / -xdev \\( "
    + " -o ".join(f"-path {path}" for path in SKIPPED + MOUNTED)
    + " \\) -prune -o -printf '%p|%M|%U:%G|%s|%l\\n' | sort;"
    " find / -xdev \\( "
    + " -o ".join(f"-path {path}" for path in SKIPPED + MOUNTED)
    + " \\) -prune -o -type f -print0 | sort -z | xargs -0 sha256sum"
)


@dataclass(frozen=True)
class Case:
    """One extension, the platform env both sides get, and what its Dockerfile must have made
    (path: how ``file_tree`` starts it)."""

    folder: Path
    extension_id: str
    env: Mapping[str, str] = field(default_factory=dict)
    requires: str = ""  # what the requires buildpack asks for: keeps the extension in the group
    made: Mapping[str, str] = field(default_factory=dict)
    rebasable: str = "false"  # the io.buildpacks.rebasable the extender gives the app

    @property
    def short(self) -> str:
        return self.extension_id.rsplit("/", 1)[-1]


CASES = [
    Case(
        LIFECYCLE_APPS / "run-marker",
        "cnbext-tests/run-marker",
        made={
            "/etc/cnbext-marker": "-rw-r--r--|0:0|",
            "/opt/marker/made": "-rw-r-----|1001:1000|5|",
        },
    ),
    Case(
        EXAMPLES / "extensions" / "run-motd",
        "examples/run-motd",
        env={"MOTD_GREETING": "hello from the differential check"},
        requires="motd",
        made={"/etc/motd": "-rw-r--r--|0:0|"},
        rebasable="true",
    ),
    Case(
        EXAMPLES / "extensions" / "switch-run",
        "examples/switch-run",
        env={"BP_SWITCH_RUN_IMAGE": "true"},
        requires="alternative-run-image",
    ),
]


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


def extended_ahead_of_time(cli: Cli, engine: EngineEnv, daemon: Daemon, case: Case) -> str:
    name = engine.name(f"rl-{case.short}-run")
    config = cli.write(
        "extend.toml", f'[extend]\nimage = "{engine.run_image}"\n[[extend.extensions]]\n'
        f'uri = "{case.folder}"\n',
    )  # fmt: skip
    env = [arg for key, value in case.env.items() for arg in ("--env", f"{key}={value}")]
    cli("extend", name, "-c", str(config), *env, "--publish", check=True)
    daemon.note(name)
    return name


def case_builder(cli: Cli, lifecycle: RealLifecycle, engine: EngineEnv, case: Case) -> str:
    """A builder packaging the case's extension; with the requires buildpack first in its
    order when the extension provides something."""
    first = (
        f'[[buildpacks]]\nuri = "{REQUIRES}"\n[[order]]\n  [[order.group]]\n'
        '  id = "cnbext-tests/requires"\n  [[order.group]]\n  id = "examples/hello"\n'
        if case.requires
        else ""
    )
    extensions = extension_toml(case.folder, case.extension_id)
    toml = builder_toml(
        lifecycle, engine.build_image, engine.run_image, extend="", extensions=extensions,
        first=first,
    )  # fmt: skip
    builder = engine.name(f"rl-{case.short}-builder")
    cli("create-builder", builder, "-c", str(cli.write("b.toml", toml)), "--publish", check=True)
    return builder


def platform_dir(case: Case, into: Path) -> list[str]:
    """The platform folder pack would mount: the case's env, and what the requires buildpack
    asks for."""
    env = into / "env"
    env.mkdir(parents=True)
    values = {**case.env, **({"CNBEXT_TEST_REQUIRES": case.requires} if case.requires else {})}
    for key, value in values.items():
        (env / key).write_text(value)
    into.chmod(0o755)
    return ["-v", f"{into}:/platform:ro"]


def extended_at_build_time(
    cli: Cli, lifecycle: RealLifecycle, engine: EngineEnv, daemon: Daemon, case: Case, tmp: Path
) -> str:
    """The app the five phases and the extender build; returns its name."""
    builder, app = case_builder(cli, lifecycle, engine, case), engine.name(f"rl-{case.short}-app")
    daemon.note(builder)
    steps, platform = phase_steps(app, [engine.registry]), platform_dir(case, tmp / "platform")
    source = tmp / "app"
    source.mkdir()
    source.chmod(0o755)
    with phase_dirs(source, kaniko=True) as dirs:
        for name in ("analyzer", "detector", "restorer", "builder"):
            args, root = steps[name]
            ran = run_phase(daemon, builder, name, dirs, args, root=root, mounts=platform)
        run_image = ran.analyzed["run-image"]
        assert run_image.get("extend") is True  # the detector's run.Dockerfile is to be applied
        present = subprocess.run(["docker", "image", "inspect", run_image["reference"]],
                                 capture_output=True).returncode == 0  # fmt: skip
        if not present:  # the example run image is loaded for every test: keep it
            daemon.note(run_image["reference"])
        mount = ["-v", f"{writable_lifecycle(lifecycle, tmp / 'lc')}:/cnb/lifecycle", *platform]
        run_phase(
            daemon, run_image["reference"], "extender", dirs,
            ["-app", "/workspace", "-kind", "run"], root=True, mounts=mount,
        )  # fmt: skip
        args, root = steps["exporter"]
        run_phase(daemon, builder, "exporter", dirs, args, root=root, mounts=platform)
    daemon.note(app)
    return app


def differing_paths(ours: dict[str, str], theirs: dict[str, str]) -> dict[str, object]:
    return {
        path: (ours.get(path), theirs.get(path))
        for path in ours.keys() | theirs.keys()
        if ours.get(path) != theirs.get(path)
    }


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.short)
def test_the_real_extender_and_cnbext_make_the_same_run_image(
    engine: EngineEnv,
    real_cli: tuple[Cli, RealLifecycle],
    daemon: Daemon,
    tmp_path: Path,
    case: Case,
) -> None:
    cli, lifecycle = real_cli
    ahead = extended_ahead_of_time(cli, engine, daemon, case)
    app = extended_at_build_time(cli, lifecycle, engine, daemon, case, tmp_path)
    assert "hello from a cnbext example builder" in run_app(daemon, app)
    run_app(daemon, ahead, entrypoint="true")  # pulled for file_tree

    ours, theirs = file_tree(ahead), file_tree(app)
    for path, start in case.made.items():
        assert ours[path].startswith(start), (path, ours[path])
    assert differing_paths(ours, theirs) == {}

    ours_config, theirs_config = app_config(ahead)["config"], app_config(app)["config"]
    assert ours_config["User"] == theirs_config["User"]
    ours_labels, theirs_labels = ours_config["Labels"], theirs_config["Labels"]
    shared = ours_labels.keys() & theirs_labels.keys()
    assert {key: ours_labels[key] for key in shared} == {key: theirs_labels[key] for key in shared}
    # By design: cnbext's provenance and its record of the extensions applied; the app's
    # labels; the extender's rebasable on the app (from the Dockerfiles' labels), where cnbext
    # records the same judgement in its provenance only (a Dockerfile's own label included).
    assert ours_labels.keys() - shared == {"io.cnbext.provenance", EXTEND_LABEL}
    applied = json.loads(ours_labels[EXTEND_LABEL])["extensions"]
    assert {"id": case.extension_id, "version": "0.0.1"} in applied
    assert theirs_labels.keys() - shared == APP_LABELS | {REBASABLE}
    assert theirs_labels[REBASABLE] == case.rebasable
    assert layers_rebasable(ours_labels) is (case.rebasable == "true")
