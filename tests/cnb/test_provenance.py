"""The provenance label's model: shape, format version, history, no credentials."""

from __future__ import annotations

import json

import pytest

from cnbext.cnb.provenance import (
    FORMAT_VERSION,
    PROVENANCE,
    BaseRecord,
    ExtensionRecord,
    Provenance,
    RunImageRecord,
    earlier_rounds,
    extension_records,
    layers_rebasable,
    read_provenance,
    recorded_env,
    safe_uri,
)

DIGEST = "sha256:" + "a" * 64


def provenance(**changes: object) -> Provenance:
    value = Provenance(
        command="extend-builder",
        role="builder",
        tool_version="0.1.0",
        base=BaseRecord("reg/builder:1", DIGEST, {"linux/amd64": DIGEST}),
        platforms=("linux/amd64",),
        metadata={"packages": ["jq"]},
        extensions=(ExtensionRecord("/ext/curl", "example/curl", "1.0.0", DIGEST),),
        build_id="fixed-1",
        run_image=RunImageRecord("reg/run:x", ("mirror/run:x",), BaseRecord("reg/run:1"), {}),
    )
    return Provenance(**{**value.__dict__, **changes})


def test_the_label_is_versioned_json_that_reads_back_the_same() -> None:
    value = provenance()
    document = json.loads(value.encode())
    assert document["version"] == FORMAT_VERSION
    assert document["tool"] == {"name": "cnbext", "version": "0.1.0"}
    assert document["buildId"] == {"policy": "fixed", "value": "fixed-1"}
    assert document["runImage"]["mirrors"] == ["mirror/run:x"]
    assert read_provenance({PROVENANCE: value.encode()}) == value


def test_a_fresh_build_id_policy_and_an_unknown_format_version() -> None:
    document = provenance(build_id=None).to_dict()
    assert document["buildId"] == {"policy": "fresh"}
    document["version"] = 99
    with pytest.raises(ValueError, match="format 99"):
        read_provenance({PROVENANCE: json.dumps(document)})
    assert read_provenance({}) is None


def test_re_extending_keeps_every_earlier_round() -> None:
    first = provenance(base=BaseRecord("reg/base:1", DIGEST))
    second = provenance(
        base=BaseRecord("reg/extended:1"), history=earlier_rounds({PROVENANCE: first.encode()})
    )
    rounds = earlier_rounds({PROVENANCE: second.encode()})
    assert [r["base"]["reference"] for r in rounds] == ["reg/base:1", "reg/extended:1"]
    assert all("history" not in r for r in rounds)
    assert earlier_rounds({PROVENANCE: "not json"}) == ()


def test_uris_lose_credentials_and_tokens() -> None:
    assert safe_uri("https://user:secret@example.com:8443/x.tgz?sig=abc#f") == (
        "https://example.com:8443/x.tgz"
    )
    assert safe_uri("/home/me/ext") == "/home/me/ext"
    records = extension_records(
        [("https://u:p@h/e.tgz", None, None)], [{"id": "example/e", "version": "2"}]
    )
    assert records == (ExtensionRecord("https://h/e.tgz", "example/e", "2"),)


def test_extension_metadata_pins_and_the_request_read_back_and_names_are_not_written() -> None:
    record = ExtensionRecord("/ext/curl", "example/curl", "1.0.0", DIGEST, {"a": [1]}, "b" * 64)
    request = {"command": "extend", "options": {"labels": {"a": "b"}}, "config": {}}
    value = provenance(extensions=(record,), request=request)
    document = json.loads(value.encode())
    assert document["version"] == 2 and "names" not in document
    assert document["request"] == request
    assert document["extensions"][0]["metadata"] == {"a": [1]}
    assert read_provenance({PROVENANCE: value.encode()}) == value


def test_a_format_1_label_still_reads_with_its_names() -> None:
    document = json.loads(provenance().encode())
    document["version"] = 1
    document["names"] = ["reg/b:1", "reg/b:latest"]
    for extension in document["extensions"]:
        del extension["metadata"], extension["sha256"]
    value = read_provenance({PROVENANCE: json.dumps(document)})
    assert value is not None and value.format_version == 1 and value.request is None
    assert value.names == ("reg/b:1", "reg/b:latest")
    assert value.extensions[0].metadata == {} and value.extensions[0].sha256 is None
    assert json.loads(value.encode())["names"] == ["reg/b:1", "reg/b:latest"]


def test_platform_env_keeps_names_but_not_secret_looking_values() -> None:
    env = {
        "MOTD_GREETING": "hello",
        "GITHUB_TOKEN": "ghp_x",
        "db_password": "pw",
        "MIRROR": "https://user:pw@mirror.example.com/debian",
        "API_KEY": "k",
    }
    assert recorded_env(env) == {
        "API_KEY": None,
        "GITHUB_TOKEN": None,
        "MIRROR": None,
        "MOTD_GREETING": "hello",
        "db_password": None,
    }
    value = provenance(platform_env=recorded_env(env), app="/src/app")
    assert read_provenance({PROVENANCE: value.encode()}) == value
    assert "ghp_x" not in value.encode() and "pw" not in value.encode()


@pytest.mark.parametrize(
    ("recorded", "label", "expected"),
    [
        (True, None, True),
        (True, "false", True),  # the label is the base's: an older run image's, say
        (False, "true", False),
        (False, None, False),
        # No judgement recorded: an older cnbext wrote it as io.buildpacks.rebasable.
        (None, "true", True),
        (None, "false", False),
        (None, "1", False),
        (None, None, False),
    ],
)
def test_layers_rebasable_reads_the_provenance_then_an_older_cnbexts_label(
    recorded: bool | None, label: str | None, expected: bool
) -> None:
    value = provenance(role="run image", rebasable=recorded)
    labels = {PROVENANCE: value.encode()}
    if label is not None:
        labels["io.buildpacks.rebasable"] = label
    read = read_provenance(labels)
    assert read is not None and read.rebasable is recorded
    assert ("rebasable" in json.loads(labels[PROVENANCE])) is (recorded is not None)
    assert layers_rebasable(read, labels) is expected


def test_a_rebasable_value_that_is_no_bool_is_not_a_judgement() -> None:
    value = provenance().to_dict()
    value["rebasable"] = "true"
    assert Provenance.from_dict(value).rebasable is None
