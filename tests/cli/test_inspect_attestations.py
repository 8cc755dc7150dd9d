"""inspect's text view lists, per name, each attestation and whether it verifies."""

from __future__ import annotations

import io

from rich.console import Console

from cnbext.cli.inspect import render_inspect
from cnbext.client.inspect import inspect_image
from cnbext.cnb.slsa import encode, provenance_predicate
from tests.client.fake_engine import FakeEngine
from tests.client.test_upgrade import KEY, SIGNED_NAME, signed_views


def shown(engine: FakeEngine) -> list[str]:
    out = io.StringIO()
    render_inspect(inspect_image(SIGNED_NAME, engine=engine), Console(file=out, width=300))
    return [" ".join(line.split()) for line in out.getvalue().splitlines()]


def test_each_names_attestations_are_shown_verified_or_why_not() -> None:
    digest = "sha256:" + "f" * 64
    view, unsigned = signed_views(digest)
    engine = FakeEngine(registry_views={SIGNED_NAME: view})
    reference = f"docker.io/reg/image@{digest}"
    missing = f"no slsaprovenance1 attestation by {KEY} for {reference}"
    assert f"attestation {SIGNED_NAME}: provenance: {missing}" in shown(engine)
    engine.attest(reference, KEY, encode(provenance_predicate(view.labels)), "slsaprovenance1")
    assert f"attestation {SIGNED_NAME}: provenance: verified" in shown(engine)
    # An image that was not signed has no attestations to show.
    plain = FakeEngine(registry_views={SIGNED_NAME: unsigned})
    assert not [line for line in shown(plain) if line.startswith("attestation")]
    assert inspect_image(SIGNED_NAME, engine=plain)["attestations"] is None
