"""A recorded builder.toml whose local sources are gone takes them from the builder itself."""

from __future__ import annotations

from typing import Any

from cnbext.plan.builder_sources import from_builder

BUILDER = "localhost:5000/b/builder@sha256:" + "a" * 64
DOCUMENT: dict[str, Any] = {
    "buildpacks": [{"uri": "/gone/hello"}, {"uri": "/here/jq-report"}],
    "extensions": [{"uri": "/here/curl"}],
    "lifecycle": {"uri": "/gone/lifecycle.tgz"},
    "order": [{"group": [{"id": "examples/hello"}]}],
}


def test_a_table_with_a_gone_source_is_taken_whole_from_the_builder() -> None:
    document, replaced = from_builder(DOCUMENT, BUILDER, lambda path: path.startswith("/here"))
    # The builder holds every module of the table: one entry brings them all, none twice.
    assert document["buildpacks"] == [{"uri": f"docker://{BUILDER}"}]
    assert document["extensions"] == DOCUMENT["extensions"]
    assert document["lifecycle"] == {"uri": f"docker://{BUILDER}"}
    assert document["order"] == DOCUMENT["order"]
    assert replaced == ["[[buildpacks]]", "[lifecycle]"]
    assert DOCUMENT["buildpacks"][0] == {"uri": "/gone/hello"}, "the recorded one is unchanged"


def test_sources_that_exist_or_are_not_local_are_kept() -> None:
    remote = {
        "buildpacks": [{"uri": "docker://reg/bp:1"}, {"uri": "https://example.com/bp.tgz"}],
        "lifecycle": {"version": "0.21.0"},
    }
    assert from_builder(remote, BUILDER, lambda _: False) == (remote, [])
    assert from_builder(DOCUMENT, BUILDER, lambda _: True) == (DOCUMENT, [])
