"""Signing on publish with the fake engine: every published digest signed in the repository of
each name, verified under every name before the next image is named; a name whose signature
does not verify stops the builder like a mirror whose digest differs."""

from __future__ import annotations

from pathlib import Path

import pytest

from cnbext.errors import PublishError, UsageError
from tests.client.fake_engine import Call, FakeEngine, digest_of
from tests.client.images import IMAGES
from tests.client.test_publish import (
    BUILDER_OUT,
    MIRROR,
    MIRROR_2,
    RUN_OUT,
    extend_builder,
)

KEY = "/keys/cosign.key"


def signing_calls(engine: FakeEngine) -> list[Call]:
    return [c for c in engine.calls if c.method in ("sign", "verify", "copy")]


def test_each_name_is_signed_and_verified_before_the_builder_is_named(tmp_path: Path) -> None:
    engine = FakeEngine(IMAGES)
    result = extend_builder(tmp_path, engine, sign_key=KEY)
    run = digest_of(RUN_OUT)
    run_refs = [f"{name.rsplit(':', 1)[0]}@{run}" for name in (RUN_OUT, MIRROR, MIRROR_2)]
    calls = signing_calls(engine)
    builder_copy = calls.index(Call("copy", BUILDER_OUT))
    before = calls[:builder_copy]
    # Every repository of the run image's names has its own signature, verified there.
    assert {c for c in before if c.method == "sign"} == {
        Call("sign", ref, publish=True) for ref in run_refs
    }
    assert {c for c in before if c.method == "verify"} == {Call("verify", r) for r in run_refs}
    # The builder is signed and verified after it is named.
    builder = f"localhost:5000/b/builder@{result.images[1].digest}"
    assert calls[builder_copy + 1 :] == [
        Call("sign", builder, publish=True),
        Call("verify", builder),
    ]
    assert (builder, KEY) in engine.signatures


def test_a_mirror_that_drops_the_signature_stops_the_builder(tmp_path: Path) -> None:
    engine = FakeEngine(IMAGES, refuses_signatures={"localhost:5001/stack/run"})
    with pytest.raises(PublishError) as caught:
        extend_builder(tmp_path, engine, sign_key=KEY)
    message = caught.value.message
    assert f"does not verify under {MIRROR}: no signature by {KEY}" in message
    assert f"not published: {BUILDER_OUT}" in message
    assert Call("copy", BUILDER_OUT) not in engine.calls
    assert not any(c.method == "sign" and "builder" in c.target for c in engine.calls)


def test_without_a_key_nothing_is_signed(tmp_path: Path) -> None:
    engine = FakeEngine(IMAGES)
    extend_builder(tmp_path, engine)
    assert not [c for c in engine.calls if c.method in ("sign", "verify")]


def test_signing_needs_publish(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--sign needs --publish"):
        extend_builder(tmp_path, FakeEngine(IMAGES), sign_key=KEY, publish=False)


def test_the_dry_run_shows_the_signing_steps(tmp_path: Path) -> None:
    from cnbext.client.extend_builder import extend_builder as run
    from tests.client.images import extend_builder_toml
    from tests.client.test_publish import options

    result = run(
        extend_builder_toml(tmp_path),
        options(sign_key=KEY),
        engine=FakeEngine(IMAGES),
        dry_run=True,
    )
    steps = result.plan.steps()
    signing = [s for s in steps if s.startswith(("sign ", "verify "))]
    assert signing[0].startswith(f"sign the run image's digest with cosign (key {KEY})")
    assert steps.index(signing[1]) < steps.index(next(s for s in steps if BUILDER_OUT in s))
    assert result.plan.to_dict()["signKey"] == KEY


def test_each_per_platform_name_is_signed_and_verified_with_its_platform_digest(
    tmp_path: Path,
) -> None:
    # --append-image-name-suffix: NAME-os-arch serves that platform's image, which has a
    # digest of its own: signed in the index's repository and verified under that name.
    from dataclasses import replace

    from cnbext.client.publish import apply_plan
    from tests.client.test_publish import platform_digest

    engine = FakeEngine(IMAGES)
    planned = extend_builder(tmp_path, engine, sign_key=KEY).plan
    run, builder = planned.builds
    ones = tuple(
        replace(builder, names=(f"{BUILDER_OUT}-linux-{arch}",), platforms=(f"linux/{arch}",))
        for arch in ("amd64", "arm64")
    )
    joined = replace(builder, per_platform=ones, tag_platforms=True)
    engine.calls.clear()
    images = apply_plan(engine, replace(planned, builds=(run, joined)))
    repository = BUILDER_OUT.rsplit(":", 1)[0]
    own = [f"{repository}@{platform_digest(one)}" for one in ones]
    index = f"{repository}@{images[1].digest}"
    calls = [c for c in engine.calls if c.method in ("sign", "verify") and "builder" in c.target]
    assert calls == [
        Call("sign", index, publish=True),
        Call("verify", index),
        *(c for ref in own for c in (Call("sign", ref, publish=True), Call("verify", ref))),
    ]
    assert all((ref, KEY) in engine.signatures for ref in own)
    steps = replace(planned, builds=(run, joined)).steps()
    assert f"sign {ones[1].primary_name}'s digest (its platform's image) and verify it there" in (
        steps
    )
