"""TOML from strangers (descriptors, lifecycle.toml, an extension's plan.toml), read within a
nesting limit.

``tomllib`` parses nested arrays and inline tables by recursion, so ``x = [[[[…]]]]`` a few
thousand deep ends in a ``RecursionError`` (an internal error) instead of the refusal the
file's kind documents. :func:`load_toml` turns that, and any value nested deeper than
:data:`MAX_TOML_DEPTH`, into a ``tomllib.TOMLDecodeError`` every caller already handles. The
limit is tomlkit's own (the config files' parser), so every TOML cnbext reads agrees.
"""

from __future__ import annotations

import tomllib
from typing import Any

MAX_TOML_DEPTH = 100


class TomlTooDeepError(tomllib.TOMLDecodeError):
    """A TOML value nested more than :data:`MAX_TOML_DEPTH` levels deep."""


def load_toml(text: str) -> dict[str, Any]:
    too_deep = f"TOML value nested more than {MAX_TOML_DEPTH} levels deep"
    try:
        data = tomllib.loads(text)
    except RecursionError:
        raise TomlTooDeepError(too_deep) from None
    if nesting_depth(data) > MAX_TOML_DEPTH:
        raise TomlTooDeepError(too_deep)
    return data


def nesting_depth(value: object) -> int:
    """How deep tables and arrays nest in ``value``, counted without recursion."""
    deepest = 0
    pending: list[tuple[object, int]] = [(value, 0)]
    while pending:
        node, depth = pending.pop()
        deepest = max(deepest, depth)
        if isinstance(node, dict):
            pending.extend((child, depth + 1) for child in node.values())
        elif isinstance(node, list):
            pending.extend((child, depth + 1) for child in node)
    return deepest
