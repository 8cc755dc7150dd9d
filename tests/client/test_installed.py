"""What a build installed: read before anything is published, written into its labels."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

import cnbext
from cnbext.client.installed import read_rpmdb
from cnbext.cnb.installed import DPKG_STATUS, PACKAGES_LABEL, Package
from cnbext.cnb.sbom import SBOM_LABEL, SBOM_PATH
from cnbext.engine.models import BuiltFiles
from cnbext.errors import BuildError
from tests.client.fake_engine import BUILDING, Call, FakeEngine, digest_of, fake_dpkg_status
from tests.client.images import IMAGES, RUN_NAME, extend_toml
from tests.cnb.test_rpmdb import JQ, NAME, header

OUT = "localhost:5000/x/extended:1"
PLATFORMS = ("linux/amd64", "linux/arm64")


def files(base: dict[str, str], result: dict[str, str], arch: str) -> BuiltFiles:
    return BuiltFiles(
        base={DPKG_STATUS: fake_dpkg_status(base, arch)},
        result={DPKG_STATUS: fake_dpkg_status(result, arch)},
    )


def test_each_platforms_changes_are_in_the_label_of_the_published_image(tmp_path: Path) -> None:
    per_platform = {
        "linux/amd64": files({"libc6": "2.36-9"}, {"libc6": "2.36-9+u1", "jq": "1.6-2.1"}, "amd64"),
        "linux/arm64": files({"libc6": "2.36-9", "gone": "1"}, {"libc6": "2.36-9"}, "arm64"),
    }
    engine = FakeEngine(IMAGES, package_files={OUT: per_platform})
    options = cnbext.ExtendOptions(
        names=(OUT,), publish=True, platforms=PLATFORMS, sbom=cnbext.SbomFormat.CYCLONEDX
    )
    result = cnbext.extend(extend_toml(tmp_path), options, engine=engine)

    # Read once, before anything is built for real or published.
    first_building = next(i for i, c in enumerate(engine.calls) if c.method in BUILDING)
    assert engine.calls.index(Call("installed", OUT)) < first_building
    label = json.loads(result.images[0].labels[PACKAGES_LABEL])
    for platform in PLATFORMS:
        assert json.loads(engine.built[f"{OUT}#{platform}"].labels[PACKAGES_LABEL]) == label
    amd64, arm64 = label["platforms"]["linux/amd64"], label["platforms"]["linux/arm64"]
    assert amd64["added"] == [
        {"name": "jq", "version": "1.6-2.1", "architecture": "amd64", "source": "jq"}
    ]
    assert amd64["upgraded"] == [
        {
            "name": "libc6",
            "version": "2.36-9+u1",
            "previous": "2.36-9",
            "architecture": "amd64",
            "source": "libc6",
        }
    ]
    assert arm64["added"] == [] and arm64["upgraded"] == []
    assert [p["name"] for p in arm64["removed"]] == ["gone"]


def test_a_result_without_a_readable_package_database_publishes_nothing(tmp_path: Path) -> None:
    empty = {"linux/amd64": BuiltFiles(base={}, result={})}
    engine = FakeEngine(IMAGES, package_files={OUT: empty})
    options = cnbext.ExtendOptions(names=(OUT,), publish=True, sbom=cnbext.SbomFormat.CYCLONEDX)
    with pytest.raises(
        BuildError,
        match="has no dpkg package database cnbext can read after installing jq with apt",
    ):
        cnbext.extend(extend_toml(tmp_path), options, engine=engine)
    assert engine.made() == []


def test_an_image_without_packages_is_not_read(tmp_path: Path) -> None:
    config = tmp_path / "extend.toml"
    config.write_text(f'[extend]\nimage = "{RUN_NAME}"\n[extend.metadata]\nowner = "me"\n')
    engine = FakeEngine(IMAGES)
    result = cnbext.extend(config, cnbext.ExtendOptions(names=(OUT,)), engine=engine)
    assert "installed" not in [c.method for c in engine.calls]
    assert PACKAGES_LABEL not in result.images[0].labels


def rpm_database(path: Path, blobs: list[bytes]) -> bytes:
    """An rpm 4.16+ database: the Packages table as rpm creates it, one header per row."""
    with closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB)")
        db.executemany("INSERT INTO Packages (blob) VALUES (?)", [(b,) for b in blobs])
        db.commit()
    return path.read_bytes()


def test_an_rpm_database_is_read_from_its_bytes(tmp_path: Path) -> None:
    data = rpm_database(
        tmp_path / "rpmdb.sqlite", [header(JQ), b"junk", header({**JQ, NAME: "oniguruma"})]
    )
    assert read_rpmdb(data) == {
        ("jq", "x86_64"): Package("jq", "1.7.1-1.fc40", "x86_64", "jq"),
        ("oniguruma", "x86_64"): Package("oniguruma", "1.7.1-1.fc40", "x86_64", "jq"),
    }


def test_bytes_that_are_no_rpm_database_are_an_error() -> None:
    with pytest.raises(BuildError, match="cannot read the image's rpm database"):
        read_rpmdb(b"SQLite format 3\x00 but not really")


def test_each_platform_gets_its_own_sbom_layer_named_by_the_base_sbom_label(
    tmp_path: Path,
) -> None:
    per_platform = {
        "linux/amd64": files({"libc6": "2.36-9"}, {"libc6": "2.36-9", "jq": "1.6-2.1"}, "amd64"),
        "linux/arm64": files({"libc6": "2.36-9"}, {"libc6": "2.36-9", "jq": "1.6-2.0"}, "arm64"),
    }
    engine = FakeEngine(IMAGES, package_files={OUT: per_platform})
    options = cnbext.ExtendOptions(
        names=(OUT,), publish=True, platforms=PLATFORMS, sbom=cnbext.SbomFormat.CYCLONEDX
    )
    result = cnbext.extend(extend_toml(tmp_path), options, engine=engine)

    assert SBOM_LABEL not in result.images[0].labels  # the index has none of its own
    for platform, jq_version in (("linux/amd64", "1.6-2.1"), ("linux/arm64", "1.6-2.0")):
        one = engine.built[f"{OUT}#{platform}"]
        assert one.platforms == (platform,)
        path = "cnbext-sbom-" + platform.replace("/", "-")
        assert one.dockerfile.endswith(f"COPY --link {path}/ /\n")
        diff_id = one.labels[SBOM_LABEL]
        assert diff_id == digest_of(path)  # what the engine measured for that tree
        assert diff_id in one.expected_diff_ids  # and the build is checked to have it
        document = engine.tree_files[f"{OUT}#{platform}"][f"{path}{SBOM_PATH}"]
        components = {c["name"]: c for c in json.loads(document)["components"]}
        assert components["jq"]["version"] == jq_version
        assert components["libc6"]["version"] == "2.36-9"  # the base's packages too


def test_sbom_none_writes_no_layer(tmp_path: Path) -> None:
    engine = FakeEngine(IMAGES)
    options = cnbext.ExtendOptions(names=(OUT,), sbom=cnbext.SbomFormat.NONE)
    result = cnbext.extend(extend_toml(tmp_path), options, engine=engine)
    build = engine.built[OUT]
    assert "cnbext-sbom" not in build.dockerfile and not build.context_trees
    assert SBOM_LABEL not in result.images[0].labels
    assert PACKAGES_LABEL in result.images[0].labels
    assert "layers" not in [c.method for c in engine.calls]
