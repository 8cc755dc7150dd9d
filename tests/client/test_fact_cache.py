"""The fact cache: a warm run reads no image, a changed digest is a miss, the bypass works,
and a damaged entry is only a miss."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

import cnbext
from cnbext.client import fact_cache
from cnbext.client.origin import origin_of
from cnbext.engine.models import ImageSource
from cnbext.engine.settings import EngineSettings
from tests.client.fake_engine import Call, FakeEngine
from tests.client.fake_registry import FakeRegistry
from tests.client.images import IMAGES, RUN, RUN_NAME, extend_toml

OUT = "localhost:5000/x/extended:1"


def plan_twice(tmp_path: Path, first: FakeEngine, second: FakeEngine, **changes: object) -> None:
    config = extend_toml(tmp_path)
    options = cnbext.ExtendOptions(names=(OUT,), **changes)  # type: ignore[arg-type]
    for engine in (first, second):
        cnbext.extend(config, options, dry_run=True, engine=engine)


def test_a_warm_run_locates_the_image_but_does_not_read_it(tmp_path: Path) -> None:
    cold, warm = FakeEngine(IMAGES), FakeEngine(IMAGES)
    plan_twice(tmp_path, cold, warm)
    assert cold.calls == [Call("locate", RUN_NAME), Call("resolve", RUN_NAME)]
    assert warm.calls == [Call("locate", RUN_NAME)]


def test_the_cached_facts_plan_the_same(tmp_path: Path) -> None:
    config = extend_toml(tmp_path)
    options = cnbext.ExtendOptions(names=(OUT,))
    cold = cnbext.extend(config, options, dry_run=True, engine=FakeEngine(IMAGES))
    warm = cnbext.extend(config, options, dry_run=True, engine=FakeEngine(IMAGES))
    assert warm.plan.to_dict() == cold.plan.to_dict()


def test_a_new_digest_is_a_miss(tmp_path: Path) -> None:
    rebuilt = {**IMAGES, RUN_NAME: replace(RUN, image_id="sha256:" + "9" * 64)}
    second = FakeEngine(rebuilt)
    plan_twice(tmp_path, FakeEngine(IMAGES), second)
    assert Call("resolve", RUN_NAME) in second.calls


def test_another_platform_is_a_miss(tmp_path: Path) -> None:
    source = ImageSource(RUN_NAME, RUN.image_id, in_daemon=True)
    fact_cache.store(source, "linux/amd64", ("/usr/bin/apt-get",), RUN)
    assert fact_cache.load(source, "linux/amd64", ("/usr/bin/apt-get",)) == RUN
    assert fact_cache.load(source, "linux/arm64", ("/usr/bin/apt-get",)) is None
    assert fact_cache.load(source, "linux/amd64", ("/usr/bin/apk",)) is None


def test_the_engine_setting_bypasses_the_cache(tmp_path: Path) -> None:
    second = FakeEngine(IMAGES, settings=EngineSettings(fact_cache=False))
    plan_twice(tmp_path, FakeEngine(IMAGES), second)
    assert Call("resolve", RUN_NAME) in second.calls


def test_the_environment_bypasses_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CNBEXT_NO_FACT_CACHE", "1")
    second = FakeEngine(IMAGES)
    plan_twice(tmp_path, FakeEngine(IMAGES), second)
    assert Call("resolve", RUN_NAME) in second.calls


def test_a_damaged_entry_is_a_miss(tmp_path: Path, own_cache_dir: Path) -> None:
    source = ImageSource(RUN_NAME, RUN.image_id, in_daemon=False)
    fact_cache.store(source, None, (), RUN)
    (entry,) = (own_cache_dir / "facts").iterdir()
    entry.write_text('{"user": 1')
    assert fact_cache.load(source, None, ()) is None
    entry.write_text("[]")
    assert fact_cache.load(source, None, ()) is None


def test_entries_are_named_as_asked(tmp_path: Path) -> None:
    stored = ImageSource(RUN_NAME, RUN.image_id, in_daemon=False)
    fact_cache.store(stored, None, (), RUN)
    other_name = ImageSource("localhost:5001/mirror/run:1", RUN.image_id, in_daemon=False)
    loaded = fact_cache.load(other_name, None, ())
    # Read under the mirror's name, the image comes from the mirror's repository: that is the
    # digest its provenance records (the entry was written for the first repository).
    assert loaded == replace(
        RUN,
        reference="localhost:5001/mirror/run:1",
        repo_digests=(f"localhost:5001/mirror/run@{RUN.image_id}",),
    )


def test_the_same_content_under_another_name_records_its_own_origin(tmp_path: Path) -> None:
    """Two bases with the same content (the same digest in two repositories): the second
    extend takes the facts from the cache and must still record where its base came from."""
    registry = FakeRegistry({})
    first = ImageSource(RUN_NAME, RUN.image_id, in_daemon=False)
    fact_cache.store(
        first, None, (), replace(RUN, repo_digests=(f"localhost:5000/stack/run@{RUN.image_id}",))
    )
    second = "localhost:5000/other/run:1"
    loaded = fact_cache.load(ImageSource(second, RUN.image_id, in_daemon=False), None, ())
    assert loaded is not None
    assert origin_of(loaded, second, registry).digest == RUN.image_id
