"""The builder commands' --lock and --locked: the build image's versions at the top of the
lock, the extended run image's under [run-image]; --locked installs exactly them in each,
a gone one fails naming it before anything is published; upgrade replays both flags; the
builder's build image gets the same SBOM layer as a run image."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

import cnbext
from cnbext.client.upgrade import run_upgrade
from cnbext.client.upgrade_model import UpgradeOptions
from cnbext.cnb.provenance import PROVENANCE, BaseRecord, read_provenance
from cnbext.cnb.sbom import SBOM_LABEL, SBOM_PATH
from cnbext.config.lock import load_lock
from cnbext.engine.models import ImageView
from cnbext.errors import ConfigError, UsageError
from cnbext.progress import SilentReporter
from tests.client.fake_engine import FakeEngine, digest_of
from tests.client.fake_registry import FakeManifest, FakeRegistry
from tests.client.images import BUILDER_NAME, IMAGES, RUN_NAME, extend_builder_toml
from tests.client.test_lock import assert_gone_fails

BUILDER_OUT = "localhost:5000/b/locked-builder:1"
RUN_OUT = "localhost:5000/stack/locked-run:1"
SCOPES = 'packages = ["jq"]\n[extend.metadata.build]\npackages = ["git"]\n'


def extend_builder(tmp_path: Path, engine: FakeEngine, **options: object) -> cnbext.Result:
    flags = cnbext.BuilderOptions(names=(BUILDER_OUT,), run_image=RUN_OUT, publish=True)
    flags = replace(flags, **options)  # type: ignore[arg-type]
    return cnbext.extend_builder(extend_builder_toml(tmp_path, SCOPES), flags, engine=engine)


def install_line(engine: FakeEngine, name: str) -> str:
    """The packages the build's apt-get install line names."""
    (line,) = [x for x in engine.built[name].dockerfile.splitlines() if "apt-get install" in x]
    return line.removesuffix("\\").strip()


def test_the_lock_holds_the_builders_and_the_run_images_pins_and_locked_installs_them(
    tmp_path: Path,
) -> None:
    lock = tmp_path / "builder.lock"
    extend_builder(tmp_path, FakeEngine(IMAGES, installed_version="1.6-2.1"), lock=lock)
    loaded, written = load_lock(lock), lock.read_text()
    assert {p: v.specs for p, v in loaded.platforms.items()} == {
        "linux/amd64": ("git=1.6-2.1", "jq=1.6-2.1")
    }
    assert {p: v.specs for p, v in loaded.run_platforms.items()} == {"linux/amd64": ("jq=1.6-2.1",)}

    # Later the repositories would give other versions; --locked asks for the locked ones.
    rebuilt = FakeEngine(IMAGES, installed_version="2.0-1")
    extend_builder(tmp_path, rebuilt, lock=lock, locked=True)
    assert install_line(rebuilt, BUILDER_OUT).endswith("git=1.6-2.1 jq=1.6-2.1")
    assert install_line(rebuilt, RUN_OUT).endswith("jq=1.6-2.1")
    assert lock.read_text() == written  # not rewritten


def test_a_locked_version_that_is_gone_fails_naming_it_and_publishes_nothing(
    tmp_path: Path,
) -> None:
    lock = tmp_path / "builder.lock"
    extend_builder(tmp_path, FakeEngine(IMAGES, installed_version="1.6-2.1"), lock=lock)
    assert_gone_fails(
        BUILDER_OUT, "git=1.6-2.1", lambda e: extend_builder(tmp_path, e, lock=lock, locked=True)
    )


def test_a_lock_without_the_run_images_versions_is_refused(tmp_path: Path) -> None:
    lock = tmp_path / "builder-only.lock"
    extend_builder(
        tmp_path, FakeEngine(IMAGES, installed_version="1.6-2.1"), lock=lock, run_image=None
    )
    assert load_lock(lock).run_platforms == {}  # no run image was extended
    with pytest.raises(UsageError, match=r"has no run-image\.platforms"):
        extend_builder(tmp_path, FakeEngine(IMAGES), lock=lock, locked=True)
    with pytest.raises(UsageError, match="--locked needs --lock"):
        extend_builder(tmp_path, FakeEngine(IMAGES), locked=True)


def test_upgrade_replays_lock_locked_and_sbom_of_a_builder(tmp_path: Path) -> None:
    lock = tmp_path / "builder.lock"
    extend_builder(
        tmp_path, FakeEngine(IMAGES, installed_version="1.6-2.1"), lock=lock, run_image=None
    )
    request = {"lock": lock, "locked": True, "sbom": cnbext.SbomFormat.NONE, "run_image": None}
    planned = extend_builder(tmp_path, FakeEngine(IMAGES), **request, publish=False)
    label = cnbext.Result(planned.plan).plan.builds[0].labels[PROVENANCE]
    old, new = "sha256:" + "1" * 64, "sha256:" + "2" * 64
    provenance = read_provenance({PROVENANCE: label})
    assert provenance is not None
    label = replace(provenance, base=BaseRecord(BUILDER_NAME, old)).encode()
    view = ImageView(
        BUILDER_OUT, "registry", "sha256:" + "9" * 64, ("linux/amd64",), {PROVENANCE: label}, "", {}
    )
    engine = FakeEngine(
        IMAGES,
        installed_version="2.0-1",  # what the repositories give now: the lock must win
        registry_views={BUILDER_OUT: view},
        served=FakeRegistry({BUILDER_NAME: FakeManifest(new)}),
    )
    options = UpgradeOptions(names=(BUILDER_OUT,), publish=True)
    [result] = run_upgrade(options, SilentReporter(), engine=engine)
    assert (result.state, result.method) == ("upgraded", "rebuild"), result.error
    assert install_line(engine, BUILDER_OUT).endswith("git=1.6-2.1 jq=1.6-2.1")
    assert "cnbext-sbom" not in engine.built[BUILDER_OUT].dockerfile  # --sbom none replayed
    recorded = json.loads(engine.built[BUILDER_OUT].labels[PROVENANCE])["request"]["options"]
    assert (recorded["lock"], recorded["locked"], recorded["sbom"]) == (
        lock.as_posix(),
        True,
        "none",
    )


def test_the_builders_build_image_gets_an_sbom_layer_named_by_its_label(tmp_path: Path) -> None:
    engine = FakeEngine(IMAGES, installed_version="1.6-2.1")
    result = extend_builder(tmp_path, engine)
    builder = engine.built[BUILDER_OUT]
    path = "cnbext-sbom-linux-amd64"
    assert builder.dockerfile.endswith(f"COPY --link {path}/ /\n")
    assert builder.labels[SBOM_LABEL] == digest_of(path) == result.images[1].labels[SBOM_LABEL]
    assert digest_of(path) in builder.expected_diff_ids
    document = json.loads(engine.tree_files[BUILDER_OUT][f"{path}{SBOM_PATH}"])
    versions = {c["name"]: c.get("version") for c in document["components"]}
    assert versions["git"] == versions["jq"] == "1.6-2.1"

    plain = FakeEngine(IMAGES)
    extend_builder(tmp_path, plain, sbom=cnbext.SbomFormat.NONE)
    assert "cnbext-sbom" not in plain.built[BUILDER_OUT].dockerfile
    assert SBOM_LABEL not in plain.built[BUILDER_OUT].labels


def test_a_run_image_upgraded_alone_installs_its_locked_pins_and_keeps_the_builders(
    tmp_path: Path,
) -> None:
    lock = tmp_path / "builder.lock"
    extend_builder(tmp_path, FakeEngine(IMAGES, installed_version="1.6-2.1"), lock=lock)
    builders = load_lock(lock).platforms
    planned = extend_builder(tmp_path, FakeEngine(IMAGES), lock=lock, locked=True, publish=False)
    run_label = read_provenance(planned.plan.builds[0].labels)
    assert run_label is not None and run_label.role == "run image"
    old, new = "sha256:" + "1" * 64, "sha256:" + "2" * 64
    label = replace(run_label, base=BaseRecord(RUN_NAME, old)).encode()
    view = ImageView(
        RUN_OUT, "registry", "sha256:" + "9" * 64, ("linux/amd64",), {PROVENANCE: label}, "", {}
    )
    engine = FakeEngine(
        IMAGES,
        installed_version="2.0-1",
        registry_views={RUN_OUT: view},
        served=FakeRegistry({RUN_NAME: FakeManifest(new)}),
    )
    options = UpgradeOptions(names=(RUN_OUT,), publish=True)
    [result] = run_upgrade(options, SilentReporter(), engine=engine)
    assert (result.state, result.method) == ("upgraded", "rebuild"), result.error
    assert [c.target for c in engine.calls if c.method == "build"] == [RUN_OUT]
    assert install_line(engine, RUN_OUT).endswith(" jq=1.6-2.1")

    # Unlocked, the run image's new versions are written; the builder's stay as locked.
    unlocked = replace(run_label, base=BaseRecord(RUN_NAME, old))
    request = dict(unlocked.request or {})
    request["options"] = {**request["options"], "locked": False}
    view = replace(view, labels={PROVENANCE: replace(unlocked, request=request).encode()})
    engine = replace(engine, registry_views={RUN_OUT: view}, calls=[], built={})
    [result] = run_upgrade(options, SilentReporter(), engine=engine)
    assert result.state == "upgraded", result.error
    again = load_lock(lock)
    assert again.platforms == builders
    assert again.run_platforms["linux/amd64"].specs == ("jq=2.0-1",)


def test_a_pin_the_manager_rejects_is_located_in_the_builder_lock(tmp_path: Path) -> None:
    lock = tmp_path / "hand.lock"
    entry = 'database = "dpkg"\nmanager = "apt"\npackages = [{{spec = "{}", name = "x", '
    entry += 'version = "1", architecture = "amd64"}}]\n'
    lock.write_text(
        'version = 1\n[platforms."linux/amd64"]\n'
        + entry.format("git=1")
        + '[run-image.platforms."linux/amd64"]\n'
        + entry.format("JQ=1")
    )
    with pytest.raises(ConfigError) as raised:
        extend_builder(tmp_path, FakeEngine(IMAGES), lock=lock, locked=True)
    (problem,) = raised.value.problems
    assert str(problem).startswith(f"{lock}:9:21: ")  # the run-image pin, where the lock has it
    assert problem.path == '$.run-image.platforms["linux/amd64"].packages[0].spec'
    assert "not a valid apt package" in str(problem)


def test_create_builder_locks_its_build_image_and_run_image_the_same_way(tmp_path: Path) -> None:
    from tests.client.images import BUILD, BUILD_NAME, builder_toml

    images = {**IMAGES, BUILD_NAME: BUILD}
    scopes = (
        '[extend.metadata.build]\npackages = ["git"]\n[extend.metadata.run]\npackages = ["jq"]\n'
    )
    toml = builder_toml(tmp_path, scopes)
    lock = tmp_path / "builder.lock"
    options = cnbext.BuilderOptions(names=(BUILDER_OUT,), run_image=RUN_OUT, lock=lock)
    cnbext.create_builder(toml, options, engine=FakeEngine(images, installed_version="1.6-2.1"))
    loaded = load_lock(lock)
    assert loaded.platforms["linux/amd64"].specs == ("git=1.6-2.1",)
    assert loaded.run_platforms["linux/amd64"].specs == ("jq=1.6-2.1",)

    rebuilt = FakeEngine(images, installed_version="2.0-1")
    cnbext.create_builder(toml, replace(options, locked=True), engine=rebuilt)
    assert install_line(rebuilt, BUILDER_OUT).endswith(" git=1.6-2.1")
    assert install_line(rebuilt, RUN_OUT).endswith(" jq=1.6-2.1")


def test_a_builder_of_several_targets_locks_every_platform(tmp_path: Path) -> None:
    from tests.client.images import BUILD, BUILD_NAME, builder_toml

    toml = builder_toml(tmp_path, '[extend.metadata.build]\npackages = ["git"]\n')
    lock = tmp_path / "targets.lock"
    platforms = ("linux/amd64", "linux/arm64")
    options = cnbext.BuilderOptions(
        names=(BUILDER_OUT,), publish=True, platforms=platforms, lock=lock
    )
    engine = FakeEngine({**IMAGES, BUILD_NAME: BUILD}, installed_version="1.6-2.1")
    result = cnbext.create_builder(toml, options, engine=engine)
    # One builder per target, joined: the index reports every platform's changes.
    assert engine.built[f"{BUILDER_OUT}#linux/arm64"].platforms == ("linux/arm64",)
    assert "linux/arm64" in result.images[0].labels["io.cnbext.packages"]
    # And each platform's own image carries every platform's, as inspect reads one of them.
    for platform in platforms:
        label = engine.built[f"{BUILDER_OUT}#{platform}"].labels["io.cnbext.packages"]
        assert set(json.loads(label)["platforms"]) == set(platforms)
    specs = {p: v.specs for p, v in load_lock(lock).platforms.items()}
    assert specs == dict.fromkeys(platforms, ("git=1.6-2.1",))


def test_the_builders_and_the_run_images_installs_are_read_at_the_same_time(
    tmp_path: Path,
) -> None:
    # Each read runs the build's install; one after another, a builder and its run image
    # would pay two installs in a row. The fake's barrier passes only when both are inside
    # their reads at once (else it times out and the command fails).
    together = [("installed", BUILDER_OUT), ("installed", RUN_OUT)]
    engine = FakeEngine(IMAGES, together=together)
    extend_builder(tmp_path, engine)
    assert {c.target for c in engine.calls if c.method == "installed"} == {BUILDER_OUT, RUN_OUT}
