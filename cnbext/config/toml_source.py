"""TOML documents that remember where every key and value came from.

tomlkit keeps a document's exact text but exposes no positions, and every config error cnbext
reports must carry file:line:col. We subclass tomlkit's parser and note the source offset at
which each key, value and table header starts, keyed by the identity of the object tomlkit puts
in the document; :meth:`TomlSource.locate` then walks a JSON path through the document and turns
the nearest recorded offset into a line and column. The hooks touch three private methods, so
pyproject.toml pins tomlkit to the minor versions this was tested with.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.container import Container, OutOfOrderTableProxy
from tomlkit.exceptions import ParseError, TOMLKitError
from tomlkit.items import AoT, Array, InlineTable, Item, Key, Table
from tomlkit.parser import Parser

from cnbext.errors import ConfigError, ConfigProblem, SourcePosition

JsonPath = Sequence[str | int]


class _PositionRecordingParser(Parser):
    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.offsets: dict[int, int] = {}
        # Identity keys are only meaningful while the objects live: hold on to them.
        self._keep: list[object] = []

    def _record(self, obj: object, offset: int) -> None:
        self.offsets.setdefault(id(obj), offset)
        self._keep.append(obj)

    def _parse_key(self) -> Key:
        offset = self._idx
        key = super()._parse_key()
        self._record(key, offset)
        return key

    def _parse_value(self) -> Item:
        offset = self._idx
        item = super()._parse_value()
        self._record(item, offset)
        return item

    def _parse_table(
        self, parent_name: Key | None = None, parent: Table | None = None
    ) -> tuple[Key, Table | AoT]:
        offset = self._idx
        key, table = super()._parse_table(parent_name, parent)
        self._record(table, offset)
        if isinstance(table, AoT):
            for member in table.body:
                self._record(member, offset)
        return key, table


def json_path(path: JsonPath) -> str:
    """``["extend", "metadata", "packages", 1]`` -> ``$.extend.metadata.packages[1]``."""
    text = "$"
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part.replace("-", "").replace("_", "").isalnum():
            text += f".{part}"
        else:
            text += f"[{json.dumps(part)}]"
    return text


@dataclass
class TomlSource:
    """A parsed TOML file: plain data for validation, plus positions for error messages."""

    display_name: str
    text: str
    document: tomlkit.TOMLDocument
    _offsets: dict[int, int] = field(repr=False)
    _line_starts: list[int] = field(repr=False)

    @classmethod
    def parse(cls, text: str, display_name: str) -> TomlSource:
        parser = _PositionRecordingParser(text)
        try:
            document = parser.parse()
        except TOMLKitError as err:
            # tomlkit says "... at line L col C"; we say it in our own file:line:col form.
            message = _message(err)
            position = _error_position(text, message, err)
            raise ConfigError(
                [ConfigProblem(display_name, position, "", f"invalid TOML: {message}")]
            ) from None
        line_starts = _line_starts(text)
        source = cls(display_name, text, document, parser.offsets, line_starts)
        source._keep_alive = parser._keep  # type: ignore[attr-defined]
        return source

    @classmethod
    def read(cls, path: Path, display_name: str | None = None) -> TomlSource:
        name = display_name or str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(
                [ConfigProblem(name, SourcePosition(1, 1), "", "file not found")]
            ) from None
        except (OSError, UnicodeDecodeError) as err:
            raise ConfigError(
                [ConfigProblem(name, SourcePosition(1, 1), "", f"cannot read file: {err}")]
            ) from None
        return cls.parse(text, name)

    def data(self) -> dict[str, Any]:
        """The document as plain Python values (what JSON Schema validates)."""
        unwrapped: dict[str, Any] = self.document.unwrap()
        return unwrapped

    def position_of_offset(self, offset: int) -> SourcePosition:
        return _position_in(self._line_starts, offset)

    def locate(self, path: JsonPath, *, key: bool = False) -> SourcePosition:
        """Where the value at ``path`` starts (or its key, with ``key=True``).

        Falls back to the deepest ancestor that has a position, so a missing key is reported
        at the table that should hold it and the document start is the last resort.
        """
        _, offset = self._deepest(self.document, path, key=key)
        return self.position_of_offset(offset) if offset is not None else SourcePosition(1, 1)

    def _deepest(self, node: Any, path: JsonPath, *, key: bool) -> tuple[int, int | None]:
        """(how many parts of ``path`` resolved, offset of the deepest one with a position).

        A table may be split over several places (``[a.x]``, ``[b]``, ``[a.y]``), so every
        entry with the name is tried and the one that resolves furthest wins.
        """
        if not path:
            return 0, None
        best: tuple[int, int | None] = (0, None)
        for child_key, child in _children(node, path[0]):
            offset = None
            if len(path) == 1 and key and child_key is not None:
                offset = self._offsets.get(id(child_key))
            if offset is None:
                offset = self._offsets.get(id(child))
            if offset is None and child_key is not None:
                offset = self._offsets.get(id(child_key))
            depth, deeper = self._deepest(child, path[1:], key=key)
            candidate = (depth + 1, deeper if deeper is not None else offset)
            if candidate[0] > best[0]:
                best = candidate
        return best

    def problem(self, path: JsonPath, message: str, *, key: bool = False) -> ConfigProblem:
        return ConfigProblem(
            self.display_name, self.locate(path, key=key), json_path(path) if path else "", message
        )


def _line_starts(text: str) -> list[int]:
    return [0] + [i + 1 for i, char in enumerate(text) if char == "\n"]


def _position_in(line_starts: list[int], offset: int) -> SourcePosition:
    line_index = bisect.bisect_right(line_starts, offset) - 1
    return SourcePosition(line_index + 1, offset - line_starts[line_index] + 1)


def _message(err: TOMLKitError) -> str:
    return str(err).rsplit(" at line ", 1)[0] if isinstance(err, ParseError) else str(err)


def _error_position(text: str, message: str, err: TOMLKitError) -> SourcePosition:
    """Where the error is: the first line at which ``message`` holds.

    A syntax error's own position is that line. A semantic error (a key defined twice, a
    table redefined) has none, or, depending on tomlkit's version, the position where it was
    noticed (the next table's header), so its line is found from the text alone: the shortest
    run of whole lines that raises the same error ends at the offending item. A longer
    prefix keeps every item of a shorter one, so a binary search finds it in log2(lines)
    parses, which bounds the cost on hostile input."""
    lines = text.splitlines(keepends=True)
    low, high = 1, max(len(lines), 1)
    while low < high:
        middle = (low + high) // 2
        if _raises("".join(lines[:middle]), message):
            high = middle
        else:
            low = middle + 1
    if isinstance(err, ParseError) and err.line == low:
        return SourcePosition(low, max(err.col, 1))
    return SourcePosition(low, 1)


def _raises(text: str, message: str) -> bool:
    try:
        tomlkit.parse(text)
    except TOMLKitError as err:
        return _message(err) == message
    return False


def _children(node: Any, part: str | int) -> list[tuple[Key | None, Any]]:
    """The entries one step of a JSON path can lead to in tomlkit's containers."""
    if isinstance(part, int):
        if isinstance(node, Array | AoT | list) and 0 <= part < len(node):
            items = node.body if isinstance(node, AoT) else list(node)
            return [(None, items[part])]
        return []
    container = _container_of(node)
    if container is None:
        return []
    if isinstance(container, OutOfOrderTableProxy):
        container = container._internal_container
    found: list[tuple[Key | None, Any]] = []
    for body_key, item in container.body:
        if body_key is None:
            continue
        if body_key.key == part:
            found.append((body_key, item))
        elif isinstance(item, Table) and item.is_super_table():
            # Dotted keys and super tables (`a.b = 1`, `[a.b]` without `[a]`) nest one level.
            found.extend(_children(item, part))
    return found


def _container_of(node: Any) -> Container | OutOfOrderTableProxy | None:
    if isinstance(node, Container | OutOfOrderTableProxy):
        return node
    if isinstance(node, Table | InlineTable):
        value: Container = node.value
        return value
    return None


_TOMLLIB_POSITION = re.compile(
    r"^(?P<message>.*) \(at line (?P<line>\d+), column (?P<column>\d+)\)$"
)


PACK_TOML = "pack (BurntSushi/toml v1.3.2)"


def toml10_problems(source: TomlSource, reader: str = PACK_TOML) -> list[ConfigProblem]:
    """What TOML 1.0 refuses in a file tomlkit (which reads TOML 1.1) accepted: a newline or a
    trailing comma in an inline table, ``\\e`` or ``\\x`` escapes, times without seconds.
    ``reader`` is who reads the file as TOML 1.0 (pack: BurntSushi/toml v1.3.2)."""
    import tomllib

    try:
        tomllib.loads(source.text)
    except tomllib.TOMLDecodeError as err:
        match = _TOMLLIB_POSITION.match(str(err))
        line, column = (int(match["line"]), int(match["column"])) if match else (1, 1)
        detail = match["message"] if match else str(err)
        message = f"invalid TOML 1.0, which {reader} reads: {detail}"
        return [ConfigProblem(source.display_name, SourcePosition(line, column), "", message)]
    return []
