"""What a user asks for when naming an image extension (config or --extension flag)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ExtensionRequest:
    """An extension to apply: [[extend.extensions]] in a config, or --extension on the CLI."""

    uri: str
    id: str | None = None
    version: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)  # for generate's Buildpack Plan
    digest: str | None = None  # of its content, gathered before planning (provenance)
    sha256: str | None = None  # what an archive or download uri must hash to


def requests_from_config(entries: list[dict[str, Any]]) -> tuple[ExtensionRequest, ...]:
    """[[extend.extensions]] entries (already schema-checked) as requests."""
    return tuple(
        ExtensionRequest(
            uri=entry["uri"],
            id=entry.get("id"),
            version=entry.get("version"),
            metadata=dict(entry.get("metadata", {})),
            sha256=entry.get("sha256"),
        )
        for entry in entries
    )
