"""The diffIDs of COPY --link layers kept between runs (cnbext.engine.layer_cache), and
DockerEngine asking BuildKit only for trees it has not measured on this builder. Not an
engine test: the builds are answered by the recording stand-in `docker` of
test_docker_commands."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from cnbext.engine import layer_cache
from tests.engine.test_docker_commands import engine_with_stand_in


def tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_a_trees_digest_is_its_paths_bytes_modes_and_links_not_where_it_lies(
    tmp_path: Path,
) -> None:
    first = tree(tmp_path / "a", {"cnb/sbom/bom.cdx.json": "{}"})
    same = tree(tmp_path / "b", {"cnb/sbom/bom.cdx.json": "{}"})
    assert layer_cache.tree_digest(first) == layer_cache.tree_digest(same)
    other_bytes = tree(tmp_path / "c", {"cnb/sbom/bom.cdx.json": "[]"})
    other_name = tree(tmp_path / "d", {"cnb/sbom/bom.spdx.json": "{}"})
    other_mode = tree(tmp_path / "e", {"cnb/sbom/bom.cdx.json": "{}"})
    (other_mode / "cnb/sbom/bom.cdx.json").chmod(0o600)
    linked = tree(tmp_path / "f", {"cnb/sbom/bom.cdx.json": "{}"})
    (linked / "cnb/sbom/link").symlink_to("bom.cdx.json")
    relinked = tree(tmp_path / "g", {"cnb/sbom/bom.cdx.json": "{}"})
    (relinked / "cnb/sbom/link").symlink_to("elsewhere")
    digests = {layer_cache.tree_digest(t) for t in (first, other_bytes, other_name, other_mode)}
    digests |= {layer_cache.tree_digest(linked), layer_cache.tree_digest(relinked)}
    assert len(digests) == 6


def test_an_entry_is_found_for_its_key_and_paths_only(tmp_path: Path) -> None:
    trees = {"sbom": tree(tmp_path / "t", {"bom.cdx.json": "{}"})}
    key = layer_cache.cache_key(trees, "docker v0.13 overlayfs 26.1")
    assert layer_cache.load(key, ["sbom"]) is None
    layer_cache.store(key, {"sbom": "sha256:" + "a" * 64})
    assert layer_cache.load(key, ["sbom"]) == {"sbom": "sha256:" + "a" * 64}
    assert layer_cache.load(key, ["sbom", "modules"]) is None
    # Another builder, another key: BuildKit versions may write other tars.
    assert layer_cache.cache_key(trees, "docker-container v0.26.3 overlayfs 26.1") != key


@pytest.mark.parametrize("damage", ["not json", '{"sbom": 7}', '{"sbom": "md5:x"}', "[]"])
def test_a_damaged_entry_is_a_miss(tmp_path: Path, damage: str) -> None:
    trees = {"sbom": tree(tmp_path / "t", {"bom.cdx.json": "{}"})}
    key = layer_cache.cache_key(trees, "b")
    layer_cache.store(key, {"sbom": "sha256:" + "a" * 64})
    (entry,) = (Path(os.environ["CNBEXT_CACHE_DIR"]) / "layers").glob("*.json")
    entry.write_text(damage)
    assert layer_cache.load(key, ["sbom"]) is None


def builds_run(log: Path) -> int:
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    return sum(1 for args in lines if "build" in args and "buildx" in args)


def test_the_engine_measures_a_tree_once_per_builder_unless_told_to_measure_again(
    tmp_path: Path,
) -> None:
    engine, log = engine_with_stand_in(tmp_path)
    engine.ensure_available()
    bom = {"bom.cdx.json": '{"components": []}'}
    first = {"cnbext-sbom-linux-amd64": tree(tmp_path / "one", bom)}
    measured = engine.layer_diff_ids(first)
    assert builds_run(log) == 1
    # The same content in another work folder (the next run's): no build.
    again = {"cnbext-sbom-linux-amd64": tree(tmp_path / "two", bom)}
    assert engine.layer_diff_ids(again) == measured
    assert builds_run(log) == 1
    changed = {"cnbext-sbom-linux-amd64": tree(tmp_path / "three", {"bom.cdx.json": "{}"})}
    engine.layer_diff_ids(changed)
    assert builds_run(log) == 2
    # --no-fact-cache: measured again (and the entry rewritten).
    engine.settings = type(engine.settings)(builder="k8s", fact_cache=False)
    engine.layer_diff_ids(again)
    assert builds_run(log) == 3
