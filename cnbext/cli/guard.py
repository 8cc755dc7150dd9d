"""Running a command body that is not a build use case (inspect, upgrade) with the same
error handling as :meth:`cnbext.cli.application.Application.run`: cnbext's errors become
messages and documented exit codes, Ctrl-C exits 130."""

from __future__ import annotations

import os
from collections.abc import Callable

import typer
from rich.markup import escape

from cnbext.cli.application import Application, fail
from cnbext.errors import CnbextError, ExitCode


def run_guarded(app: Application, action: Callable[[], int]) -> None:
    """Run ``action``; exit with the code it returns (when not 0) or its error's code."""
    try:
        code = action()
    except CnbextError as error:
        fail(error, app.errors, output=app.output)
    except KeyboardInterrupt:
        app.errors.print("[bold red]interrupted[/]")
        raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
    except Exception as error:
        if app.verbose or os.environ.get("CNBEXT_DEBUG"):
            raise
        app.errors.print(
            f"[bold red]internal error:[/] {escape(type(error).__name__)}: {escape(str(error))}"
        )
        app.errors.print("[dim]hint:[/] re-run with --verbose for the traceback, and report it")
        raise typer.Exit(int(ExitCode.INTERNAL)) from None
    if code:
        raise typer.Exit(code)
