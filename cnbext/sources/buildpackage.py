"""Buildpackages: a ``.cnb`` (a tar of an OCI image layout) or a ``docker save`` archive.

The image's layers are applied in order into one folder, as a container runtime would, so the
``/cnb/buildpacks/...`` trees they hold can be read like any other module folder.
"""

from __future__ import annotations

import json
import re
import tarfile
from pathlib import Path
from typing import Any

from cnbext.sources.archive import extract_tar, open_tar_stream, plain_name
from cnbext.sources.descriptor import ModuleError

BUILDPACKAGE_METADATA_LABEL = "io.buildpacks.buildpackage.metadata"
_HEX_DIGEST = re.compile(r"[a-f0-9]{32,128}")


def extract_image_layers(tar: tarfile.TarFile, dest: Path, uri: str) -> tuple[str, str] | None:
    """Apply the image's layers in order; return the package's own (id, version) if labelled."""
    files = {plain_name(m.name): m for m in tar.getmembers() if m.isreg()}

    def read_json(name: str) -> Any:
        member = files.get(name)
        handle = tar.extractfile(member) if member is not None else None
        if handle is None:
            raise _bad_package(uri, f"{name} is missing")
        with handle:
            try:
                return json.loads(handle.read())
            except ValueError as err:
                raise _bad_package(uri, f"{name} is not JSON: {err}") from err

    def blob_name(descriptor: Any) -> str:
        digest = descriptor.get("digest") if isinstance(descriptor, dict) else None
        algorithm, _, hex_digest = (
            digest.partition(":") if isinstance(digest, str) else ("", "", "")
        )
        if algorithm not in ("sha256", "sha512") or not _HEX_DIGEST.fullmatch(hex_digest):
            raise _bad_package(uri, f"invalid descriptor {descriptor!r}")
        return f"blobs/{algorithm}/{hex_digest}"

    layer_names: list[str]
    config: Any
    if "oci-layout" in files:
        manifest = read_json("index.json")
        # index.json may point at a manifest directly or at a nested image index.
        while isinstance(manifest, dict) and "manifests" in manifest:
            entries = manifest["manifests"]
            if not isinstance(entries, list) or len(entries) != 1:
                count = len(entries) if isinstance(entries, list) else 0
                raise _bad_package(
                    uri,
                    f"expected one image manifest, found {count}; cnbext reads "
                    "single-platform buildpackages",
                )
            manifest = read_json(blob_name(entries[0]))
        layers = manifest.get("layers") if isinstance(manifest, dict) else None
        if not isinstance(layers, list):
            raise _bad_package(uri, "the image manifest has no layers list")
        layer_names = [blob_name(layer) for layer in layers]
        config = read_json(blob_name(manifest.get("config")))
    else:
        # `docker save` format: manifest.json lists the config and layer files by name.
        saved = read_json("manifest.json")
        if not isinstance(saved, list) or len(saved) != 1 or not isinstance(saved[0], dict):
            raise _bad_package(uri, "manifest.json must describe exactly one image")
        layers = saved[0].get("Layers")
        if not isinstance(layers, list) or not all(isinstance(name, str) for name in layers):
            raise _bad_package(uri, "manifest.json has no Layers list")
        layer_names = [plain_name(name) for name in layers]
        config = read_json(plain_name(str(saved[0].get("Config", ""))))

    for name in layer_names:
        member = files.get(name)
        handle = tar.extractfile(member) if member is not None else None
        if handle is None:
            raise _bad_package(uri, f"layer {name} is missing")
        with handle, open_tar_stream(handle, f"{uri} (layer {name})", ModuleError) as layer:
            extract_tar(
                layer,
                dest,
                source=f"{uri} (layer {name})",
                error_type=ModuleError,
                image_layer=True,
            )
    return _package_main_module(config)


def _package_main_module(config: Any) -> tuple[str, str] | None:
    settings = config.get("config") if isinstance(config, dict) else None
    labels = settings.get("Labels") if isinstance(settings, dict) else None
    raw = labels.get(BUILDPACKAGE_METADATA_LABEL) if isinstance(labels, dict) else None
    try:
        metadata = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        return None  # only used to order the result; a bad label is not worth failing over
    if isinstance(metadata, dict):
        module_id, version = metadata.get("id"), metadata.get("version")
        if isinstance(module_id, str) and isinstance(version, str):
            return module_id, version
    return None


def _bad_package(uri: str, detail: str) -> ModuleError:
    return ModuleError(
        f"{uri}: not a valid buildpackage: {detail}",
        hint="re-create it with `pack buildpack package --format file`",
    )
