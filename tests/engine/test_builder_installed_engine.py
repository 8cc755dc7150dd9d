"""What extend-builder installed, for real: the builder's and its run image's versions in one
lock, installed again exactly with --locked, a gone one failing before anything is published,
and the builder's SBOM layer listing what dpkg reports inside it."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from tests.engine.conftest import Cli, EngineEnv, assert_locked_gone

pytestmark = pytest.mark.engine

CONFIG = '[extend]\nimage = "{builder}"\n[extend.metadata]\npackages = ["jq"]\n'


@pytest.fixture
def builder(engine: EngineEnv, tmp_path: Path, leftovers: list[str]) -> str:
    """A builder the way pack labels one (the build image, naming the example run image)."""
    metadata = {"images": [{"image": engine.run_image, "mirrors": []}]}
    context = tmp_path / "builder"
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM {engine.build_image}\n")
    name = engine.name("xb-lock-base")
    leftovers.append(name)
    engine.docker.buildx.build(
        context,
        tags=[name],
        labels={"io.buildpacks.builder.metadata": json.dumps(metadata)},
        push=True,
        provenance=False,
    )
    return name


def added(engine: EngineEnv, name: str) -> list[dict[str, str]]:
    """What the image's one platform added, from its io.cnbext.packages."""
    label = json.loads(engine.labels(name)["io.cnbext.packages"])
    ((_, changes),) = label["platforms"].items()
    result: list[dict[str, str]] = changes["added"]
    return result


def test_a_builders_lock_is_installed_exactly_and_a_gone_version_publishes_nothing(
    engine: EngineEnv, cnbext: Cli, builder: str, leftovers: list[str]
) -> None:
    first, run = engine.name("xb-lock"), engine.name("xb-lock-run")
    again, run_again = engine.name("xb-locked"), engine.name("xb-locked-run")
    leftovers.extend([first, run, again, run_again])
    cnbext.write("extend-builder.toml", CONFIG.format(builder=builder))
    args = ["-e", "extend-builder.toml", "--lock", "builder.lock"]
    cnbext("extend-builder", first, *args, "--run-image", run, check=True)
    lock = tomllib.loads((cnbext.workdir / "builder.lock").read_text())
    for image, table in ((first, lock["platforms"]), (run, lock["run-image"]["platforms"])):
        ((_, entry),) = table.items()
        specs = {p["spec"] for p in entry["packages"]}
        assert specs == {f"{p['name']}={p['version']}" for p in added(engine, image)}
        assert any(spec.startswith("jq=") for spec in specs)

    # A new build id: apt really runs again in both images, every version pinned.
    locked = [*args, "--locked", "--build-id", "2"]
    cnbext("extend-builder", again, *locked, "--run-image", run_again, check=True)
    assert added(engine, again) == added(engine, first)
    assert added(engine, run_again) == added(engine, run)

    text = (cnbext.workdir / "builder.lock").read_text()
    jq = next(p["spec"] for p in lock["platforms"].popitem()[1]["packages"] if p["name"] == "jq")
    (cnbext.workdir / "builder.lock").write_text(text.replace(jq, "jq=0.0-gone"))
    gone, gone_run = engine.name("xb-gone"), engine.name("xb-gone-run")
    before = engine.image_list()
    published = [*locked, "--run-image", gone_run, "--publish"]
    assert_locked_gone(cnbext, engine, gone, published, "jq=0.0-gone", "extend-builder")
    assert not engine.in_registry(gone) and not engine.in_registry(gone_run)
    assert not engine.docker.image.exists(gone_run)
    assert {i for i in engine.image_list() - before if "xb-gone" in i} == set()


def test_the_builders_sbom_layer_lists_what_dpkg_reports_and_the_label_names_it(
    engine: EngineEnv, cnbext: Cli, builder: str, leftovers: list[str]
) -> None:
    name = engine.name("xb-sbom")
    leftovers.append(name)
    cnbext.write("extend-builder.toml", CONFIG.format(builder=builder))
    cnbext("extend-builder", name, "-e", "extend-builder.toml", check=True)
    out = engine.run(
        name,
        "dpkg-query -W -f '${Package} ${Version}\\n' jq libjq1; echo; cat /cnb/sbom/bom.cdx.json",
    )
    head, _, sbom = out.partition("\n\n")
    reported = dict(line.split() for line in head.splitlines())
    components = {c["name"]: c for c in json.loads(sbom)["components"]}
    for package, version in reported.items():
        assert components[package]["version"] == version
        assert components[package]["purl"].startswith(f"pkg:deb/debian/{package}@")
    layers = engine.docker.image.inspect(name).root_fs.layers or []
    assert engine.labels(name)["io.buildpacks.base.sbom"] == layers[-1]
