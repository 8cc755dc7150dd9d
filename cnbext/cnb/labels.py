"""The CNB labels cnbext reads and writes, and how extend metadata merges.

``io.buildpacks.extend.metadata`` records what was added to an image (RFC PR #23). Extending an
already extended image must not forget the earlier extension, so the new metadata is merged into
the base image's value: tables merge recursively, ``packages`` lists are an ordered union (the
earlier packages are still installed), and any other value is replaced by the newer one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

EXTEND_METADATA = "io.buildpacks.extend.metadata"
REBASABLE = "io.buildpacks.rebasable"
BUILDER_METADATA = "io.buildpacks.builder.metadata"
STACK_ID = "io.buildpacks.stack.id"

# Lists that accumulate: what an earlier extension installed or applied stays recorded.
UNION_KEYS = frozenset({"packages", "extensions"})


def merge_metadata(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = dict(old)
    for key, value in new.items():
        previous = merged.get(key)
        if isinstance(previous, Mapping) and isinstance(value, Mapping):
            merged[key] = merge_metadata(previous, value)
        elif key in UNION_KEYS and isinstance(previous, list) and isinstance(value, list):
            merged[key] = _ordered_union(previous, value)
        else:
            merged[key] = value
    return merged


def _ordered_union(first: list[Any], second: list[Any]) -> list[Any]:
    union: list[Any] = []
    seen: set[str] = set()
    for item in [*first, *second]:
        marker = json.dumps(item, sort_keys=True)
        if marker not in seen:
            seen.add(marker)
            union.append(item)
    return union


def parse_json_label(labels: Mapping[str, str], name: str) -> dict[str, Any] | None:
    """A JSON-object label, None when absent; a malformed value raises ValueError."""
    raw = labels.get(name)
    if raw is None or raw == "":
        return None
    value = json.loads(raw)
    if not isinstance(value, dict):
        raise ValueError(f"label {name} is not a JSON object")
    return value


def encode_json_label(value: Mapping[str, Any]) -> str:
    # Compact and key-sorted: the same metadata always gives the same label (and cache key).
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class LabelChange:
    name: str
    old: str | None
    new: str

    @property
    def changed(self) -> bool:
        return self.old != self.new


def label_changes(base: Mapping[str, str], new: Mapping[str, str]) -> list[LabelChange]:
    return [LabelChange(name, base.get(name), value) for name, value in sorted(new.items())]
