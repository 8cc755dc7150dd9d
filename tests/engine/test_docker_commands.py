"""The command lines DockerEngine runs, recorded by a stand-in `docker` executable: the docker
context and the buildx builder given reach every call. Not an engine test (nothing is built):
it checks what would be asked of a builder this engine cannot host (a kubernetes one)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from python_on_whales import DockerClient

import cnbext
from cnbext.engine.docker import DockerEngine
from cnbext.engine.extension_steps import BASE_CONTEXT, StepBuild
from cnbext.engine.models import digest_of
from cnbext.engine.settings import EngineSettings
from cnbext.errors import EngineError
from cnbext.plan.model import PullPolicy
from cnbext.progress import SilentReporter
from tests.client.fake_engine import FakeEngine
from tests.client.images import IMAGES, RUN_NAME, extend_toml
from tests.fixtures.oci_registry import push_image, serve_registry

INDEX = "application/vnd.oci.image.index.v1+json"
DIGEST = "sha256:" + "d" * 64

# Answers like docker 28 + buildx with a kubernetes builder; records every argv, one per line.
STAND_IN = f"""#!{sys.executable}
import json, sys
from pathlib import Path
args = sys.argv[1:]
with open(Path(sys.argv[0]).with_suffix(".log"), "a") as log:
    log.write(json.dumps(args) + "\\n")
rest = [a for a in args if a not in ("--context", "far")]
if rest[:1] == ["version"]:
    print("28.2.2")
elif rest[:2] == ["buildx", "inspect"]:
    print("Name:   k8s\\nDriver: kubernetes")
elif rest[:2] == ["buildx", "build"] and any(a.startswith("type=oci,") for a in rest):
    # An extension step or a base exported as an OCI layout: write a small one.
    sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})
    from tests.fixtures.oci_layout import write_layout
    output = next(a for a in rest if a.startswith("type=oci,"))
    dest = dict(part.split("=", 1) for part in output.split(","))["dest"]
    write_layout(Path(dest), {{"linux/amd64": {{"User": "1001:1000", "history": ["base"]}}}})
    print("#1 DONE")
elif rest[:2] == ["buildx", "build"] and "--metadata-file" in rest:
    path = rest[rest.index("--metadata-file") + 1]
    Path(path).write_text(json.dumps({{"containerimage.digest": "{DIGEST}"}}))
    print("#1 DONE")
elif rest[:2] == ["image", "inspect"]:
    print("Error: No such image", file=sys.stderr)
    sys.exit(1)
"""


def engine_with_stand_in(tmp_path: Path) -> tuple[DockerEngine, Path]:
    docker = tmp_path / "docker"
    docker.write_text(STAND_IN)
    docker.chmod(0o755)
    client = DockerClient(context="far", client_call=[str(docker)])
    engine = DockerEngine(SilentReporter(), EngineSettings(builder="k8s"), client=client)
    return engine, tmp_path / "docker.log"


def test_the_context_and_the_builder_reach_every_call(tmp_path: Path) -> None:
    engine, log = engine_with_stand_in(tmp_path)
    engine.ensure_available()
    assert engine.pushes_by_digest()  # a kubernetes builder pushes by digest
    with serve_registry() as served:
        run = push_image(served, "stack/run", [b"run"], tag="1")
        source = engine.locate_image(f"{served.host}/stack/run:1", PullPolicy.IF_NOT_PRESENT)
        # Not the daemon's copy: a kubernetes builder builds from the registry.
        assert source.digest == run.descriptor["digest"] and not source.in_daemon
        facts = engine.read_base(source)
        assert facts.user == "1000:1000"  # the registry's config
        plan = cnbext.extend(
            extend_toml(tmp_path),
            cnbext.ExtendOptions(names=("localhost:5000/x/y:1",), publish=True),
            dry_run=True,
            engine=FakeEngine(IMAGES),
        ).plan
        built = engine.build(plan.builds[0], publish=True, pull=False, by_digest=True)
        assert built.digest == DIGEST and built.names == ()
        pushed = push_image(served, "x/y", [b"app"])
        named = engine.copy_by_digest(
            f"{served.host}/x/y", pushed.descriptor["digest"], f"{served.host}/x/y:1"
        )
        assert served.manifests["x/y"]["1"][0] == INDEX
        assert named == digest_of(served.manifests["x/y"]["1"][1])

    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert all(call[:2] == ["--context", "far"] for call in calls)
    buildx = [call[2:] for call in calls if call[2] == "buildx"]
    # Every buildx call but `version`-like ones names the builder.
    assert all("k8s" in call for call in buildx), buildx
    builds = [call for call in buildx if call[1] == "build"]
    assert len(builds) == 2  # reading the files, then the image
    assert any("push-by-digest=true" in ",".join(call) for call in builds)
    assert not any(call[2:4] == ["image", "pull"] for call in calls)  # nothing pulled
    # Locating, reading the config and naming went to the registry, not through buildx.
    assert not any(call[1] == "imagetools" for call in buildx)


def test_extension_steps_and_indexes_go_to_the_context_and_the_builder(tmp_path: Path) -> None:
    engine, log = engine_with_stand_in(tmp_path)
    base = engine.export_layout(RUN_NAME, ["linux/amd64"], tmp_path / "base", pull=False)
    step = StepBuild(
        "applying a step", "FROM cnbext-base\n", None, {}, {BASE_CONTEXT: base}, ("linux/amd64",)
    )
    built = engine.build_layout(step, tmp_path / "step")
    assert built.configs[0].user == "1001:1000"
    with serve_registry() as served:
        image = push_image(served, "x/y", [b"app"])
        index = engine.create_index(
            f"{served.host}/x/y:1", [f"{served.host}/x/y@{image.descriptor['digest']}"]
        )
        assert served.manifests["x/y"]["1"][1] == served.manifests["x/y"][index][1]

    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert all(call[:2] == ["--context", "far"] for call in calls)
    buildx = [call[2:] for call in calls if call[2] == "buildx"]
    # The base exported and the step built; the index was made registry-side.
    assert [call[1] for call in buildx] == ["build", "build"]
    assert all("k8s" in call for call in buildx), buildx


def test_a_kubernetes_builder_refuses_to_load_before_building(tmp_path: Path) -> None:
    engine, log = engine_with_stand_in(tmp_path)
    engine.ensure_available()
    plan = cnbext.extend(
        extend_toml(tmp_path),
        cnbext.ExtendOptions(names=("localhost:5000/x/y:1",)),
        dry_run=True,
        engine=FakeEngine(IMAGES),
    ).plan
    with pytest.raises(EngineError) as raised:
        engine.build(plan.builds[0], publish=False, pull=False)
    assert raised.value.message == (
        "the buildx builder k8s uses the kubernetes driver, which shares no image store with "
        "this Docker engine: it can only publish"
    )
    assert raised.value.hint is not None and "--publish" in raised.value.hint
    calls = [json.loads(line)[2:] for line in log.read_text().splitlines()]
    assert not any(call[:2] == ["buildx", "build"] for call in calls)  # nothing was built
