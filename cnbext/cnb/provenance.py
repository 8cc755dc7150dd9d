"""The provenance label: what cnbext needs to redo the work that made an image.

Every image cnbext makes carries ``io.cnbext.provenance`` (JSON, see docs/day-2.md): the base as
the user named it and the digests it resolved to (index and per platform), the platforms, the
metadata applied, the extensions (id, version, source uri, content digest), the build id policy
and cnbext's version; builders also name their run image, its base and its mirrors. Day-2
commands compare the recorded digests with what the registry serves now (stale or current) and
replay the recorded work. Extending an extended image keeps the earlier rounds in ``history``.

Nothing secret goes in: uris lose user info, query and fragment (signed URLs carry tokens), and
platform env values that look secret are recorded by name only.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cnbext.cnb.labels import REBASABLE
from cnbext.sources.redaction import redact_url

PROVENANCE = "io.cnbext.provenance"
# 2: the request is recorded whole (``request``) and the names are not (they are not part of
# the image). 1 is still read: its upgrade warns about what it did not record.
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)


@dataclass(frozen=True)
class BaseRecord:
    """A base image as given and what it resolved to when the work was done."""

    reference: str
    digest: str | None = None  # index (or single manifest) digest; None: not from a registry
    platforms: dict[str, str] = field(default_factory=dict)  # os/arch -> manifest digest

    def to_dict(self) -> dict[str, Any]:
        return {"reference": self.reference, "digest": self.digest, "platforms": self.platforms}

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> BaseRecord:
        return cls(
            str(value.get("reference", "")),
            value.get("digest"),
            {str(k): str(v) for k, v in (value.get("platforms") or {}).items()},
        )


@dataclass(frozen=True)
class ExtensionRecord:
    uri: str
    id: str | None = None
    version: str | None = None
    digest: str | None = None  # of the extension's content, when cnbext computed one
    metadata: dict[str, Any] = field(default_factory=dict)  # the request's, for generate's plan
    sha256: str | None = None  # the request's pin, replayed so a redo gets the same archive

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "version": self.version,
            "uri": self.uri,
            "digest": self.digest,
            "metadata": self.metadata,
            "sha256": self.sha256,
        }

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> ExtensionRecord:
        metadata = value.get("metadata")
        return cls(
            str(value["uri"]),
            value.get("id"),
            value.get("version"),
            value.get("digest"),
            dict(metadata) if isinstance(metadata, Mapping) else {},
            value.get("sha256"),
        )


@dataclass(frozen=True)
class RunImageRecord:
    """A builder's run image: its base, the names it was saved as and the metadata applied."""

    image: str
    mirrors: tuple[str, ...]
    base: BaseRecord | None
    metadata: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "image": self.image,
            "mirrors": list(self.mirrors),
            "base": self.base.to_dict() if self.base else None,
            "metadata": self.metadata,
        }

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> RunImageRecord:
        base = value.get("base")
        return cls(
            str(value["image"]),
            tuple(str(m) for m in value.get("mirrors") or ()),
            BaseRecord.from_dict(base) if base else None,
            dict(value.get("metadata") or {}),
        )


@dataclass(frozen=True)
class Provenance:
    command: str  # extend, extend-builder, create-builder
    role: str  # image, builder, run image
    tool_version: str
    base: BaseRecord
    platforms: tuple[str, ...]
    metadata: dict[str, Any]
    extensions: tuple[ExtensionRecord, ...] = ()
    build_id: str | None = None  # None: a fresh id per build (the extender's rule)
    run_image: RunImageRecord | None = None
    lifecycle: dict[str, Any] | None = None  # create-builder: how the lifecycle was chosen
    history: tuple[dict[str, Any], ...] = ()  # earlier rounds, oldest first
    # Format 1 only: every name it was saved as. Format 2 keeps names out of the image.
    names: tuple[str, ...] = ()
    # --env given to the extensions; a secret-looking one keeps its name, its value is None.
    platform_env: dict[str, str | None] = field(default_factory=dict)
    app: str | None = None  # --app: the folder the extensions saw as CNB_APP_DIR
    # The request whole (cnbext.plan.request): {"options": ..., "config": ...}; None in
    # format 1, which recorded only the fields above.
    request: dict[str, Any] | None = None
    format_version: int = FORMAT_VERSION
    # Whether this image's own layers (packages, extension layers) may move onto a new base:
    # cnbext's judgement, read by upgrade. Not written as io.buildpacks.rebasable, which every
    # app built on a run image inherits (docs/extensions.md). None: not judged (builders), or
    # an image made before cnbext recorded it here (see layers_rebasable).
    rebasable: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        value: dict[str, Any] = {
            "version": self.format_version,
            "tool": {"name": "cnbext", "version": self.tool_version},
            "command": self.command,
            "role": self.role,
            "base": self.base.to_dict(),
            "platforms": list(self.platforms),
            "metadata": self.metadata,
            "extensions": [e.to_dict() for e in self.extensions],
            "buildId": (
                {"policy": "fixed", "value": self.build_id}
                if self.build_id is not None
                else {"policy": "fresh"}
            ),
        }
        if self.run_image is not None:
            value["runImage"] = self.run_image.to_dict()
        if self.lifecycle is not None:
            value["lifecycle"] = self.lifecycle
        value["platformEnv"] = self.platform_env
        value["app"] = self.app
        value["history"] = list(self.history)
        if self.format_version == 1:
            value["names"] = list(self.names)
        if self.request is not None:
            value["request"] = self.request
        if self.rebasable is not None:
            value["rebasable"] = self.rebasable
        return value

    def encode(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> Provenance:
        version = value.get("version")
        if version not in READABLE_VERSIONS:
            raise ValueError(f"provenance format {version!r} is not supported")
        request = value.get("request")
        build_id = value.get("buildId") or {}
        run_image = value.get("runImage")
        return cls(
            command=str(value["command"]),
            role=str(value.get("role", "image")),
            tool_version=str((value.get("tool") or {}).get("version", "")),
            base=BaseRecord.from_dict(value["base"]),
            platforms=tuple(str(p) for p in value.get("platforms") or ()),
            metadata=dict(value.get("metadata") or {}),
            extensions=tuple(ExtensionRecord.from_dict(e) for e in value.get("extensions") or ()),
            build_id=build_id.get("value") if build_id.get("policy") == "fixed" else None,
            run_image=RunImageRecord.from_dict(run_image) if run_image else None,
            lifecycle=value.get("lifecycle"),
            history=tuple(value.get("history") or ()),
            names=tuple(str(n) for n in value.get("names") or ()),
            platform_env={
                str(k): None if v is None else str(v)
                for k, v in (value.get("platformEnv") or {}).items()
            },
            app=value.get("app"),
            request=dict(request) if isinstance(request, Mapping) else None,
            format_version=int(version),
            rebasable=rebasable if isinstance(rebasable := value.get("rebasable"), bool) else None,
        )


def read_provenance(labels: Mapping[str, str]) -> Provenance | None:
    """The image's provenance; None when it has none. A malformed one raises ValueError."""
    raw = labels.get(PROVENANCE)
    if not raw:
        return None
    value = json.loads(raw)
    if not isinstance(value, dict):
        raise ValueError(f"label {PROVENANCE} is not a JSON object")
    return Provenance.from_dict(value)


def layers_rebasable(provenance: Provenance, labels: Mapping[str, str]) -> bool:
    """Whether the image's own layers may move onto a new base: the provenance's judgement;
    an image made by a cnbext that did not record it there carries it, as that cnbext wrote
    it, in io.buildpacks.rebasable ("true" only)."""
    if provenance.rebasable is not None:
        return provenance.rebasable
    return labels.get(REBASABLE) == "true"


def has_own_sbom(provenance: Provenance) -> bool:
    """Whether the image has an SBOM layer cnbext wrote (docs/sbom.md)."""
    options = (provenance.request or {}).get("options") or {}
    return bool(provenance.metadata.get("packages")) and options.get("sbom") == "cdx"


def earlier_rounds(base_labels: Mapping[str, str]) -> tuple[dict[str, Any], ...]:
    """The history a new round inherits: the base's own history, then the base's round."""
    try:
        previous = read_provenance(base_labels)
    except (ValueError, KeyError):
        return ()  # a foreign or broken value is not ours to keep
    if previous is None:
        return ()
    round_ = previous.to_dict()
    del round_["history"]
    round_.pop("request", None)  # the request that made the base is the base's business
    return (*previous.history, round_)


# Names of variables that usually hold credentials (as CI systems mask them).
_SECRET_NAME = re.compile(
    r"SECRET|TOKEN|PASSWORD|PASSWD|PASSPHRASE|CREDENTIAL|AUTH|PRIVATE|KEY", re.I
)


def recorded_env(env: Mapping[str, str]) -> dict[str, str | None]:
    """``env`` as the label keeps it: every name, but no value that looks secret (a secret-like
    name, or a URL with user info), which an upgrade must be given again with --env."""
    return {
        name: None if _SECRET_NAME.search(name) or redact_url(value) != value else value
        for name, value in sorted(env.items())
    }


def safe_uri(uri: str) -> str:
    """``uri`` without credentials: user info, query and fragment removed from URLs."""
    if "://" not in uri:
        return uri
    try:
        parts = urllib.parse.urlsplit(uri)
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
    except ValueError:  # a port or IPv6 host urllib cannot read: mask, cut query and fragment
        return redact_url(uri).split("?", 1)[0].split("#", 1)[0]
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))


def extension_records(
    requests: Sequence[tuple[str, str | None, str | None]],
    applied: Sequence[Mapping[str, str]] = (),
) -> tuple[ExtensionRecord, ...]:
    """Records for (uri, id, version) requests; id and version are filled from what was applied
    when the request named only a uri (in request order, so the n-th applied one matches)."""
    records = []
    for index, (uri, ext_id, version) in enumerate(requests):
        if ext_id is None and index < len(applied) and len(applied) == len(requests):
            ext_id, version = applied[index].get("id"), applied[index].get("version")
        records.append(ExtensionRecord(safe_uri(uri), ext_id, version))
    return tuple(records)
