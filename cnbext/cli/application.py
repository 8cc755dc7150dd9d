"""The Application every command runs in (hatch-style): output format, verbosity, the
consoles and the progress reporter, and the one way a command's result or error is shown.

stdout carries the result only (the summary table, or one JSON document with ``--output json``);
progress, warnings and errors go to stderr, so scripts can pipe stdout safely.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.console import Console
from rich.status import Status

from cnbext.cli.output_format import OutputFormat
from cnbext.cli.text import escape
from cnbext.errors import CnbextError, ConfigError, ExitCode

if TYPE_CHECKING:
    from cnbext.client.usecase import Result


class Application:
    """What a command needs besides its options: where and how to show things."""

    def __init__(self, *, output: OutputFormat, verbose: bool, quiet: bool) -> None:
        self.output = output
        self.verbose = verbose
        self.quiet = quiet
        self.errors = stderr_console()
        self.reporter = ConsoleReporter(self.errors, verbose=verbose, quiet=quiet)

    def run(self, use_case: Callable[[], Result]) -> None:
        """Run a use case of the public API and show its result, as :meth:`run_guarded`."""

        def show() -> int:
            self.show(use_case())
            return 0

        self.run_guarded(show)

    def run_guarded(self, action: Callable[[], int]) -> None:
        """Run ``action`` and exit with the code it returns (when not 0); cnbext's errors
        become messages and documented exit codes, Ctrl-C exits 130 (also when what it
        interrupted failed first: cnbext.cli.interrupts)."""
        from cnbext.cli.interrupts import caused_by_interrupt, watching_interrupts

        interrupted = threading.Event()
        try:
            with watching_interrupts(interrupted):
                code = action()
        except KeyboardInterrupt:
            self.errors.print("[bold red]interrupted[/]")
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
        except CnbextError as error:
            if interrupted.is_set() or caused_by_interrupt(error):
                self.errors.print("[bold red]interrupted[/]")
                raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
            fail(error, self.errors, output=self.output)
        except Exception as error:
            if self.verbose or os.environ.get("CNBEXT_DEBUG"):
                raise
            self.errors.print(
                f"[bold red]internal error:[/] {escape(type(error).__name__)}: {escape(str(error))}"
            )
            self.errors.print(
                "[dim]hint:[/] re-run with --verbose for the traceback, and report it"
            )
            raise typer.Exit(int(ExitCode.INTERNAL)) from None
        if code:
            raise typer.Exit(code)

    def show(self, result: Result) -> None:
        """The plan (a dry run) or the images made: a JSON document or rich text on stdout."""
        from cnbext.cli.render import render_plan, render_results

        if self.output is OutputFormat.JSON:
            print_json(result.to_dict())
        elif result.dry_run:
            render_plan(result.plan, stdout_console())
        elif not self.quiet:
            render_results(result.images, stdout_console())


class ConsoleReporter:
    """Progress on stderr: a spinner naming every step under way (builds run concurrently),
    a line per finished step, build logs with --verbose, nothing with --quiet."""

    def __init__(self, console: Console, *, verbose: bool, quiet: bool) -> None:
        self.console = console
        self.verbose = verbose
        self.quiet = quiet
        self._lock = threading.Lock()
        self._active: list[str] = []
        self._status: Status | None = None

    @contextmanager
    def step(self, message: str) -> Iterator[None]:
        if self.quiet:
            yield
            return
        if self.verbose or not self.console.is_terminal:
            self.console.print(f"[bold blue]=>[/] {escape(message)}")
            yield
            return
        self._enter(message)
        try:
            yield
        finally:
            self._leave(message)
        self.console.print(f"[green]✓[/] {escape(message)}")

    def _enter(self, message: str) -> None:
        with self._lock:
            self._active.append(message)
            if self._status is None:
                self._status = self.console.status("")
                self._status.start()
            self._status.update(escape("; ".join(self._active)))

    def _leave(self, message: str) -> None:
        with self._lock:
            self._active.remove(message)
            if self._status is None:
                return
            if self._active:
                self._status.update(escape("; ".join(self._active)))
            else:
                self._status.stop()
                self._status = None

    def info(self, message: str) -> None:
        if not self.quiet:
            self.console.print(escape(message))

    def warn(self, message: str) -> None:
        self.console.print(f"[yellow]warning:[/] {escape(message)}")

    def build_log(self, line: str) -> None:
        if self.verbose and not self.quiet:
            self.console.print(escape(line), style="dim", highlight=False)


def stderr_console() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def stdout_console() -> Console:
    # Panels and tables wrap to the width; stderr keeps soft wrap so that an error line
    # (file:line:col: ...) stays one line for editors and grep.
    return Console(highlight=False)


def print_json(document: Any) -> None:
    from cnbext.sources.redaction import redact_document

    # Every string, so a URL's password never reaches stdout (cli.text does it for text).
    sys.stdout.write(json.dumps(redact_document(document), indent=2, sort_keys=False) + "\n")


def fail(error: CnbextError, console: Console, *, output: OutputFormat) -> NoReturn:
    if isinstance(error, ConfigError):
        for problem in error.problems:
            console.print(escape(str(problem)))
    console.print(f"[bold red]error:[/] {escape(error.message)}")
    if error.hint:
        console.print(f"[dim]hint:[/] {escape(error.hint)}")
    if output is OutputFormat.JSON:
        problems = [str(p) for p in error.problems] if isinstance(error, ConfigError) else []
        print_json({"error": error.message, "exitCode": int(error.exit_code), "problems": problems})
    raise typer.Exit(int(error.exit_code))
