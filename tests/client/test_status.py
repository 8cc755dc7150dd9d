"""Staleness and mirror checks over a stand-in registry (the real one: tests/engine)."""

from __future__ import annotations

from cnbext.client.status import base_status, mirror_statuses, upgrade_reasons
from cnbext.cnb.provenance import BaseRecord, Provenance, RunImageRecord
from tests.client.fake_registry import FakeManifest, FakeRegistry

OLD, NEW, AMD, ARM, ARM2 = (f"sha256:{c * 64}" for c in "abcde")


def test_a_moved_base_is_stale_and_an_unmoved_one_current() -> None:
    record = BaseRecord("reg/base:1", OLD, {"linux/amd64": AMD})
    moved = FakeRegistry({"reg/base:1": FakeManifest(NEW, {"linux/amd64": ARM})})
    status = base_status(record, moved)
    assert (status.state, status.moved_platforms) == ("stale", ("linux/amd64",))
    same = FakeRegistry({"reg/base:1": FakeManifest(OLD)})
    assert base_status(record, same).state == "current"


def test_a_platform_added_to_the_base_index_is_not_a_move() -> None:
    record = BaseRecord("reg/base:1", OLD, {"linux/amd64": AMD})
    grown = FakeRegistry(
        {"reg/base:1": FakeManifest(NEW, {"linux/amd64": AMD, "linux/arm64": ARM2})}
    )
    assert base_status(record, grown).state == "current"


def test_unknown_when_not_from_a_registry_or_gone() -> None:
    registry = FakeRegistry({})
    assert base_status(BaseRecord("local/base"), registry).state == "unknown"
    gone = base_status(BaseRecord("reg/base:1", OLD), registry)
    assert (gone.state, gone.why) == ("unknown", "reg/base:1 is gone")


def test_mirrors_are_equal_different_or_missing() -> None:
    registry = FakeRegistry(
        {"run:1": FakeManifest(OLD), "m1:1": FakeManifest(OLD), "m2:1": FakeManifest(NEW)}
    )
    run, mirrors = mirror_statuses("run:1", ["m1:1", "m2:1", "m3:1"], registry)
    assert run.state == "present"
    assert [m.state for m in mirrors] == ["equal", "different", "missing"]


def test_reasons_name_the_run_base_the_build_id_and_a_new_default_lifecycle() -> None:
    provenance = Provenance(
        command="create-builder",
        role="builder",
        tool_version="0.1.0",
        base=BaseRecord("reg/build:1", OLD),
        platforms=("linux/amd64",),
        metadata={},
        run_image=RunImageRecord("reg/run:1", (), BaseRecord("reg/run:1", OLD), {}),
        lifecycle={"version": "0.20.0", "requested": {"default": True}},
    )
    registry = FakeRegistry({"reg/build:1": FakeManifest(OLD), "reg/run:1": FakeManifest(NEW)})
    reasons = upgrade_reasons(
        provenance,
        registry,
        build_id="b2",
        default_lifecycle="0.21.0",
    )
    assert reasons == [
        "run image base reg/run:1 moved",
        "build id (fresh) -> b2",
        "lifecycle 0.20.0 -> 0.21.0 (default)",
    ]
    registry.tags["reg/run:1"] = FakeManifest(OLD)
    assert upgrade_reasons(provenance, registry, default_lifecycle="0.20.0") == []
