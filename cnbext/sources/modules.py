"""Buildpacks and image extensions, from every source pack's builder.toml accepts.

A builder names its modules by uri: a folder, a ``.tgz``/``.tar`` of one, a ``.cnb``
buildpackage, an ``http(s)://`` download, ``file://`` or a ``docker://`` image. Every form is
turned into the same thing here, a :class:`Module`: the parsed descriptor plus a local folder
holding the module's files, so the rest of cnbext never cares where a module came from.
Descriptors, archives, buildpackages, downloads and staging each have their own module in
this folder; the names other code uses are importable from here too.
"""

from __future__ import annotations

import tarfile
import zlib
from pathlib import Path, PurePosixPath

from cnbext.sources.archive import extract_tar, find_root, fresh_dir, open_tar, plain_name
from cnbext.sources.buildpackage import BUILDPACKAGE_METADATA_LABEL, extract_image_layers
from cnbext.sources.descriptor import (
    DESCRIPTOR_NAMES,
    INSTALL_DIRS,
    Module,
    ModuleDescriptor,
    ModuleError,
    ModuleKind,
    OrderRef,
    load_descriptor,
    parse_api,
    parse_descriptor,
    read_descriptor,
)
from cnbext.sources.locate import Places, SourceTerms, locate
from cnbext.sources.safe_tree import ImageExporter
from cnbext.sources.staging import normalized_mode, stage_module, tree_digest
from cnbext.sources.tar_walk import walk_members
from cnbext.sources.uri import redact_url

__all__ = [
    "BUILDPACKAGE_METADATA_LABEL",
    "DESCRIPTOR_NAMES",
    "INSTALL_DIRS",
    "ImageExporter",
    "Module",
    "ModuleDescriptor",
    "ModuleError",
    "ModuleKind",
    "OrderRef",
    "fetch_modules",
    "normalized_mode",
    "parse_api",
    "parse_descriptor",
    "read_descriptor",
    "stage_module",
    "tree_digest",
]


def fetch_modules(
    uri: str,
    *,
    kind: ModuleKind,
    base_dir: Path,
    work_dir: Path,
    cache_dir: Path,
    image_exporter: ImageExporter | None = None,
    sha256: str | None = None,
) -> list[Module]:
    """Every module ``uri`` provides: one for a plain module, all of a buildpackage's.

    A buildpackage's own buildpack (its ``io.buildpacks.buildpackage.metadata`` label) comes
    first, the rest follow sorted by id and version. ``sha256``: what a downloaded or local
    archive must hash to. Messages name the uri without any password it holds.
    """
    raw_uri, uri = uri, redact_url(uri)
    if uri.startswith("urn:cnb:registry:"):
        raise ModuleError(
            f"{uri}: the buildpack registry needs network access cnbext does not have here",
            hint="use a path, URL or docker:// image of the buildpack instead",
        )
    if uri.startswith("urn:"):
        raise ModuleError(f"{uri}: urn uris are not supported", hint="use a path, URL or docker://")
    places = Places(base_dir, work_dir, cache_dir, image_exporter)
    with locate(raw_uri, _TERMS, places, sha256=sha256) as found:
        if found.kind == "image":
            return _collect_modules(found.path, kind, origin=uri, main=None)
        if found.kind == "folder":
            return [Module(load_descriptor(found.path, kind, origin=uri), found.path)]
        return _modules_from_file(found.path, uri, kind, work_dir)


_TERMS = SourceTerms(
    error_type=ModuleError,
    plural="sources",
    docker_hint="use a path, archive or buildpackage (.cnb) of the module instead",
    download_hint="for offline use, download it once and give a local path or file:// uri",
    export_prefix="image-",
)


def _modules_from_file(path: Path, uri: str, kind: ModuleKind, work_dir: Path) -> list[Module]:
    dest = fresh_dir(work_dir, f"{kind}-")
    hint = "give a folder, a .tgz or .tar archive of one, or a .cnb buildpackage"
    with open_tar(path, uri, ModuleError, hint=hint) as tar:
        names = _member_names(tar, uri)
        is_layout = "oci-layout" in names or (
            "manifest.json" in names and DESCRIPTOR_NAMES[kind] not in names
        )
        if not is_layout:
            if path.suffix == ".cnb":
                raise ModuleError(
                    f"{uri}: not a buildpackage: a .cnb file is an OCI image layout and this "
                    "archive has no oci-layout file",
                    hint="create it with `pack buildpack package --format file`",
                )
            extract_tar(tar, dest, source=uri, error_type=ModuleError)
            root = find_root(dest, DESCRIPTOR_NAMES[kind])
            return [Module(load_descriptor(root, kind, origin=uri), root)]
        main = extract_image_layers(tar, dest, uri)
    return _collect_modules(dest, kind, origin=uri, main=main)


def _member_names(tar: tarfile.TarFile, uri: str) -> set[str]:
    """The archive's member names, read only up to the entry and byte caps."""
    names = set()
    try:
        for member in walk_members(tar, uri, ModuleError):
            names.add(plain_name(member.name))
    except (tarfile.TarError, EOFError, zlib.error) as err:
        raise ModuleError(f"{uri}: the archive is corrupt or truncated ({err})") from err
    return names


def _collect_modules(
    tree: Path, kind: ModuleKind, *, origin: str, main: tuple[str, str] | None
) -> list[Module]:
    install_dir = INSTALL_DIRS[kind]
    base = tree / "cnb" / install_dir
    modules: list[Module] = []
    for id_dir in _subfolders(base):
        for version_dir in _subfolders(id_dir):
            where = f"{origin} (/cnb/{install_dir}/{id_dir.name}/{version_dir.name})"
            descriptor = load_descriptor(version_dir, kind, origin=where)
            module = Module(descriptor, version_dir)
            # The lifecycle finds modules by this path, so a module stored elsewhere would
            # never run: the package is broken, not merely unusual.
            if module.install_path != PurePosixPath(
                "/cnb", install_dir, id_dir.name, version_dir.name
            ):
                raise ModuleError(
                    f"{where}: holds {descriptor.id}@{descriptor.version}, which belongs at "
                    f"{module.install_path}",
                    hint="re-create the package with pack",
                )
            modules.append(module)
    if not modules:
        raise ModuleError(
            f"{origin}: no {kind}s found under /cnb/{install_dir}",
            hint=f"check that the source holds {kind}s (buildpacks and extensions are listed "
            "separately in builder.toml)",
        )

    def sort_key(module: Module) -> tuple[bool, str, str]:
        descriptor = module.descriptor
        return ((descriptor.id, descriptor.version) != main, descriptor.id, descriptor.version)

    return sorted(modules, key=sort_key)


def _subfolders(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.is_symlink())
