"""The image index ``docker buildx imagetools create`` makes from its sources, byte for byte.

A published name is an index and every further name an identical copy (docs/architecture.md),
and a person who joins the same images by hand with buildx must get the same digest. So the
index is built as buildx 0.13's ``Resolver.Combine`` builds it (util/imagetools/create.go):

- one source that is an index: its own bytes, unchanged;
- a manifest source: a descriptor of its media type, digest and size, and the platform of its
  config (architecture, os and variant only, normalized as containerd's ``platforms.Normalize``
  does; buildx copies no ``os.version`` from a config);
- an index source: its entries, read into the OCI ``Descriptor`` struct and written back (so
  fields come in the struct's order, unknown ones are dropped, annotations sorted);
- entries of the same digest merged into the first; a Docker manifest list when every entry
  is a Docker type, else an OCI index; ``json.MarshalIndent`` with two spaces, Go's escaping.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from cnbext.engine.models import INDEX_TYPES, config_text, digest_of
from cnbext.errors import ImageError

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"


def joined_index(sources: Sequence[tuple[str, bytes, dict[str, Any] | None]]) -> tuple[bytes, str]:
    """The index bytes and media type for ``sources``: (media type, raw manifest, its config)
    each; the config only for a single image's manifest (its platform)."""
    if len(sources) == 1 and sources[0][0] in INDEX_TYPES:
        return sources[0][1], sources[0][0]
    entries: list[dict[str, Any]] = []
    for media_type, raw, config in sources:
        if media_type in INDEX_TYPES:
            document = _object(_loads(raw), "an index")
            for entry in _list(document.get("manifests"), "manifests"):
                _add(entries, go_descriptor(_object(entry, "an index entry")))
        else:
            platform = config_platform(config or {})
            entry = {"mediaType": media_type, "digest": digest_of(raw), "size": len(raw)}
            _add(entries, {**entry, "platform": platform})
    docker = all(str(e["mediaType"]).startswith("application/vnd.docker.") for e in entries)
    media_type = DOCKER_LIST if docker else OCI_INDEX
    document = {"schemaVersion": 2, "mediaType": media_type, "manifests": entries}
    return go_json(document).encode(), media_type


def _add(entries: list[dict[str, Any]], entry: dict[str, Any]) -> None:
    """Combine's addDesc: a digest seen before fills in the first entry (its media type if
    empty, the platform, the annotations), keeping the first one's place."""
    for index, old in enumerate(entries):
        if old["digest"] != entry["digest"]:
            continue
        merged = dict(old)
        if not merged["mediaType"]:
            merged["mediaType"] = entry["mediaType"]
        annotations = {**merged.get("annotations", {}), **entry.get("annotations", {})}
        if "platform" in entry:
            merged["platform"] = entry["platform"]
        merged.pop("annotations", None)
        entries[index] = _in_struct_order({**merged, "annotations": annotations})
        return
    entries.append(entry)


DESCRIPTOR_FIELDS = ("mediaType", "digest", "size", "urls", "annotations", "data", "platform")
ALWAYS = frozenset({"mediaType", "digest", "size"})  # the struct's fields without omitempty


def _in_struct_order(entry: dict[str, Any]) -> dict[str, Any]:
    ordered = {k: entry[k] for k in (*DESCRIPTOR_FIELDS, "artifactType") if k in entry}
    return {k: v for k, v in ordered.items() if k in ALWAYS or v}


def go_descriptor(entry: dict[str, Any]) -> dict[str, Any]:
    """An index entry as Go's ``ocispec.Descriptor`` writes it back."""
    annotations = _object(entry.get("annotations") or {}, "annotations")
    found: dict[str, Any] = {
        "mediaType": _text(entry.get("mediaType"), "mediaType"),
        "digest": _text(entry.get("digest"), "digest"),
        "size": _size(entry.get("size")),
        "urls": [_text(u, "urls") for u in _list(entry.get("urls") or [], "urls")],
        "annotations": {k: _text(annotations[k], k) for k in sorted(annotations)},
        "data": _text(entry.get("data"), "data"),
        "artifactType": _text(entry.get("artifactType"), "artifactType"),
    }
    if entry.get("platform") is not None:
        found["platform"] = go_platform(_object(entry["platform"], "platform"))
    return _in_struct_order(found)


def go_platform(platform: dict[str, Any]) -> dict[str, Any]:
    """``ocispec.Platform``'s fields, in its order; architecture and os always written."""
    features = [_text(f, "os.features") for f in _list(platform.get("os.features") or [], "x")]
    found: dict[str, Any] = {
        "architecture": _text(platform.get("architecture"), "architecture"),
        "os": _text(platform.get("os"), "os"),
        "os.version": _text(platform.get("os.version"), "os.version"),
        "os.features": features,
        "variant": _text(platform.get("variant"), "variant"),
    }
    return {k: v for k, v in found.items() if k in ("architecture", "os") or v}


def config_platform(config: dict[str, Any]) -> dict[str, Any]:
    """The platform buildx gives a single image: its config's os, architecture and variant,
    normalized (containerd platforms.Normalize: ``aarch64`` is ``arm64``, its ``v8`` variant
    dropped, a bare ``arm`` is ``v7``...)."""
    os_name = _text(config.get("os"), "os").lower() or _this_os()
    os_name = "darwin" if os_name == "macos" else os_name
    architecture, variant = normalize_arch(
        _text(config.get("architecture"), "architecture"), _text(config.get("variant"), "variant")
    )
    platform = {"architecture": architecture, "os": os_name}
    return {**platform, "variant": variant} if variant else platform


def normalize_arch(architecture: str, variant: str) -> tuple[str, str]:
    """containerd 1.7's normalizeArch (platforms/database.go)."""
    arch, var = architecture.lower(), variant.lower()
    if arch == "i386":
        return "386", ""
    if arch in ("x86_64", "x86-64", "amd64"):
        return "amd64", "" if var == "v1" else var
    if arch in ("aarch64", "arm64"):
        return "arm64", "" if var in ("8", "v8") else var
    if arch == "armhf":
        return "arm", "v7"
    if arch == "armel":
        return "arm", "v6"
    if arch == "arm":
        return "arm", {"": "v7", "7": "v7", "5": "v5", "6": "v6", "8": "v8"}.get(var, var)
    return arch, var


def _this_os() -> str:
    """Go's runtime.GOOS of the buildx that would run here: a config without an os."""
    return {"win32": "windows"}.get(sys.platform, sys.platform)


# -- Go's encoding/json --------------------------------------------------------------------

# What Go (1.22 and later) escapes in a string beyond the quote and the backslash: control
# characters, and <, >, & and the two line separators for HTML safety.
_GO_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def go_string(text: str) -> str:
    out = []
    for char in text:
        if char in _GO_ESCAPES:
            out.append(_GO_ESCAPES[char])
        elif char < " ":
            out.append(f"\\u{ord(char):04x}")
        elif "\ud800" <= char <= "\udfff":
            out.append("\ufffd")  # a lone surrogate: Go decoded it as the replacement
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def go_json(value: Any, indent: str = "") -> str:
    """``json.MarshalIndent(value, "", "  ")`` for JSON-shaped data (dict order kept)."""
    inner = indent + "  "
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{inner}{go_string(k)}: {go_json(v, inner)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if isinstance(value, list):
        if not value:
            return "[]"
        return "[\n" + ",\n".join(inner + go_json(v, inner) for v in value) + "\n" + indent + "]"
    if isinstance(value, str):
        return go_string(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    raise ImageError(f"cannot write {type(value).__name__} into an image index")


def _loads(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        raise ImageError("the image index is not JSON") from None


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ImageError(f"the image index has {what} that is not an object")
    return value


def _list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise ImageError(f"the image index has {what} that is not a list")
    return value


def _text(value: Any, what: str) -> str:
    return config_text(value, what, "the image index")


def _size(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise ImageError("the image index has a size that is not a whole number")
    return value
