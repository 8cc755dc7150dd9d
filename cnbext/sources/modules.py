"""Buildpacks and image extensions, from every source pack's builder.toml accepts.

A builder names its modules by uri: a folder, a ``.tgz``/``.tar`` of one, a ``.cnb``
buildpackage, an ``http(s)://`` download, ``file://`` or a ``docker://`` image. Every form is
turned into the same thing here, a :class:`Module`: the parsed descriptor plus a local folder
holding the module's files, so the rest of cnbext never cares where a module came from.

Three decisions shape this file:

- **Archives are untrusted.** They come from the network and from other people's CI, so members
  with absolute names, ``..`` or links that leave the extraction folder are refused, and our own
  extractor writes every file itself (Python's ``tarfile`` filters differ between 3.11 patch
  releases, and buildpackage layers need names like ``/cnb/...`` taken relative to the image
  root, which the filters refuse).
- **Staged copies are normalized.** Container layers are addressed by content; if mtimes or the
  umask of a checkout leaked into a layer, the same buildpack would give a new layer digest on
  every machine and every run, defeating layer reuse in registries and in the builder itself.
  :func:`stage_module` therefore writes fixed modes and mtime 0, and :func:`tree_digest` hashes
  exactly what staging keeps, so a module already on a base image can be recognised.
- **Downloads are cached by URL**, written to a temporary name and renamed, so an interrupted
  download is never mistaken for a complete one and a second run works offline.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import json
import os
import re
import shutil
import stat
import tarfile
import tempfile
import tomllib
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from cnbext.errors import CnbextError, ExitCode

ModuleKind = Literal["buildpack", "extension"]
ImageExporter = Callable[[str, Path], None]
"""Writes an image's ``/cnb/...`` trees into a folder: ``exporter("repo/img:tag", dest)``."""

DESCRIPTOR_NAMES: dict[ModuleKind, str] = {
    "buildpack": "buildpack.toml",
    "extension": "extension.toml",
}
INSTALL_DIRS: dict[ModuleKind, str] = {"buildpack": "buildpacks", "extension": "extensions"}
BUILDPACKAGE_METADATA_LABEL = "io.buildpacks.buildpackage.metadata"

DOWNLOAD_TIMEOUT_SECONDS = 60.0

# "<major>.<minor>" or "<major>", no leading zeros (buildpack.md, "API versions").
_API_VERSION = re.compile(r"^(0|[1-9][0-9]*)(?:\.(0|[1-9][0-9]*))?$")
# buildpack.md: ids are letters, digits, '.', '/' and '-'; '/' becomes '_' on disk, which is
# only reversible because '_' itself is not allowed.
_MODULE_ID = re.compile(r"^[A-Za-z0-9./-]+$")
_RESERVED_IDS = frozenset({"app", "config", "generated", "sbom"})
# Versions become folder names; anything that could leave the folder is refused.
_MODULE_VERSION = re.compile(r"^[A-Za-z0-9._+-]+$")
_HEX_DIGEST = re.compile(r"^[a-f0-9]{32,128}$")


class ModuleError(CnbextError):
    """A buildpack or extension source that cannot be used: unreachable, malformed or unsafe."""

    exit_code = ExitCode.CONFIG


def parse_api(value: str) -> tuple[int, int] | None:
    """``"0.10"`` -> ``(0, 10)``, ``"1"`` -> ``(1, 0)``; None when not an API version."""
    match = _API_VERSION.match(value)
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2) or 0)


# --- descriptors ---------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderRef:
    """An entry of a composite buildpack's ``[[order]] [[order.group]]``."""

    id: str
    version: str | None
    optional: bool


@dataclass(frozen=True)
class ModuleDescriptor:
    kind: ModuleKind
    api: str
    id: str
    version: str
    name: str | None
    homepage: str | None
    order: tuple[tuple[OrderRef, ...], ...]  # () unless a composite buildpack
    # Tables stay plain dicts (they are copied into labels as they are), so they are left out
    # of the hash: equal descriptors still compare equal, and descriptors stay hashable.
    stacks: tuple[dict[str, Any], ...] = field(hash=False)
    targets: tuple[dict[str, Any], ...] = field(hash=False)
    raw: dict[str, Any] = field(hash=False)  # the whole parsed descriptor

    @property
    def is_composite(self) -> bool:
        return bool(self.order)


@dataclass(frozen=True)
class Module:
    descriptor: ModuleDescriptor
    root: Path  # a local folder holding the module's files, descriptor at its root

    @property
    def install_path(self) -> PurePosixPath:
        """Where the lifecycle looks for it: ``/cnb/buildpacks/<id, / as _>/<version>``."""
        folder = self.descriptor.id.replace("/", "_")
        return PurePosixPath("/cnb", INSTALL_DIRS[self.descriptor.kind], folder) / (
            self.descriptor.version
        )


def read_descriptor(root: Path, kind: ModuleKind) -> ModuleDescriptor:
    """Parse ``buildpack.toml`` / ``extension.toml`` at ``root``; ModuleError says what is wrong."""
    return _read_descriptor(root, kind, origin=None)


def _read_descriptor(root: Path, kind: ModuleKind, origin: str | None) -> ModuleDescriptor:
    file_name = DESCRIPTOR_NAMES[kind]
    path = root / file_name
    # Files extracted into a temporary folder are named by the uri the user wrote.
    where = f"{origin}: {file_name}" if origin else str(path)
    if not path.is_file():
        other: ModuleKind = "extension" if kind == "buildpack" else "buildpack"
        if (root / DESCRIPTOR_NAMES[other]).is_file():
            raise ModuleError(
                f"{where} not found: this is {_article(other)} {other} "
                f"({DESCRIPTOR_NAMES[other]} found), not {_article(kind)} {kind}",
                hint=f"list it under [[{other}s]] in builder.toml",
            )
        raise ModuleError(
            f"{where} not found: {_article(kind)} {kind} has its {file_name} at its root",
            hint=f"point the uri at the {kind}'s folder, or at an archive or buildpackage of it",
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ModuleError(
            f"{where} is not valid TOML: {err}", hint=f"fix the {kind}'s {file_name}"
        ) from err
    except (OSError, UnicodeDecodeError) as err:
        raise ModuleError(f"{where} cannot be read: {err}") from err
    return parse_descriptor(data, kind, where=where)


def parse_descriptor(data: dict[str, Any], kind: ModuleKind, *, where: str) -> ModuleDescriptor:
    """Check a parsed descriptor and report every problem at once, each with its key."""
    problems: list[str] = []
    # Buildpack API 0.1 descriptors had no `api` key; pack reads them as 0.1, and so do we, so
    # the lifecycle compatibility check can reject them with a message about the API.
    api = data.get("api", "0.1" if kind == "buildpack" else None)
    if not isinstance(api, str) or parse_api(api) is None:
        problems.append(f'api must be a version string like "0.10", got {api!r}')
    table = data.get(kind)
    if not isinstance(table, dict):
        problems.append(f"[{kind}] table is missing")
        table = {}
    module_id = table.get("id")
    if not isinstance(module_id, str) or not _MODULE_ID.match(module_id):
        problems.append(f"{kind}.id must be letters, digits, '.', '/' and '-', got {module_id!r}")
    elif module_id in _RESERVED_IDS or module_id.strip(".") == "":
        problems.append(f"{kind}.id {module_id!r} is reserved or not a name")
    version = table.get("version")
    if not isinstance(version, str) or not _MODULE_VERSION.match(version) or version in {".", ".."}:
        problems.append(f'{kind}.version must be a version like "1.2.3", got {version!r}')
    name = _optional_string(table, "name", kind, problems)
    homepage = _optional_string(table, "homepage", kind, problems)
    order: tuple[tuple[OrderRef, ...], ...] = ()
    if "order" in data:
        if kind == "extension":
            problems.append("[[order]] is not allowed: extensions are never composite")
        else:
            order = _parse_order(data["order"], problems)
    stacks = _parse_tables(data, "stacks", problems)
    targets = _parse_tables(data, "targets", problems)
    if problems:
        raise ModuleError(
            f"{where}: " + "; ".join(problems),
            hint=f"fix the {kind}'s {DESCRIPTOR_NAMES[kind]} (see the Buildpack API spec)",
        )
    assert isinstance(api, str) and isinstance(module_id, str) and isinstance(version, str)
    return ModuleDescriptor(
        kind=kind,
        api=api,
        id=module_id,
        version=version,
        name=name,
        homepage=homepage,
        order=order,
        stacks=stacks,
        targets=targets,
        raw=data,
    )


def _optional_string(table: dict[str, Any], key: str, kind: str, problems: list[str]) -> str | None:
    value = table.get(key)
    if value is None or isinstance(value, str):
        return value
    problems.append(f"{kind}.{key} must be a string, got {value!r}")
    return None


def _parse_order(value: Any, problems: list[str]) -> tuple[tuple[OrderRef, ...], ...]:
    if not isinstance(value, list) or not value:
        problems.append("order must be a non-empty array of tables ([[order]])")
        return ()
    groups: list[tuple[OrderRef, ...]] = []
    for index, entry in enumerate(value):
        group = entry.get("group") if isinstance(entry, dict) else None
        if not isinstance(group, list) or not group:
            problems.append(f"order[{index}].group must be a non-empty array of tables")
            continue
        refs: list[OrderRef] = []
        for position, ref in enumerate(group):
            where = f"order[{index}].group[{position}]"
            if not isinstance(ref, dict):
                problems.append(f"{where} must be a table")
                continue
            ref_id, ref_version = ref.get("id"), ref.get("version")
            optional = ref.get("optional", False)
            if not isinstance(ref_id, str) or not ref_id:
                problems.append(f"{where}.id must be a non-empty string, got {ref_id!r}")
            if ref_version is not None and not isinstance(ref_version, str):
                problems.append(f"{where}.version must be a string, got {ref_version!r}")
            if not isinstance(optional, bool):
                problems.append(f"{where}.optional must be true or false, got {optional!r}")
            if isinstance(ref_id, str) and ref_id:
                version = ref_version if isinstance(ref_version, str) else None
                refs.append(OrderRef(ref_id, version, optional is True))
        groups.append(tuple(refs))
    return tuple(groups)


def _parse_tables(
    data: dict[str, Any], key: str, problems: list[str]
) -> tuple[dict[str, Any], ...]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        problems.append(f"{key} must be an array of tables ([[{key}]])")
        return ()
    return tuple(value)


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


# --- sources -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResolvedUri:
    """A builder.toml uri, classified: a local path, an http(s) URL or a docker image."""

    scheme: Literal["path", "http", "docker"]
    location: str  # an absolute path, the URL, or the image reference


def resolve_uri(uri: str, *, base_dir: Path, error_type: type[CnbextError]) -> ResolvedUri:
    """Classify ``uri`` as pack does; relative paths are taken against ``base_dir``."""
    if not uri.strip():
        raise error_type("an empty uri was given", hint="give a path, URL or docker://image")
    lowered = uri.lower()
    if lowered.startswith("docker:"):
        image = uri[len("docker:") :].lstrip("/")
        if not image:
            raise error_type(f"{uri}: no image named", hint="write docker://registry/repo:tag")
        return ResolvedUri("docker", image)
    if lowered.startswith(("http://", "https://")):
        return ResolvedUri("http", uri)
    if lowered.startswith("file:"):
        parsed = urllib.parse.urlparse(uri)
        local = urllib.request.url2pathname(parsed.path)
        if parsed.netloc in ("", "localhost"):
            return ResolvedUri("path", str(base_dir.absolute() / local))  # `/` keeps absolute
        # pack's docs write relative files as file://path/to/x.tgz; a URL parser reads `path`
        # as a host name, so it is put back in front and the whole is taken as relative.
        return ResolvedUri("path", str(base_dir.absolute() / (parsed.netloc + local)))
    if "://" in uri:
        scheme = uri.split("://", 1)[0]
        raise error_type(
            f"{uri}: the {scheme}:// scheme is not supported",
            hint="use a path, file://, http(s):// or docker://",
        )
    path = Path(uri)
    return ResolvedUri("path", str(path if path.is_absolute() else base_dir.absolute() / path))


def fetch_modules(
    uri: str,
    *,
    kind: ModuleKind,
    base_dir: Path,
    work_dir: Path,
    cache_dir: Path,
    image_exporter: ImageExporter | None = None,
) -> list[Module]:
    """Every module ``uri`` provides: one for a plain module, all of a buildpackage's.

    A buildpackage's own buildpack (its ``io.buildpacks.buildpackage.metadata`` label) comes
    first, the rest follow sorted by id and version.
    """
    if uri.startswith("urn:cnb:registry:"):
        raise ModuleError(
            f"{uri}: the buildpack registry needs network access cnbext does not have here",
            hint="use a path, URL or docker:// image of the buildpack instead",
        )
    if uri.startswith("urn:"):
        raise ModuleError(f"{uri}: urn uris are not supported", hint="use a path, URL or docker://")
    resolved = resolve_uri(uri, base_dir=base_dir, error_type=ModuleError)
    if resolved.scheme == "docker":
        if image_exporter is None:
            raise ModuleError(
                f"{uri}: docker:// sources need an image engine, and none was given",
                hint="use a path, archive or buildpackage (.cnb) of the module instead",
            )
        tree = fresh_dir(work_dir, "image-")
        image_exporter(resolved.location, tree)
        return _collect_modules(tree, kind, origin=uri, main=None)
    if resolved.scheme == "http":
        path = download_to_cache(
            uri,
            cache_dir,
            error_type=ModuleError,
            hint="for offline use, download it once and give a local path or file:// uri",
        )
    else:
        path = Path(resolved.location)
        if path.is_dir():
            return [Module(_read_descriptor(path, kind, origin=uri), path)]
        if not path.exists():
            raise ModuleError(
                f"{uri}: {path} does not exist",
                hint=f"relative paths are taken from the folder of the config file ({base_dir})",
            )
        if not path.is_file():
            raise ModuleError(f"{uri}: {path} is neither a folder nor a file")
    return _modules_from_file(path, uri, kind, work_dir)


def _modules_from_file(path: Path, uri: str, kind: ModuleKind, work_dir: Path) -> list[Module]:
    dest = fresh_dir(work_dir, f"{kind}-")
    hint = "give a folder, a .tgz or .tar archive of one, or a .cnb buildpackage"
    with open_tar(path, uri, ModuleError, hint=hint) as tar:
        names = {_plain_name(member.name) for member in tar.getmembers()}
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
            return [Module(_read_descriptor(root, kind, origin=uri), root)]
        main = _extract_image_layers(tar, dest, uri)
    return _collect_modules(dest, kind, origin=uri, main=main)


def find_root(folder: Path, marker: str) -> Path:
    """``folder``, or its single top folder when the archive wrapped everything in one."""
    if (folder / marker).exists():
        return folder
    entries = list(folder.iterdir())
    if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink():
        return entries[0]
    return folder


def _collect_modules(
    tree: Path, kind: ModuleKind, *, origin: str, main: tuple[str, str] | None
) -> list[Module]:
    install_dir = INSTALL_DIRS[kind]
    base = tree / "cnb" / install_dir
    modules: list[Module] = []
    for id_dir in _subfolders(base):
        for version_dir in _subfolders(id_dir):
            where = f"{origin} (/cnb/{install_dir}/{id_dir.name}/{version_dir.name})"
            descriptor = _read_descriptor(version_dir, kind, origin=where)
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


def fresh_dir(work_dir: Path, prefix: str) -> Path:
    work_dir.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=work_dir))


# --- buildpackages (.cnb: a tar of an OCI image layout) ---------------------------------------


def _extract_image_layers(tar: tarfile.TarFile, dest: Path, uri: str) -> tuple[str, str] | None:
    """Apply the image's layers in order; return the package's own (id, version) if labelled."""
    files = {_plain_name(m.name): m for m in tar.getmembers() if m.isreg()}

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
        if algorithm not in ("sha256", "sha512") or not _HEX_DIGEST.match(hex_digest):
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
        layer_names = [_plain_name(name) for name in layers]
        config = read_json(_plain_name(str(saved[0].get("Config", ""))))

    for name in layer_names:
        member = files.get(name)
        handle = tar.extractfile(member) if member is not None else None
        if handle is None:
            raise _bad_package(uri, f"layer {name} is missing")
        with handle, _open_tar_stream(handle, f"{uri} (layer {name})", ModuleError) as layer:
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


# --- archives ------------------------------------------------------------------------------


def open_tar(
    path: Path, source: str, error_type: type[CnbextError], *, hint: str
) -> tarfile.TarFile:
    """``path`` as a tar archive, gzipped or not (detected from its content, not its name)."""
    try:
        return tarfile.open(path, mode="r:*")
    except (tarfile.TarError, OSError, EOFError, zlib.error) as err:
        raise error_type(f"{source}: not a readable tar archive ({err})", hint=hint) from err


def _open_tar_stream(handle: Any, source: str, error_type: type[CnbextError]) -> tarfile.TarFile:
    try:
        return tarfile.open(fileobj=handle, mode="r:*")
    except (tarfile.TarError, OSError, EOFError, zlib.error) as err:
        raise error_type(f"{source}: not a readable tar archive ({err})") from err


def _plain_name(name: str) -> str:
    """An archive member's name without ``./`` or leading ``/``, for lookups."""
    return "/".join(part for part in name.split("/") if part not in ("", "."))


def extract_tar(
    tar: tarfile.TarFile,
    dest: Path,
    *,
    source: str,
    error_type: type[CnbextError],
    image_layer: bool = False,
) -> None:
    """Extract ``tar`` into ``dest``, refusing anything that would write or point outside it.

    ``image_layer``: names are relative to the image root, so a leading ``/`` is dropped
    (pack writes ``/cnb/buildpacks/...``) and OCI whiteouts delete what earlier layers wrote.
    """
    dest.mkdir(parents=True, exist_ok=True)
    dest_real = os.path.realpath(dest)
    folders: list[tuple[Path, int]] = []

    def refuse(name: str, why: str) -> CnbextError:
        return error_type(
            f"{source}: refusing archive member {name!r}: {why}",
            hint="the archive is unsafe or corrupt; re-create it from the module's folder",
        )

    def inside(path: str) -> bool:
        return path == dest_real or path.startswith(dest_real + os.sep)

    def member_parts(name: str) -> list[str]:
        if image_layer:
            name = name.lstrip("/")
        elif name.startswith("/"):
            raise refuse(name, "absolute paths are not allowed")
        parts = [part for part in name.split("/") if part not in ("", ".")]
        if ".." in parts:
            raise refuse(name, "'..' would leave the extraction folder")
        return parts

    try:
        for member in tar:
            parts = member_parts(member.name)
            if not parts:
                continue  # the archive's own root folder
            target = dest.joinpath(*parts)
            if image_layer and parts[-1].startswith(".wh."):
                _apply_whiteout(target)
                continue
            # Checked at write time: an earlier member may have made a parent a symlink.
            if not inside(os.path.realpath(target.parent)):
                raise refuse(member.name, "its folder is a link that leaves the extraction folder")
            if member.isdir():
                if target.is_symlink() or (target.exists() and not target.is_dir()):
                    target.unlink()
                target.mkdir(parents=True, exist_ok=True)
                # Owner rwx always, so extraction can go on and the folder can be removed.
                folders.append((target, (member.mode & 0o777) | 0o700))
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if member.issym():
                link = member.linkname
                if link.startswith("/"):
                    # On the host an absolute link would point outside; it cannot be checked.
                    raise refuse(member.name, f"symlink to the absolute path {link!r}")
                pointed = os.path.normpath(PurePosixPath(*parts[:-1], link))
                if pointed == ".." or pointed.startswith("../"):
                    raise refuse(member.name, f"symlink to {link!r} points outside the archive")
                _remove(target)
                target.symlink_to(link)
            elif member.islnk():
                # A hard link names an earlier member; it is written as a copy of that file.
                linked = dest.joinpath(*member_parts(member.linkname))
                if linked.is_symlink() or not linked.is_file():
                    raise refuse(member.name, f"hard link to {member.linkname!r}, not a file")
                if not inside(os.path.realpath(linked)):
                    raise refuse(
                        member.name, f"hard link to {member.linkname!r} leaves the archive"
                    )
                _remove(target)
                shutil.copyfile(linked, target)
                target.chmod(stat.S_IMODE(linked.stat().st_mode))
            elif member.isreg():
                _remove(target)
                handle = tar.extractfile(member)
                if handle is None:  # pragma: no cover - regular members always have data
                    raise refuse(member.name, "no data")
                with handle, target.open("wb") as out:
                    shutil.copyfileobj(handle, out)
                target.chmod((member.mode & 0o777) | 0o600)
            else:
                raise refuse(member.name, "devices, fifos and other special files are not allowed")
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as err:
        raise error_type(f"{source}: the archive is corrupt or truncated ({err})") from err
    for folder, mode in reversed(folders):
        folder.chmod(mode)
    # Lexical checks cannot see through links made of other links (`a -> .`, `b -> a/..`), so
    # every link is finally resolved for real and must stay inside.
    for symlink in _symlinks(dest):
        if not inside(os.path.realpath(symlink)):
            relative = symlink.relative_to(dest).as_posix()
            raise refuse(relative, f"symlink to {str(symlink.readlink())!r} resolves outside it")


def _symlinks(root: Path) -> Iterator[Path]:
    for folder, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            path = Path(folder, name)
            if path.is_symlink():
                yield path


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def _apply_whiteout(marker: Path) -> None:
    if marker.name == ".wh..wh..opq":  # opaque folder: hide what earlier layers put there
        if marker.parent.is_dir() and not marker.parent.is_symlink():
            for child in marker.parent.iterdir():
                _remove(child)
        return
    _remove(marker.with_name(marker.name[len(".wh.") :]))


# --- downloads -----------------------------------------------------------------------------


def download_to_cache(
    url: str,
    cache_dir: Path,
    *,
    error_type: type[CnbextError],
    hint: str,
    subject: str | None = None,
) -> Path:
    """The file at ``url``, downloaded once into ``cache_dir`` (keyed by the URL's sha256)."""
    key = hashlib.sha256(url.encode("utf-8")).hexdigest()
    folder = cache_dir / key
    # The URL's file name is kept so the cached file still says what it is.
    base = urllib.parse.unquote(urllib.parse.urlparse(url).path.rsplit("/", 1)[-1])
    cached = folder / (re.sub(r"[^A-Za-z0-9._+-]", "_", base).lstrip(".") or "download")
    if cached.is_file():  # only complete downloads are ever renamed to this name
        return cached
    folder.mkdir(parents=True, exist_ok=True)
    handle, partial_name = tempfile.mkstemp(prefix=".partial-", dir=folder)
    partial = Path(partial_name)
    reason: str | None = None
    try:
        with (
            os.fdopen(handle, "wb") as out,
            urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_SECONDS) as response,
        ):
            expected = response.headers.get("Content-Length")
            received = 0
            while chunk := response.read(1 << 20):
                out.write(chunk)
                received += len(chunk)
        if expected is not None and expected.isdigit() and received != int(expected):
            reason = f"the download was cut short ({received} of {expected} bytes)"
        else:
            partial.replace(cached)
    except urllib.error.HTTPError as err:
        reason = f"HTTP {err.code} {err.reason}"
        err.close()
    except urllib.error.URLError as err:
        reason = _describe_reason(err.reason)
    except (http.client.HTTPException, OSError) as err:
        reason = _describe_reason(err)
    finally:
        partial.unlink(missing_ok=True)
    if reason is not None:
        prefix = f"{subject}: " if subject else ""
        raise error_type(f"{prefix}could not fetch {url}: {reason}", hint=hint)
    return cached


def _describe_reason(reason: object) -> str:
    if isinstance(reason, TimeoutError):
        return f"no answer within {DOWNLOAD_TIMEOUT_SECONDS:.0f} s"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror.lower()
    return str(reason) or type(reason).__name__


# --- staging -------------------------------------------------------------------------------


def stage_module(module: Module, dest_root: Path) -> Path:
    """Write a normalized copy at ``dest_root`` + ``module.install_path``; return that folder.

    Folders 0755, files 0755 when any execute bit was set else 0644, symlinks kept, and every
    mtime 0 (also of ``cnb/``, ``cnb/buildpacks/`` and the id folder, which end up in the
    layer too), so the same module always gives a byte-identical layer.
    """
    relative = module.install_path.relative_to("/")
    staged = dest_root.joinpath(*relative.parts)
    _remove(staged)  # a previous staging must not leave stale files behind
    staged.parent.mkdir(parents=True, exist_ok=True)
    _copy_normalized(
        module.root, staged, owner=f"{module.descriptor.id}@{module.descriptor.version}"
    )
    for folder, dirnames, filenames in os.walk(staged, topdown=False):
        # Links to folders are listed with the folders; follow_symlinks=False keeps utime on
        # the link itself, whose mtime is part of the layer too.
        for name in [*dirnames, *filenames]:
            os.utime(Path(folder, name), (0, 0), follow_symlinks=False)
        os.utime(folder, (0, 0), follow_symlinks=False)
    for depth in range(len(relative.parts) - 1, 0, -1):
        ancestor = dest_root.joinpath(*relative.parts[:depth])
        ancestor.chmod(0o755)
        os.utime(ancestor, (0, 0))
    return staged


def _copy_normalized(source: Path, dest: Path, *, owner: str) -> None:
    dest.mkdir()
    dest.chmod(0o755)
    for entry, status in _entries(source, owner):
        target = dest / entry.name
        if stat.S_ISLNK(status.st_mode):
            target.symlink_to(entry.readlink())
        elif stat.S_ISDIR(status.st_mode):
            _copy_normalized(entry, target, owner=owner)
        else:
            shutil.copyfile(entry, target, follow_symlinks=False)
            target.chmod(normalized_mode(status.st_mode))


def _entries(folder: Path, owner: str) -> list[tuple[Path, os.stat_result]]:
    """A folder's entries, sorted, each with its lstat; special files are refused."""
    result = []
    for path in sorted(folder.iterdir()):
        status = path.lstat()
        if not (
            stat.S_ISLNK(status.st_mode)
            or stat.S_ISDIR(status.st_mode)
            or stat.S_ISREG(status.st_mode)
        ):
            raise ModuleError(
                f"{owner}: {path} is a special file (device, fifo "
                "or socket), which cannot go into an image layer",
                hint="remove it from the module's folder",
            )
        result.append((path, status))
    return result


def normalized_mode(st_mode: int) -> int:
    """The permission bits staging gives an entry of this mode."""
    if stat.S_ISLNK(st_mode):
        return 0o777
    if stat.S_ISDIR(st_mode) or st_mode & 0o111:
        return 0o755
    return 0o644


def tree_digest(root: Path) -> str:
    """``sha256:<hex>`` of a folder's content as :func:`stage_module` would write it.

    Covers each relative path with its type, normalized mode and content (the target for
    symlinks); mtimes, owners and the source's exact permission bits do not count.
    """
    digest = hashlib.sha256()
    pending: list[tuple[Path, str]] = [(root, "")]
    entries: list[tuple[str, os.stat_result, Path]] = []
    while pending:
        folder, prefix = pending.pop()
        for path, status in _entries(folder, str(root)):
            relative = f"{prefix}{path.name}"
            entries.append((relative, status, path))
            if stat.S_ISDIR(status.st_mode):
                pending.append((path, relative + "/"))
    for relative, status, path in sorted(entries, key=lambda item: item[0]):
        if stat.S_ISLNK(status.st_mode):
            kind, content = b"l", hashlib.sha256(os.fsencode(path.readlink())).hexdigest()
        elif stat.S_ISDIR(status.st_mode):
            kind, content = b"d", ""
        else:
            kind, content = b"f", _file_sha256(path)
        name = os.fsencode(relative)
        # Length-prefixed names: no two different trees can serialize to the same bytes.
        digest.update(
            b"%s %o %d:%s %s\n"
            % (kind, normalized_mode(status.st_mode), len(name), name, content.encode())
        )
    return f"sha256:{digest.hexdigest()}"


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
