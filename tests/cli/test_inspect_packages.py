"""inspect shows what a build installed, per platform, in JSON and as a table."""

from __future__ import annotations

import io

from rich.console import Console

from cnbext.cli.inspect import render_inspect
from cnbext.client.inspect import inspect_image
from cnbext.cnb.installed import (
    PACKAGES_LABEL,
    Installed,
    Package,
    package_changes,
    packages_label,
)
from cnbext.engine.models import ImageView
from tests.client.fake_engine import FakeEngine

NAME = "localhost:5000/x/extended:1"


def view(labels: dict[str, str]) -> ImageView:
    return ImageView(NAME, "registry", "sha256:" + "a" * 64, ("linux/amd64",), labels, "1000", {})


def label() -> str:
    base = Installed("dpkg", {("libc6", "arm64"): Package("libc6", "2.36-9", "arm64", "glibc")})
    after = {
        ("libc6", "arm64"): Package("libc6", "2.36-9+deb12u4", "arm64", "glibc"),
        ("jq", "arm64"): Package("jq", "1.6-2.1", "arm64", "jq"),
    }
    changes = package_changes(base, Installed("dpkg", after))
    return packages_label({"linux/arm64": changes})


def test_inspect_shows_each_platforms_packages_in_json_and_text() -> None:
    engine = FakeEngine(registry_views={NAME: view({PACKAGES_LABEL: label()})})
    document = inspect_image(NAME, engine=engine)
    arm64 = document["packages"]["linux/arm64"]
    assert arm64["database"] == "dpkg"
    assert [(p["name"], p["version"]) for p in arm64["added"]] == [("jq", "1.6-2.1")]
    assert arm64["upgraded"][0]["previous"] == "2.36-9"

    out = io.StringIO()
    render_inspect(document, Console(file=out, width=200))
    lines = [" ".join(line.split()) for line in out.getvalue().splitlines()]
    assert "linux/arm64 added jq 1.6-2.1 arm64 jq" in lines
    assert "linux/arm64 upgraded libc6 2.36-9 -> 2.36-9+deb12u4 arm64 glibc" in lines


def test_an_image_without_the_label_shows_no_packages() -> None:
    engine = FakeEngine(registry_views={NAME: view({PACKAGES_LABEL: "not json"})})
    document = inspect_image(NAME, engine=engine)
    assert document["packages"] is None
    out = io.StringIO()
    render_inspect(document, Console(file=out, width=200))
    assert "installed packages" not in out.getvalue()
