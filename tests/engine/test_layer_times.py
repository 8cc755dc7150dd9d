"""Clamping the file times of an extension step's new layers in an OCI layout: plain files,
no Docker. The base's layers stay byte for byte; the new ones are the same bytes whenever
the same files are written at another time."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Any

from cnbext.engine.extension_steps import read_layout
from cnbext.engine.layer_times import clamp_new_layers
from tests.fixtures.oci_layout import INDEX, MANIFEST, configs

EPOCH = 1_700_000_000
LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def tar_bytes(entries: list[tuple[str, bytes | None, int]]) -> bytes:
    """A layer's tar: (name, content or None for a directory, mtime); "x -> y" a symlink."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, content, mtime in entries:
            info = tarfile.TarInfo(name.split(" -> ")[0])
            info.mtime = mtime
            if " -> " in name:
                info.type, info.linkname = tarfile.SYMTYPE, name.split(" -> ")[1]
            elif content is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
            else:
                info.size = len(content)
            info.pax_headers = {"atime": str(mtime + 5)}
            tar.addfile(info, io.BytesIO(content) if content is not None else None)
    return buffer.getvalue()


def store(root: Path, data: bytes) -> dict[str, Any]:
    digest = hashlib.sha256(data).hexdigest()
    (root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (root / "blobs" / "sha256" / digest).write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def layout(root: Path, layers: list[bytes], arches: tuple[str, ...]) -> Path:
    """One image with the given layer tars (gzip'd with a time, as a build would) per arch."""
    manifests = []
    for arch in arches:
        blobs = [gzip.compress(t, mtime=EPOCH + 99) for t in layers]
        diff_ids = ["sha256:" + hashlib.sha256(t).hexdigest() for t in layers]
        config = {"architecture": arch, "os": "linux", "rootfs": {"diff_ids": diff_ids}}
        manifest = {
            "schemaVersion": 2,
            "mediaType": MANIFEST,
            "config": store(root, json.dumps(config).encode()),
            "layers": [{"mediaType": LAYER, **store(root, b)} for b in blobs],
        }
        descriptor = {"mediaType": MANIFEST, **store(root, json.dumps(manifest).encode())}
        manifests.append({**descriptor, "platform": {"os": "linux", "architecture": arch}})
    index = {"schemaVersion": 2, "mediaType": INDEX, "manifests": manifests}
    top = {"mediaType": INDEX, **store(root, json.dumps(index).encode())}
    (root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [top]}))
    return root


BASE = tar_bytes([("etc", None, EPOCH + 500), ("etc/os-release", b"debian\n", EPOCH + 500)])


def written_at(when: int) -> bytes:
    """What an extension's RUN writes, at ``when``; /usr/share/old kept a package's time."""
    return tar_bytes(
        [
            ("opt", None, when),
            ("opt/file", b"made\n", when),
            ("opt/link -> file", None, when),
            ("usr/share/old", b"old\n", EPOCH - 1000),
        ]
    )


def members(root: Path, descriptor: dict[str, Any]) -> list[tuple[str, int, dict[str, str]]]:
    blob = root / "blobs" / "sha256" / descriptor["digest"].removeprefix("sha256:")
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(blob.read_bytes()))) as tar:
        return [(m.name, int(m.mtime), dict(m.pax_headers)) for m in tar]


def test_only_the_new_layers_get_their_times_clamped_on_every_platform(tmp_path: Path) -> None:
    root = layout(tmp_path / "a", [BASE, written_at(EPOCH + 3600)], ("amd64", "arm64"))
    before = read_layout(root)
    base_diff = before.configs[0].diff_ids[0]
    clamped = clamp_new_layers(before, {"linux/amd64": 1, "linux/arm64": 1}, EPOCH)
    assert clamped.digest != before.digest
    for config, image in zip(configs(root), clamped.configs, strict=True):
        assert config["rootfs"]["diff_ids"][0] == base_diff  # the base's layer as it was
        assert tuple(config["rootfs"]["diff_ids"]) == image.diff_ids
    index = json.loads((root / "blobs/sha256" / clamped.digest[7:]).read_bytes())
    for child in index["manifests"]:
        manifest = json.loads((root / "blobs/sha256" / child["digest"][7:]).read_bytes())
        base_layer, new_layer = manifest["layers"]
        assert [m[1] for m in members(root, base_layer)] == [EPOCH + 500] * 2
        assert [(name, mtime) for name, mtime, _ in members(root, new_layer)] == [
            ("opt", EPOCH),
            ("opt/file", EPOCH),
            ("opt/link", EPOCH),
            ("usr/share/old", EPOCH - 1000),  # older than the epoch: kept
        ]
        assert all("atime" not in headers for _, _, headers in members(root, new_layer))
    # Every blob is stored under its own digest.
    for blob in (root / "blobs" / "sha256").iterdir():
        assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.name


def test_the_same_files_written_at_other_times_give_the_same_image(tmp_path: Path) -> None:
    keep = {"linux/amd64": 1}
    one, other = (
        clamp_new_layers(
            read_layout(layout(tmp_path / name, [BASE, written_at(when)], ("amd64",))),
            keep,
            EPOCH,
        )
        for name, when in (("one", EPOCH + 10), ("other", EPOCH + 7200))
    )
    assert one.digest == other.digest
    # Nothing to clamp past the base: the layers are left as they are.
    root = layout(tmp_path / "base", [BASE], ("amd64",))
    assert clamp_new_layers(read_layout(root), keep, EPOCH).configs == read_layout(root).configs
