"""cnbext.cli.text: what came from an image or an extension is printed inert."""

from __future__ import annotations

import io

from rich.console import Console

from cnbext.cli.text import escape, printable


def test_escape_sequences_are_shown_not_obeyed() -> None:
    hostile = "ok\x1b]0;pwned\x07\x1b[2J\rhidden\u202eevil\x9b"
    assert printable(hostile) == "ok\\x1b]0;pwned\\x07\\x1b[2J\\x0dhidden\\u202eevil\\x9b"


def test_newlines_tabs_and_text_stay() -> None:
    assert printable("a\tb\nc — ü") == "a\tb\nc — ü"


def test_markup_is_escaped_after_control_characters() -> None:
    console = Console(file=io.StringIO(), force_terminal=True, color_system=None, width=200)
    console.print(escape("[bold]\x1b[31mred[/bold]"))
    output = console.file.getvalue()  # type: ignore[attr-defined]
    assert "\x1b" not in output
    assert "[bold]\\x1b[31mred[/bold]" in output
