"""Credentials out of every uri cnbext prints: one linear-time pass over any text.

``https://user:p@ss-TOKEN@host/x`` carries its password up to the *last* ``@`` of the
authority (that is where urllib, and so the download, splits it), so everything between
``://`` and that ``@`` is replaced (not in ``docker://`` and ``oci-layout://``
references, whose ``@`` starts a digest). The authority ends at the first ``/``, ``?``, ``#``,
whitespace, quote, angle bracket or backslash. Each ``://`` is found with ``str.find`` and
its authority matched once from there, so the pass reads every character at most twice,
however long a hostile Location header or error message is (a backtracking regex took
seconds on a 256 KiB one).

Only ``re`` is imported: the CLI's printing goes through this on every run.
"""

from __future__ import annotations

import re
from typing import Any

_AUTHORITY = re.compile(r"[^/?#\s\"'<>\\`]*")
MASK = "***"
# Image references carry `@sha256:...`, never credentials: `docker://repo@sha256:...`.
_IMAGE_SCHEMES = ("docker", "oci-layout")


def redact_url(text: str) -> str:
    """``text`` with the userinfo of every URL in it replaced by ``***``."""
    pieces: list[str] = []
    done = 0  # text[:done] is in pieces
    search = 0
    while (mark := text.find("://", search)) >= 0:
        start = mark + 3
        match = _AUTHORITY.match(text, start)
        end = match.end() if match else start
        at = text.rfind("@", start, end)
        if at >= 0 and not _names_image(text, mark):
            pieces += [text[done:start], MASK]
            done = at
        search = max(end, start)
    pieces.append(text[done:])
    return "".join(pieces)


def _names_image(text: str, mark: int) -> bool:
    """Whether the scheme ending at ``mark`` is an image scheme (a bounded look back)."""
    before = text[max(0, mark - 11) : mark].lower()
    return any(
        before.endswith(scheme) and not before[: -len(scheme)][-1:].isalnum()
        for scheme in _IMAGE_SCHEMES
    )


def redact_document(value: Any) -> Any:
    """A JSON-able document with :func:`redact_url` applied to every string in it."""
    if isinstance(value, str):
        return redact_url(value)
    if isinstance(value, dict):
        return {redact_url(str(k)): redact_document(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_document(v) for v in value]
    return value
