"""Text from images and extensions, made safe to print on a terminal.

Labels, Dockerfiles, extension output and build logs come from strangers. Printed raw, an
escape sequence in them could rewrite the screen, hide a line or retitle the terminal; rich
keeps ESC and most other control characters. Every one of them is shown as ``\\xNN`` instead
(newlines and tabs stay), and rich markup is escaped, so the text is printed as it is. A
password in a URL is masked on the way, wherever the URL came from.
"""

from __future__ import annotations

import re

from rich.markup import escape as escape_markup

from cnbext.sources.redaction import redact_url

# C0 controls but tab and newline, DEL, C1 controls, and the bidirectional overrides that
# reorder what is displayed (CVE-2021-42574).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    r"""``text`` with control characters shown as ``\xNN`` / ``\uNNNN``, and the credentials
    of any URL in it masked (cnbext.sources.redaction): everything cnbext prints passes here."""
    return _CONTROL.sub(_escaped, redact_url(text))


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape(text: str) -> str:
    """rich's markup escape, after :func:`printable`."""
    return escape_markup(printable(text))
