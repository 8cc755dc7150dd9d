"""The SLSA provenance (v1) predicate, from an image's labels: what was asked, what it resolved
to by digest, who built it; the same bytes every time; no credentials."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cnbext.cnb.installed import PACKAGES_LABEL, Package, PackageChanges, packages_label
from cnbext.cnb.provenance import (
    PROVENANCE,
    BaseRecord,
    ExtensionRecord,
    Provenance,
    RunImageRecord,
)
from cnbext.cnb.slsa import (
    BUILDER_ID,
    PROVENANCE_TYPE,
    STATEMENT_TYPE,
    NoProvenanceError,
    encode,
    provenance_predicate,
    statement,
)

INDEX = "sha256:" + "a" * 64
AMD64 = "sha256:" + "b" * 64
RUN_BASE = "sha256:" + "c" * 64
EXTENSION = "sha256:" + "d" * 64
LAYER = "sha256:" + "e" * 64
REQUEST: dict[str, Any] = {
    "command": "extend-builder",
    "options": {"publish": True, "sign_key": "/keys/cosign.key", "source_date_epoch": None},
    "config": {"extend": {"image": "reg/builder:1", "metadata": {"packages": ["jq"]}}},
}


def labels(**changes: object) -> dict[str, str]:
    provenance = Provenance(
        command="extend-builder",
        role="builder",
        tool_version="1.2.3",
        base=BaseRecord("reg/builder:1", INDEX, {"linux/amd64": AMD64}),
        platforms=("linux/amd64",),
        metadata={"packages": ["jq"]},
        extensions=(ExtensionRecord("/ext/curl", "example/curl", "1.0.0", EXTENSION),),
        run_image=RunImageRecord(
            "reg/run:x", ("mirror/run:x",), BaseRecord("reg/run:1", RUN_BASE), {}
        ),
        request=REQUEST,
    )
    provenance = Provenance(**{**provenance.__dict__, **changes})
    jq = Package("jq", "1.6-2.1", "amd64", "jq")
    return {
        PROVENANCE: provenance.encode(),
        PACKAGES_LABEL: packages_label({"linux/amd64": PackageChanges("dpkg", (jq,), (), ())}),
        "io.buildpacks.buildpack.layers": json.dumps(
            {"example/node": {"1.0.0": {"api": "0.10", "layerDiffID": LAYER}}}
        ),
    }


def test_every_input_is_resolved_by_digest() -> None:
    dependencies = provenance_predicate(labels())["buildDefinition"]["resolvedDependencies"]
    assert dependencies == [
        {"uri": "pkg:docker/reg/builder:1", "name": "base", "digest": {"sha256": "a" * 64}},
        {
            "uri": "pkg:docker/reg/builder:1?platform=linux%2Famd64",
            "name": "base",
            "digest": {"sha256": "b" * 64},
        },
        {"uri": "pkg:docker/reg/run:1", "name": "run image base", "digest": {"sha256": "c" * 64}},
        {"uri": "/ext/curl", "name": "extension example/curl", "digest": {"sha256": "d" * 64}},
        {
            "uri": "urn:cnb:buildpack:example/node@1.0.0",
            "name": "buildpack example/node@1.0.0",
            "digest": {"sha256": "e" * 64},
        },
        {"uri": "pkg:deb/jq@1.6-2.1?arch=amd64&platform=linux%2Famd64", "name": "jq"},
    ]


def test_the_parameters_are_the_recorded_request_and_the_builder_is_cnbext() -> None:
    predicate = provenance_predicate(labels())
    definition = predicate["buildDefinition"]
    assert definition["buildType"] == "https://cnbext.dev/slsa/build-types/extend-builder/v1"
    external = definition["externalParameters"]
    assert external["options"] == REQUEST["options"]
    assert external["config"] == REQUEST["config"]
    assert [e["digest"] for e in external["extensions"]] == [EXTENSION]
    assert definition["internalParameters"]["platforms"] == ["linux/amd64"]
    assert predicate["runDetails"]["builder"] == {"id": BUILDER_ID, "version": {"cnbext": "1.2.3"}}
    assert predicate["runDetails"]["metadata"] == {}  # no time unless the request fixed one


def test_a_lock_installed_exactly_is_a_dependency_and_its_pins_the_metadata() -> None:
    options = {**REQUEST["options"], "lock": "/src/extend.lock", "locked": True}
    predicate = provenance_predicate(
        labels(request={**REQUEST, "options": options}, metadata={"packages": ["jq=1.6-2.1"]})
    )
    definition = predicate["buildDefinition"]
    assert {"uri": "file:///src/extend.lock", "name": "lock"} in definition["resolvedDependencies"]
    assert definition["internalParameters"]["metadata"] == {"packages": ["jq=1.6-2.1"]}
    assert definition["externalParameters"]["options"]["locked"] is True


def test_a_fixed_source_date_epoch_is_the_only_time_written() -> None:
    request = {**REQUEST, "options": {**REQUEST["options"], "source_date_epoch": 1700000000}}
    metadata = provenance_predicate(labels(request=request))["runDetails"]["metadata"]
    assert metadata == {"startedOn": "2023-11-14T22:13:20Z", "finishedOn": "2023-11-14T22:13:20Z"}


def test_the_same_labels_give_the_same_bytes() -> None:
    first = encode(provenance_predicate(labels()))
    assert encode(provenance_predicate(dict(reversed(list(labels().items()))))) == first
    assert encode(provenance_predicate(labels(tool_version="1.2.4"))) != first


def test_an_image_without_cnbext_provenance_has_no_predicate() -> None:
    with pytest.raises(NoProvenanceError):
        provenance_predicate({"other": "label"})
    with pytest.raises(NoProvenanceError):
        provenance_predicate({PROVENANCE: '{"version": 99}'})


def test_the_statement_names_each_subject_by_digest() -> None:
    made = statement(
        [("reg/run", INDEX), ("mirror/run", INDEX)], PROVENANCE_TYPE, {"buildDefinition": {}}
    )
    assert made["_type"] == STATEMENT_TYPE and made["predicateType"] == PROVENANCE_TYPE
    assert made["subject"] == [
        {"name": "reg/run", "digest": {"sha256": "a" * 64}},
        {"name": "mirror/run", "digest": {"sha256": "a" * 64}},
    ]
