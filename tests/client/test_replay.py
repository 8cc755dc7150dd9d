"""Upgrade's rebuild replays the recorded request through the command that made the image, on
the fake engine: what the new label records is what the first one did, and a format-1 label
still upgrades, with a warning naming what it did not record."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import cnbext
from cnbext.client.upgrade import run_upgrade
from cnbext.client.upgrade_model import UpgradeOptions
from cnbext.cnb.installed import PACKAGES_LABEL, Package, PackageChanges, packages_label
from cnbext.cnb.provenance import PROVENANCE, BaseRecord, read_provenance
from cnbext.engine.models import ImageView
from cnbext.progress import SilentReporter
from tests.client.fake_engine import FakeEngine
from tests.client.fake_registry import FakeManifest, FakeRegistry
from tests.client.images import IMAGES, RUN_NAME, extend_toml

NAME = "localhost:5000/x/extended:1"
OLD, NEW = "sha256:" + "1" * 64, "sha256:" + "2" * 64


def published(label: str) -> FakeEngine:
    """A fake engine on which NAME carries ``label`` and the base moved from OLD to NEW."""
    view = ImageView(
        NAME, "registry", "sha256:" + "9" * 64, ("linux/amd64",), {PROVENANCE: label}, "", {}
    )
    return FakeEngine(
        IMAGES,
        registry_views={NAME: view},
        served=FakeRegistry({RUN_NAME: FakeManifest(NEW)}),
    )


def first_label(tmp_path: Path, **options: object) -> str:
    config = extend_toml(tmp_path, extra="")
    request = cnbext.ExtendOptions(names=(NAME,), **options)  # type: ignore[arg-type]
    result = cnbext.extend(config, request, dry_run=True, engine=FakeEngine(IMAGES))
    (build,) = result.plan.builds
    provenance = read_provenance(build.labels)
    assert provenance is not None
    return replace(provenance, base=BaseRecord(RUN_NAME, OLD)).encode()


def rebuilt_label(engine: FakeEngine) -> dict[str, object]:
    (build,) = [c for c in engine.calls if c.method == "build"]
    assert build.target == NAME
    label = engine.built[NAME].labels[PROVENANCE]
    document: dict[str, object] = json.loads(label)
    return document


def test_a_rebuild_records_the_request_the_first_build_recorded(tmp_path: Path) -> None:
    label = first_label(
        tmp_path, build_id="weekly", platform_env={"GREETING": "hi"}, app_dir=tmp_path
    )
    engine = published(label)
    reporter = SilentReporter()
    [result] = run_upgrade(UpgradeOptions(names=(NAME,), publish=True), reporter, engine=engine)
    assert (result.state, result.method) == ("upgraded", "rebuild"), result.error
    again = rebuilt_label(engine)
    first = json.loads(label)
    assert again["request"] == {
        **first["request"],
        "options": {**first["request"]["options"], "publish": True, "pull_policy": "always"},
    }


def test_a_format_1_label_upgrades_with_a_warning_naming_what_it_did_not_record(
    tmp_path: Path,
) -> None:
    document = json.loads(first_label(tmp_path))
    del document["request"]
    document["version"] = 1
    document["names"] = [NAME]
    engine = published(json.dumps(document))
    reporter = SilentReporter()
    [result] = run_upgrade(UpgradeOptions(names=(NAME,), publish=True), reporter, engine=engine)
    assert result.state == "upgraded", result.error
    warnings = [m for m in reporter.messages if m.startswith("warning:") and "format 1" in m]
    assert len(warnings) == 1 and "--label" in warnings[0] and "--target" in warnings[0]
    # The rebuild records its request whole: the next upgrade replays all of it.
    assert rebuilt_label(engine)["version"] == 2
    assert "request" in rebuilt_label(engine)


def test_a_rebuild_reports_each_package_whose_installed_version_changed(tmp_path: Path) -> None:
    label = first_label(tmp_path)
    engine = published(label)
    old = packages_label(
        {"linux/amd64": PackageChanges("dpkg", added=(Package("jq", "1.6-2.1", "amd64", "jq"),))}
    )
    view = engine.registry_views[NAME]
    engine.registry_views = {NAME: replace(view, labels={**view.labels, PACKAGES_LABEL: old})}
    engine.installed_version = "1.6-2.2"  # what the repositories give the rebuild
    [result] = run_upgrade(
        UpgradeOptions(names=(NAME,), publish=True), SilentReporter(), engine=engine
    )
    assert (result.state, result.method) == ("upgraded", "rebuild"), result.error
    assert result.packages == [
        {
            "platform": "linux/amd64",
            "name": "jq",
            "architecture": "amd64",
            "before": "1.6-2.1",
            "after": "1.6-2.2",
        }
    ]
    assert result.to_dict()["packages"] == result.packages
