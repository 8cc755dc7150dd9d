"""Which Linux distribution an image holds, from its os-release file.

The file is read out of the image by the engine without running it, so this works for every
platform; here it is only parsed (os-release(5): shell-like KEY=value lines, values optionally
quoted with the usual backslash escapes).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Distro:
    id: str
    id_like: tuple[str, ...]
    version_id: str
    pretty_name: str

    @property
    def candidates(self) -> tuple[str, ...]:
        """ID first, then ID_LIKE in order: the spec's fallback chain for derivatives."""
        return (self.id, *self.id_like)


def parse_os_release(text: str) -> Distro:
    fields: dict[str, str] = {}
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        fields[key.strip()] = _unquote(value.strip())
    return Distro(
        id=(fields.get("ID") or "linux").lower(),
        id_like=tuple(fields.get("ID_LIKE", "").lower().split()),
        version_id=fields.get("VERSION_ID", ""),
        pretty_name=fields.get("PRETTY_NAME") or fields.get("NAME", ""),
    )


_DOUBLE_QUOTE_ESCAPES = {"\\\\": "\\", "\\$": "$", '\\"': '"', "\\`": "`"}


def _unquote(value: str) -> str:
    r"""os-release(5): single quotes are literal; inside double quotes \\, \$, \" and \` are
    escapes; an unquoted value is taken as it stands."""
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1]
    if len(value) >= 2 and value[0] == value[-1] == '"':
        inner = value[1:-1]
        result = []
        index = 0
        while index < len(inner):
            pair = inner[index : index + 2]
            if pair in _DOUBLE_QUOTE_ESCAPES:
                result.append(_DOUBLE_QUOTE_ESCAPES[pair])
                index += 2
            else:
                result.append(inner[index])
                index += 1
        return "".join(result)
    # A broken file (an unclosed quote) still names its distro well enough without the quote.
    return value.strip("\"'")
