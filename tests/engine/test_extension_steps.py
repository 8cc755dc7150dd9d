"""OCI layout reading and rewriting for chained extension steps: plain files, no Docker."""

from __future__ import annotations

import hashlib
from pathlib import Path

from cnbext.engine.extension_steps import read_layout, rewrite_layout
from tests.fixtures.oci_layout import configs, write_layout

TWO = {
    "linux/amd64": {"User": "1001:1000", "Labels": {"a": "1"}, "history": ["base", "RUN x"]},
    "linux/arm64": {"User": "1001:1000", "Labels": {"a": "1"}, "history": ["base", "RUN x"]},
}


def test_read_a_multi_platform_layout(tmp_path: Path) -> None:
    image = read_layout(write_layout(tmp_path, TWO))
    assert [c.platform for c in image.configs] == ["linux/amd64", "linux/arm64"]
    assert {(c.user, c.history) for c in image.configs} == {("1001:1000", 2)}
    assert {c.diff_ids for c in image.configs} == {("sha256:" + "0" * 64,)}
    assert image.context == f"oci-layout://{tmp_path}@{image.digest}"


def test_rewrite_names_new_history_and_sets_labels_with_new_digests(tmp_path: Path) -> None:
    image = read_layout(write_layout(tmp_path, TWO))
    rewritten = rewrite_layout(
        image,
        keep_history={"linux/amd64": 1, "linux/arm64": 1},
        history_template="Layer: '{created_by}', Created by extension: a/b",
        labels={"io.buildpacks.rebasable": "false"},
    )
    assert rewritten.digest != image.digest
    for config in configs(tmp_path):
        assert [h["created_by"] for h in config["history"]] == [
            "base",
            "Layer: 'RUN x', Created by extension: a/b",
        ]
        assert config["config"]["Labels"] == {"a": "1", "io.buildpacks.rebasable": "false"}
        assert config["rootfs"]["diff_ids"] == ["sha256:" + "0" * 64]  # layers untouched
    # Every blob is stored under its own digest.
    for blob in (tmp_path / "blobs" / "sha256").iterdir():
        assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.name


def test_single_platform_layout_and_a_no_op_rewrite(tmp_path: Path) -> None:
    image = read_layout(write_layout(tmp_path, {"linux/amd64": {"User": "root"}}))
    assert [c.user for c in image.configs] == ["root"]
    assert rewrite_layout(image) == image
    relabeled = rewrite_layout(image, labels={"x": "y"})
    assert relabeled.configs[0].labels == {"x": "y"}
    assert read_layout(tmp_path) == relabeled
