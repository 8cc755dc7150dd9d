"""How a command prints its result: rich text for people, or one JSON document for scripts."""

from __future__ import annotations

from enum import StrEnum


class OutputFormat(StrEnum):
    TEXT = "text"
    JSON = "json"
