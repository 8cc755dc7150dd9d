"""Image facts kept between runs, keyed by the image's content digest and platform.

Reading an image (its os-release and package-manager binaries) takes a BuildKit build; the
facts cannot change while the content digest stays the same, so a warm run reads them from
here instead. A digest that changes (a re-pushed tag, a rebuilt local image) is a miss.
``CNBEXT_NO_FACT_CACHE=1`` or ``--no-fact-cache`` bypasses the cache (read, and write afresh).
A damaged or foreign entry is a miss, never an error.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from cnbext.cnb.imageref import parse_reference
from cnbext.engine.models import ImageSource
from cnbext.plan.facts import BaseImage
from cnbext.sources.cache import cache_dir

FORMAT = 2  # bump when BaseImage or what the engine probes changes


def _entry(source: ImageSource, platform: str | None, probes: tuple[str, ...]) -> Path:
    key = json.dumps([FORMAT, source.digest, platform or "", sorted(probes)])
    return cache_dir() / "facts" / (hashlib.sha256(key.encode()).hexdigest() + ".json")


def load(source: ImageSource, platform: str | None, probes: tuple[str, ...]) -> BaseImage | None:
    """The facts read before for this digest and platform, named as ``source`` names it."""
    try:
        document: Any = json.loads(_entry(source, platform, probes).read_text())
        facts = BaseImage(
            reference=source.reference,
            image_id=str(document["image_id"]),
            user=str(document["user"]),
            labels={str(k): str(v) for k, v in document["labels"].items()},
            env={str(k): str(v) for k, v in document["env"].items()},
            os=str(document["os"]),
            architecture=str(document["architecture"]),
            os_release=None if document["os_release"] is None else str(document["os_release"]),
            binaries=frozenset(str(b) for b in document["binaries"]),
            repo_digests=_repo_digests(source, document.get("repo_digests", ())),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return facts


def _repo_digests(source: ImageSource, cached: Any) -> tuple[str, ...]:
    """Where the image is known to come from. The same content may be read under another
    repository's name first: a registry source's own ``repository@digest`` is what names it
    now (its provenance records it), whatever the entry was written for."""
    digests = tuple(str(d) for d in cached)
    if source.in_daemon:
        return digests
    own = f"{parse_reference(source.reference).repository}@{source.digest}"
    return (own, *(d for d in digests if d != own))


def store(
    source: ImageSource, platform: str | None, probes: tuple[str, ...], facts: BaseImage
) -> None:
    """Keep ``facts``; written to a temporary file and renamed, so a concurrent reader never
    sees half an entry. A cache that cannot be written only costs the next run time."""
    path = _entry(source, platform, probes)
    document = asdict(replace(facts, reference="", origin=None))
    document["binaries"] = sorted(facts.binaries)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", dir=path.parent, suffix=".tmp", delete=False
        ) as handle:
            json.dump(document, handle)
        Path(handle.name).replace(path)
    except OSError:
        return


def enabled() -> bool:
    return os.environ.get("CNBEXT_NO_FACT_CACHE", "") in ("", "0", "false")
