"""Upgrade decisions that need no registry: recorded extensions and flag checks."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from cnbext.client.upgrade import (
    _Checked,
    _extensions,
    _rebasable,
    _split_covered,
    replay_inputs,
    run_upgrade,
)
from cnbext.client.upgrade_model import UpgradeOptions, UpgradeResult
from cnbext.cnb.provenance import PROVENANCE, BaseRecord, ExtensionRecord, Provenance
from cnbext.config.extension_request import ExtensionRequest
from cnbext.engine.models import ImageView
from cnbext.errors import UsageError
from cnbext.progress import SilentReporter
from tests.client.fake_engine import Call, FakeEngine
from tests.client.fake_registry import FakeManifest, FakeRegistry


def provenance(uri: str) -> Provenance:
    return Provenance(
        command="extend",
        role="image",
        tool_version="0.1.0",
        base=BaseRecord("reg/base:1"),
        platforms=(),
        metadata={},
        extensions=(ExtensionRecord(uri, "example/curl", "1.0.0"),),
    )


def test_a_recorded_extension_folder_that_is_gone_is_named(tmp_path: Path) -> None:
    gone = str(tmp_path / "extensions" / "curl")
    with pytest.raises(UsageError, match=r"example/curl was applied from .*extensions/curl"):
        _extensions("reg/image:1", provenance(gone), UpgradeOptions(names=("reg/image:1",)))


def test_extension_flags_override_the_recorded_ones(tmp_path: Path) -> None:
    flag = ExtensionRequest(str(tmp_path))
    options = UpgradeOptions(names=("reg/image:1",), extensions=(flag,))
    assert _extensions("reg/image:1", provenance("/gone"), options) == (flag,)
    (tmp_path / "curl").mkdir()
    recorded = _extensions("x", provenance(str(tmp_path / "curl")), UpgradeOptions(names=("x",)))
    assert recorded == (ExtensionRequest(str(tmp_path / "curl"), "example/curl", "1.0.0"),)


def test_rebase_takes_auto_or_never() -> None:
    with pytest.raises(UsageError, match="--rebase sometimes"):
        run_upgrade(UpgradeOptions(names=("x",), rebase="sometimes"), SilentReporter())


def _view(name: str, labels: dict[str, str], source: str) -> ImageView:
    return ImageView(name, source, None, ("linux/amd64",), labels, "", {})


def test_images_are_read_through_the_engine_and_publish_reads_the_registry_only() -> None:
    label = {PROVENANCE: provenance("docker://reg/ext:1").encode()}
    name = "docker.io/reg/image:1"  # as upgrade normalizes it
    engine = FakeEngine(
        daemon_views={name: _view(name, {}, "daemon")},
        registry_views={name: _view(name, label, "registry")},
    )
    options = UpgradeOptions(names=("reg/image:1",), check=True)
    [local] = run_upgrade(options, SilentReporter(), engine=engine)
    assert local.state == "failed" and "no cnbext provenance" in str(local.error)
    [published] = run_upgrade(replace(options, publish=True), SilentReporter(), engine=engine)
    # The recorded base is not from a registry: nothing to compare, so nothing to do.
    assert published.state == "up to date", published.error
    assert [c.method for c in engine.calls] == ["read", "read"]
    assert engine.made() == []


def test_recorded_extension_metadata_and_pins_are_replayed(tmp_path: Path) -> None:
    record = ExtensionRecord(
        "docker://reg/ext:1", "example/curl", "1.0.0", None, {"tool": "2"}, "d" * 64
    )
    recorded = replace(provenance("/unused"), extensions=(record,))
    (request,) = _extensions("x", recorded, UpgradeOptions(names=("x",)))
    assert request == ExtensionRequest(
        "docker://reg/ext:1", "example/curl", "1.0.0", metadata={"tool": "2"}, sha256="d" * 64
    )


def _checked(name: str, before: str, recorded: Provenance) -> _Checked:
    names = ("docker.io/reg/image:1", "docker.io/reg/image:latest")
    saved = (name, *(n for n in names if n != name))
    return _Checked(UpgradeResult(name, "needs upgrade", before=before), recorded, {}, saved)


def test_a_name_saved_by_another_names_upgrade_is_not_upgraded_twice() -> None:
    recorded = provenance("/unused")
    first = _checked("docker.io/reg/image:1", "sha256:1", recorded)
    same = _checked("docker.io/reg/image:latest", "sha256:1", recorded)
    other = _checked("docker.io/reg/image:latest", "sha256:2", recorded)  # another image now
    leaders, covered = _split_covered([first, same, other])
    assert leaders == [first, other]
    assert covered == [(same, first)]


def test_a_rebuild_replays_env_and_app_and_asks_again_for_secret_values(tmp_path: Path) -> None:
    recorded = replace(
        provenance("/unused"),
        platform_env={"GREETING": "hi", "TOKEN": None},
        app=str(tmp_path),
    )
    options = UpgradeOptions(names=("x",))
    with pytest.raises(UsageError, match="given TOKEN, whose value is not recorded") as caught:
        replay_inputs("x", recorded, options)
    assert caught.value.hint == "--env TOKEN=..."
    given = replace(options, platform_env={"TOKEN": "t", "GREETING": "hello"})
    assert replay_inputs("x", recorded, given) == ({"GREETING": "hello", "TOKEN": "t"}, tmp_path)
    gone = replace(recorded, app=str(tmp_path / "gone"))
    with pytest.raises(UsageError, match=r"app folder .*gone, which no longer exists"):
        replay_inputs("x", gone, given)
    assert replay_inputs("x", gone, replace(given, app_dir=tmp_path))[1] == tmp_path


def test_a_moved_base_is_found_through_the_engines_registry() -> None:
    old, new = "sha256:" + "a" * 64, "sha256:" + "b" * 64
    recorded = replace(provenance("/unused"), base=BaseRecord("reg/base:1", old), extensions=())
    name = "docker.io/reg/image:1"
    engine = FakeEngine(
        registry_views={name: _view(name, {PROVENANCE: recorded.encode()}, "registry")},
        served=FakeRegistry({"reg/base:1": FakeManifest(new)}),
    )
    options = UpgradeOptions(names=("reg/image:1",), check=True, publish=True)
    [result] = run_upgrade(options, SilentReporter(), engine=engine)
    assert result.state == "needs upgrade", result.error
    assert result.reasons == ["base reg/base:1 moved"]
    engine.served.tags["reg/base:1"] = FakeManifest(old)
    [result] = run_upgrade(options, SilentReporter(), engine=engine)
    assert result.state == "up to date", result.reasons


@pytest.mark.parametrize(
    ("changes", "labels", "rebasable"),
    [
        ({}, {"io.buildpacks.rebasable": "true"}, True),
        ({}, {"io.buildpacks.rebasable": "false"}, False),
        # An SBOM layer cnbext wrote lists the base's packages: a new base makes it false.
        (
            {"metadata": {"packages": ["jq"]}, "request": {"options": {"sbom": "cdx"}}},
            {"io.buildpacks.rebasable": "true"},
            False,
        ),
        (
            {"metadata": {"packages": ["jq"]}, "request": {"options": {"sbom": "none"}}},
            {"io.buildpacks.rebasable": "true"},
            True,
        ),
        ({"command": "create-builder", "role": "builder"}, {}, True),
        ({"command": "extend-builder", "role": "builder"}, {}, True),
        (
            {"command": "create-builder", "role": "builder", "metadata": {"packages": ["jq"]}},
            {},
            False,
        ),
        ({"command": "create-builder", "role": "run image"}, {}, False),
        # cnbext's own judgement is in the provenance; the label is then the base's business.
        ({"rebasable": True}, {}, True),
        ({"rebasable": True}, {"io.buildpacks.rebasable": "false"}, True),
        ({"rebasable": False}, {"io.buildpacks.rebasable": "true"}, False),
        ({"command": "create-builder", "role": "run image", "rebasable": True}, {}, True),
        ({"command": "extend-builder", "role": "run image", "rebasable": False}, {}, False),
        # Made by an older cnbext: no judgement recorded, it wrote the label.
        (
            {"command": "extend-builder", "role": "run image"},
            {"io.buildpacks.rebasable": "true"},
            True,
        ),
        (
            {"command": "extend-builder", "role": "run image", "metadata": {"packages": ["jq"]}},
            {"io.buildpacks.rebasable": "false"},
            False,
        ),
    ],
)
def test_what_is_rebased_registry_side(
    changes: dict[str, object], labels: dict[str, str], rebasable: bool
) -> None:
    recorded = replace(provenance("/unused"), extensions=(), **changes)  # type: ignore[arg-type]
    checked = _Checked(
        UpgradeResult("x", "needs upgrade", reasons=["base reg/base:1 moved"]), recorded, labels
    )
    options = UpgradeOptions(names=("x",), publish=True)
    assert _rebasable(checked, options) is rebasable
    # Never without --publish, with --rebase never, or when more than the base moved.
    assert not _rebasable(checked, replace(options, publish=False))
    assert not _rebasable(checked, replace(options, rebase="never"))
    other = replace(checked, result=UpgradeResult("x", "needs upgrade", reasons=["lifecycle 0.21"]))
    assert not _rebasable(other, options)
    if recorded.role == "builder":
        # A builder's image extensions may write other build.Dockerfiles on the new base.
        extended = replace(recorded, extensions=provenance("/e").extensions)
        assert not _rebasable(replace(checked, provenance=extended), options)


KEY, SIGNED_NAME = "/keys/cosign.key", "docker.io/reg/image:1"


def signed_views(digest: str) -> tuple[ImageView, ImageView]:
    """SIGNED_NAME published at ``digest``: signed with KEY when made, and not signed."""
    signed = replace(
        provenance("/unused"),
        extensions=(),
        request={"command": "extend", "options": {"sign_key": KEY}, "config": {}},
    )
    view = replace(_view(SIGNED_NAME, {PROVENANCE: signed.encode()}, "registry"), digest=digest)
    unsigned = replace(view, labels={PROVENANCE: replace(signed, request=None).encode()})
    return view, unsigned


def test_a_missing_signature_is_reported_by_check_and_re_signed_by_upgrade() -> None:
    key, digest, name = KEY, "sha256:" + "c" * 64, SIGNED_NAME
    view, unsigned = signed_views(digest)
    engine = FakeEngine(registry_views={name: view})
    check = UpgradeOptions(names=("reg/image:1",), check=True, publish=True)
    [result] = run_upgrade(check, SilentReporter(), engine=engine)
    assert result.state == "needs upgrade", result.error
    assert result.reasons == [
        f"signature missing or stale under {name} (no signature by {key} for {digest} "
        "in docker.io/reg/image)",
        f"attestations missing or stale under {name} (provenance: no slsaprovenance1 "
        f"attestation by {key} for docker.io/reg/image@{digest})",
    ]
    [result] = run_upgrade(replace(check, check=False), SilentReporter(), engine=engine)
    assert (result.state, result.method, result.after) == ("upgraded", "re-sign", digest)
    assert engine.made() == [
        Call("sign", f"docker.io/reg/image@{digest}", publish=True),
        Call("attest", f"docker.io/reg/image@{digest}#slsaprovenance1", publish=True),
    ]
    [result] = run_upgrade(check, SilentReporter(), engine=engine)
    assert result.state == "up to date", result.reasons
    # Not signed when made, no --sign: nothing to check.
    [result] = run_upgrade(
        check, SilentReporter(), engine=FakeEngine(registry_views={name: unsigned})
    )
    assert result.state == "up to date", result.reasons


def test_inspect_shows_whether_each_name_has_a_verified_signature() -> None:
    from cnbext.client.inspect import inspect_image

    key, digest, name = KEY, "sha256:" + "d" * 64, SIGNED_NAME
    view, unsigned = signed_views(digest)
    engine = FakeEngine(registry_views={name: view})
    engine.signatures.add((f"docker.io/reg/image@{digest}", key))
    assert inspect_image(name, engine=engine)["signatures"] == {
        "key": key,
        "names": {name: "verified"},
    }
    engine.signatures.clear()
    states = inspect_image(name, engine=engine)["signatures"]["names"]
    assert states[name].startswith(f"no signature by {key}")
    plain = inspect_image(name, engine=FakeEngine(registry_views={name: unsigned}))
    assert plain["signatures"] is None


def test_a_run_image_upgraded_with_its_builder_is_left_to_the_builders_upgrade() -> None:
    from cnbext.cnb.provenance import RunImageRecord

    builder = replace(
        provenance("/unused"),
        command="extend-builder",
        role="builder",
        run_image=RunImageRecord("docker.io/reg/run:1", ("docker.io/m/run:1",), None, {}),
    )
    run = replace(provenance("/unused"), command="extend-builder", role="run image")
    run_checked = _checked("docker.io/reg/run:1", "sha256:3", run)
    mirror_checked = _checked("docker.io/m/run:1", "sha256:3", run)
    builder_checked = _checked("docker.io/reg/builder:1", "sha256:4", builder)
    leaders, covered = _split_covered([run_checked, builder_checked, mirror_checked])
    assert leaders == [builder_checked]
    assert covered == [(run_checked, builder_checked), (mirror_checked, builder_checked)]
    # Alone, the run image is upgraded by its own name.
    assert _split_covered([run_checked]) == ([run_checked], [])


def _suffix_signed_view(digest: str) -> ImageView:
    """SIGNED_NAME as a two-platform index published with --append-image-name-suffix and
    --sign: NAME-linux-amd64 and NAME-linux-arm64 each serve their platform's digest."""
    view, _ = signed_views(digest)
    signed = replace(
        provenance("/unused"),
        extensions=(),
        request={
            "command": "create-builder",
            "options": {"sign_key": KEY, "append_image_name_suffix": True},
            "config": {},
        },
    )
    own = {"linux/amd64": "sha256:" + "1" * 64, "linux/arm64": "sha256:" + "2" * 64}
    return replace(
        view,
        labels={PROVENANCE: signed.encode()},
        platforms=tuple(own),
        platform_digests=own,
    )


def test_per_platform_names_are_checked_and_re_signed_by_their_own_digest() -> None:
    from cnbext.client.inspect import inspect_image

    digest = "sha256:" + "e" * 64
    view = _suffix_signed_view(digest)
    engine = FakeEngine(registry_views={SIGNED_NAME: view})
    engine.signatures.add((f"docker.io/reg/image@{digest}", KEY))
    amd64, arm64 = (f"{SIGNED_NAME}-linux-{arch}" for arch in ("amd64", "arm64"))
    states = inspect_image(SIGNED_NAME, engine=engine)["signatures"]["names"]
    assert list(states) == [SIGNED_NAME, amd64, arm64]
    assert states[SIGNED_NAME] == "verified"
    assert states[amd64] == f"no signature by {KEY} for sha256:{'1' * 64} in docker.io/reg/image"
    check = UpgradeOptions(names=(SIGNED_NAME,), check=True, publish=True)
    [result] = run_upgrade(check, SilentReporter(), engine=engine)
    assert [r for r in result.reasons if r.startswith("signature")] == [
        f"signature missing or stale under {amd64} (no signature by {KEY} for sha256:{'1' * 64} "
        "in docker.io/reg/image)",
        f"signature missing or stale under {arm64} (no signature by {KEY} for sha256:{'2' * 64} "
        "in docker.io/reg/image)",
    ]
    [result] = run_upgrade(replace(check, check=False), SilentReporter(), engine=engine)
    assert (result.state, result.method) == ("upgraded", "re-sign"), result.error
    signed = [c.target for c in engine.made() if c.method == "sign"]
    assert signed == [
        f"docker.io/reg/image@{digest}",
        *(f"docker.io/reg/image@sha256:{c * 64}" for c in "12"),
    ]
    [result] = run_upgrade(check, SilentReporter(), engine=engine)
    assert result.state == "up to date", result.reasons
    states = inspect_image(SIGNED_NAME, engine=engine)["signatures"]["names"]
    assert set(states.values()) == {"verified"}
