"""Buildpackages: a ``.cnb`` (a tar of an OCI image layout) or a ``docker save`` archive.

The image's layers are applied in order into one folder, as a container runtime would, so the
``/cnb/buildpacks/...`` trees they hold can be read like any other module folder. All layers of
one package share one budget (:mod:`cnbext.sources.limits`): the cap is on the whole package.
"""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

from cnbext.sources.archive import extract_tar, open_tar_stream
from cnbext.sources.descriptor import ModuleError
from cnbext.sources.limits import Budget
from cnbext.sources.oci import LayoutError, LayoutReader, read_layout

BUILDPACKAGE_METADATA_LABEL = "io.buildpacks.buildpackage.metadata"


def extract_image_layers(tar: tarfile.TarFile, dest: Path, uri: str) -> tuple[str, str] | None:
    """Apply the image's layers in order; return the package's own (id, version) if labelled."""
    reader = LayoutReader(tar)
    budget = Budget.from_env()
    try:
        layout = read_layout(reader)
        for blob in layout.layers:
            reader.verify(blob)
            source = f"{uri} (layer {blob.name})"
            with (
                reader.open(blob.name) as handle,
                open_tar_stream(handle, source, ModuleError) as layer,
            ):
                extract_tar(
                    layer,
                    dest,
                    source=source,
                    error_type=ModuleError,
                    image_layer=True,
                    budget=budget,
                )
    except LayoutError as err:
        raise _bad_package(uri, str(err)) from None
    return _package_main_module(layout.config)


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
