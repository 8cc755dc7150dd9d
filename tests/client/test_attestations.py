"""Attestations on publish with the fake engine: each published image's SLSA provenance and
each platform's SBOM attached in the repository of every name, verified there before the next
image is named; one that does not verify stops the builder like an unverified signature."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

import cnbext
from cnbext.cnb.slsa import encode, provenance_predicate
from cnbext.errors import PublishError
from tests.client.fake_engine import Call, FakeEngine
from tests.client.images import IMAGES, extend_toml
from tests.client.test_installed import PLATFORMS, files
from tests.client.test_publish import BUILDER_OUT, MIRROR, MIRROR_2, RUN_OUT, extend_builder
from tests.client.test_signing import KEY

OUT = "localhost:5000/x/extended:1"


def repository(name: str) -> str:
    return name.rsplit(":", 1)[0]


def test_each_name_carries_the_provenance_verified_before_the_builder_is_named(
    tmp_path: Path,
) -> None:
    engine = FakeEngine(IMAGES)
    result = extend_builder(tmp_path, engine, sign_key=KEY)
    run, builder = result.images
    # The run image installs packages, so it has its own SBOM (the default): attested too.
    run_refs = [
        f"{repository(n)}@{run.digest}#{kind}"
        for n in (RUN_OUT, MIRROR, MIRROR_2)
        for kind in ("slsaprovenance1", "cyclonedx")
    ]
    calls = [c for c in engine.calls if c.method in ("attest", "verify-attestation", "copy")]
    builder_copy = calls.index(Call("copy", BUILDER_OUT))
    before = calls[:builder_copy]
    assert {c for c in before if c.method == "attest"} == {
        Call("attest", ref, publish=True) for ref in run_refs
    }
    assert {c for c in before if c.method == "verify-attestation"} == {
        Call("verify-attestation", ref) for ref in run_refs
    }
    builder_ref = f"localhost:5000/b/builder@{builder.digest}"
    # One digest's attestations are attached one after the other (they share its .att tag).
    assert calls[builder_copy + 1 :] == [
        Call("attest", f"{builder_ref}#slsaprovenance1", publish=True),
        Call("attest", f"{builder_ref}#cyclonedx", publish=True),
        Call("verify-attestation", f"{builder_ref}#slsaprovenance1"),
        Call("verify-attestation", f"{builder_ref}#cyclonedx"),
    ]
    # The predicate is the one the published labels describe, subject the published digest.
    key, made = engine.attestations[(builder_ref, "slsaprovenance1")]
    assert key == KEY
    assert made["predicate"] == json.loads(encode(provenance_predicate(builder.labels)))
    assert made["subject"] == [
        {"name": "localhost:5000/b/builder", "digest": {"sha256": builder.digest[7:]}}
    ]


def test_a_mirror_that_drops_attestations_stops_the_builder(tmp_path: Path) -> None:
    engine = FakeEngine(IMAGES, refuses_attestations={"localhost:5001/stack/run"})
    with pytest.raises(PublishError) as caught:
        extend_builder(tmp_path, engine, sign_key=KEY)
    message = caught.value.message
    assert f"attestations of {RUN_OUT} do not verify under {MIRROR}: provenance: " in message
    assert f"not published: {BUILDER_OUT}" in message
    assert Call("copy", BUILDER_OUT) not in engine.calls


def test_without_a_key_nothing_is_attested(tmp_path: Path) -> None:
    engine = FakeEngine(IMAGES)
    extend_builder(tmp_path, engine)
    assert not engine.attestations
    assert not [c for c in engine.calls if c.method in ("attest", "verify-attestation")]


def test_each_platform_image_carries_its_own_sbom(tmp_path: Path) -> None:
    per_platform = {
        "linux/amd64": files({"libc6": "2.36-9"}, {"libc6": "2.36-9", "jq": "1.6-2.1"}, "amd64"),
        "linux/arm64": files({"libc6": "2.36-9"}, {"libc6": "2.36-9", "jq": "1.6-2.0"}, "arm64"),
    }
    engine = FakeEngine(IMAGES, package_files={OUT: per_platform})
    options = cnbext.ExtendOptions(
        names=(OUT,),
        publish=True,
        platforms=PLATFORMS,
        sbom=cnbext.SbomFormat.CYCLONEDX,
        sign_key=KEY,
    )
    result = cnbext.extend(extend_toml(tmp_path), options, engine=engine)
    (index_call,) = [c for c in engine.calls if c.method == "index"]
    sources = index_call.target.split("<-", 1)[1].split(",")
    sboms = {
        ref: made for (ref, kind), (_, made) in engine.attestations.items() if kind == "cyclonedx"
    }
    # One SBOM per platform image, by that image's digest; none on the index.
    assert set(sboms) == set(sources)
    versions = set()
    for made in sboms.values():
        components = {c["name"]: c for c in made["predicate"]["components"]}
        versions.add(components["jq"]["version"])
    assert versions == {"1.6-2.1", "1.6-2.0"}
    index = f"{repository(OUT)}@{result.images[0].digest}"
    assert set(engine.attestations) == {
        *((s, "cyclonedx") for s in sources),
        (index, "slsaprovenance1"),
    }


def test_the_attested_provenance_holds_no_secret(tmp_path: Path) -> None:
    engine = FakeEngine(IMAGES)
    options = cnbext.ExtendOptions(
        names=(OUT,),
        publish=True,
        sign_key=KEY,
        platform_env={"API_TOKEN": "s3cret-token", "MIRROR_URL": "https://u:s3cret-pw@m.example/x"},
    )
    config = extend_toml(tmp_path)
    result = cnbext.extend(config, options, engine=engine)
    index = f"{repository(OUT)}@{result.images[0].digest}"
    _, made = engine.attestations[(index, "slsaprovenance1")]
    text = json.dumps(made)
    assert "s3cret" not in text
    recorded = made["predicate"]["buildDefinition"]["externalParameters"]["options"]
    assert recorded["platform_env"] == {"API_TOKEN": None, "MIRROR_URL": None}
    assert recorded["sign_key"] == KEY  # the key by reference, never its password


def test_inspect_and_check_name_a_missing_or_stale_attestation() -> None:
    from cnbext.client.inspect import inspect_image
    from cnbext.client.upgrade import run_upgrade
    from cnbext.client.upgrade_model import UpgradeOptions
    from cnbext.progress import SilentReporter
    from tests.client.test_upgrade import KEY as SIGNED_KEY
    from tests.client.test_upgrade import SIGNED_NAME, signed_views

    digest, old = "sha256:" + "e" * 64, "sha256:" + "0" * 64
    view, _ = signed_views(digest)
    engine = FakeEngine(registry_views={SIGNED_NAME: view})
    reference = f"docker.io/reg/image@{digest}"
    engine.signatures.add((reference, SIGNED_KEY))
    check = UpgradeOptions(names=(SIGNED_NAME,), check=True, publish=True)

    # An upgrade attaches it (only the attestation is missing: a re-sign, nothing built).
    [result] = run_upgrade(replace(check, check=False), SilentReporter(), engine=engine)
    assert (result.state, result.method) == ("upgraded", "re-sign"), result.reasons
    _, made = engine.attestations[(reference, "slsaprovenance1")]
    assert made["predicate"] == json.loads(encode(provenance_predicate(view.labels)))
    shown = inspect_image(SIGNED_NAME, engine=engine)["attestations"]
    assert shown == {"key": SIGNED_KEY, "names": {SIGNED_NAME: {"provenance": "verified"}}}
    [result] = run_upgrade(check, SilentReporter(), engine=engine)
    assert result.state == "up to date", result.reasons

    # A statement about another digest under this one's tag is stale, and says which.
    made["subject"] = [{"name": "docker.io/reg/image", "digest": {"sha256": old[7:]}}]
    states = inspect_image(SIGNED_NAME, engine=engine)["attestations"]["names"][SIGNED_NAME]
    assert states == {"provenance": f"stale: made for {old}, not {digest}"}
    [result] = run_upgrade(check, SilentReporter(), engine=engine)
    assert result.reasons == [
        f"attestations missing or stale under {SIGNED_NAME} "
        f"(provenance: stale: made for {old}, not {digest})"
    ]


def test_an_image_with_its_own_sbom_is_checked_and_re_attested_per_platform() -> None:
    from cnbext.client.inspect import inspect_image
    from cnbext.client.upgrade import run_upgrade
    from cnbext.client.upgrade_model import UpgradeOptions
    from cnbext.cnb.provenance import PROVENANCE, read_provenance
    from cnbext.cnb.sbom import SBOM_PATH
    from cnbext.progress import SilentReporter
    from tests.client.fake_registry import FakeManifest, FakeRegistry
    from tests.client.test_upgrade import KEY as SIGNED_KEY
    from tests.client.test_upgrade import SIGNED_NAME, signed_views

    digest = "sha256:" + "9" * 64
    own = {"linux/amd64": "sha256:" + "1" * 64, "linux/arm64": "sha256:" + "2" * 64}
    view, _ = signed_views(digest)
    recorded = read_provenance(view.labels)
    assert recorded is not None and recorded.request is not None
    request = {**recorded.request, "options": {"sign_key": SIGNED_KEY, "sbom": "cdx"}}
    labelled = replace(recorded, metadata={"packages": ["jq"]}, request=request)
    view = replace(view, labels={PROVENANCE: labelled.encode()})
    repository_ = "docker.io/reg/image"
    engine = FakeEngine(
        registry_views={SIGNED_NAME: view},
        served=FakeRegistry({f"{repository_}@{digest}": FakeManifest(digest, own)}),
        image_files={
            f"{repository_}@{d}": {SBOM_PATH: f'{{"for": "{p}"}}'.encode()} for p, d in own.items()
        },
    )
    engine.signatures.add((f"{repository_}@{digest}", SIGNED_KEY))
    states = inspect_image(SIGNED_NAME, engine=engine)["attestations"]["names"][SIGNED_NAME]
    assert sorted(states) == ["provenance", "sbom (linux/amd64)", "sbom (linux/arm64)"]
    assert not any(state == "verified" for state in states.values())

    check = UpgradeOptions(names=(SIGNED_NAME,), check=True, publish=True)
    [result] = run_upgrade(replace(check, check=False), SilentReporter(), engine=engine)
    assert (result.state, result.method) == ("upgraded", "re-sign"), result.error
    for platform, platform_digest in own.items():
        _, made = engine.attestations[(f"{repository_}@{platform_digest}", "cyclonedx")]
        assert made["predicate"] == {"for": platform}  # that platform's own document
    [result] = run_upgrade(check, SilentReporter(), engine=engine)
    assert result.state == "up to date", result.reasons


def test_a_one_platform_images_provenance_and_sbom_share_its_digest(tmp_path: Path) -> None:
    engine = FakeEngine(IMAGES)
    options = cnbext.ExtendOptions(
        names=(OUT,), publish=True, sbom=cnbext.SbomFormat.CYCLONEDX, sign_key=KEY
    )
    result = cnbext.extend(extend_toml(tmp_path), options, engine=engine)
    reference = f"{repository(OUT)}@{result.images[0].digest}"
    # Both attached (one after the other: they share the digest's .att tag), both verified.
    assert set(engine.attestations) == {(reference, "slsaprovenance1"), (reference, "cyclonedx")}
    _, sbom = engine.attestations[(reference, "cyclonedx")]
    assert "jq" in {c["name"] for c in sbom["predicate"]["components"]}
    verified = [c.target for c in engine.calls if c.method == "verify-attestation"]
    assert sorted(verified) == [f"{reference}#cyclonedx", f"{reference}#slsaprovenance1"]
