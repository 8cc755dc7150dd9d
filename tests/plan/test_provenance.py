"""Planners write the provenance label from facts gathered before planning."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from cnbext.cnb.provenance import PROVENANCE, read_provenance
from cnbext.config.extension_request import ExtensionRequest
from cnbext.plan.extend import plan_extend
from cnbext.plan.facts import ImageFacts, ImageOrigin
from tests.plan.test_extend import OPTIONS, RUN_IMAGE, config

DIGEST, AMD = "sha256:" + "a" * 64, "sha256:" + "b" * 64


def test_extend_records_the_base_as_given_with_its_digests(tmp_path: Path) -> None:
    base = replace(
        RUN_IMAGE,
        origin=ImageOrigin("localhost:5000/cnb/run:bookworm", DIGEST, {"linux/amd64": AMD}),
    )
    (build,) = plan_extend(config(tmp_path), OPTIONS, ImageFacts(base)).builds
    document = json.loads(build.labels[PROVENANCE])
    assert document["version"] == 2
    assert document["command"] == "extend"
    assert document["base"] == {
        "reference": "localhost:5000/cnb/run:bookworm",
        "digest": DIGEST,
        "platforms": {"linux/amd64": AMD},
    }
    assert document["platforms"] == ["linux/amd64"]
    assert document["metadata"] == {"packages": ["jq", "tree"]}
    assert document["buildId"] == {"policy": "fresh"}
    assert build.result_labels[PROVENANCE] == build.labels[PROVENANCE]
    assert PROVENANCE in {c.name for c in build.label_changes}


def test_extending_an_extended_image_keeps_its_round(tmp_path: Path) -> None:
    (first,) = plan_extend(config(tmp_path), OPTIONS, ImageFacts(RUN_IMAGE)).builds
    extended = replace(RUN_IMAGE, reference="localhost:5000/cnb/run:x", labels=first.labels)
    options = replace(OPTIONS, build_id="b1", platforms=("linux/amd64,linux/arm64",))
    (second,) = plan_extend(
        config(tmp_path, 'packages = ["file"]\n'), options, ImageFacts(extended)
    ).builds
    provenance = read_provenance(second.labels)
    assert provenance is not None
    assert provenance.build_id == "b1"
    assert provenance.platforms == ("linux/amd64", "linux/arm64")
    assert [r["metadata"] for r in provenance.history] == [{"packages": ["jq", "tree"]}]


def test_extensions_are_recorded_with_absolute_paths_and_digests(tmp_path: Path) -> None:
    request = ExtensionRequest("https://user:pw@example.com/ext.tgz?token=x", digest=DIGEST)
    options = replace(OPTIONS, extensions=(request,))
    (build,) = plan_extend(config(tmp_path), options, ImageFacts(RUN_IMAGE)).builds
    provenance = read_provenance(build.labels)
    assert provenance is not None
    (record,) = provenance.extensions
    assert (record.uri, record.digest) == ("https://example.com/ext.tgz", DIGEST)
    assert "pw" not in build.labels[PROVENANCE] and "token" not in build.labels[PROVENANCE]


def test_an_extensions_metadata_pin_are_recorded_and_no_name_is(tmp_path: Path) -> None:
    request = ExtensionRequest(
        "https://example.com/ext.tgz", metadata={"tool": {"version": "2"}}, sha256="c" * 64
    )
    names = ("localhost:5000/cnb/run:extended", "localhost:5000/cnb/run:latest")
    options = replace(OPTIONS, names=names, extensions=(request,))
    (build,) = plan_extend(config(tmp_path), options, ImageFacts(RUN_IMAGE)).builds
    provenance = read_provenance(build.labels)
    assert provenance is not None
    (record,) = provenance.extensions
    assert record.metadata == {"tool": {"version": "2"}}
    assert record.sha256 == "c" * 64
    assert provenance.names == ()
    assert not any(name in build.labels[PROVENANCE] for name in names)


def test_the_extensions_env_and_app_folder_are_recorded(tmp_path: Path) -> None:
    env = {"GREETING": "hi", "NPM_TOKEN": "secret"}
    options = replace(OPTIONS, platform_env=env, app_dir=tmp_path)
    (build,) = plan_extend(config(tmp_path), options, ImageFacts(RUN_IMAGE)).builds
    provenance = read_provenance(build.labels)
    assert provenance is not None
    assert provenance.platform_env == {"GREETING": "hi", "NPM_TOKEN": None}
    assert provenance.app == tmp_path.resolve().as_posix()
    assert "secret" not in build.labels[PROVENANCE]
