"""Ctrl-C exits 130 even when what it interrupted failed first with an error of its own
(buildx exits on the same SIGINT; its failure may replace the KeyboardInterrupt)."""

from __future__ import annotations

import signal
from collections.abc import Callable

import pytest
import typer

from cnbext.cli.application import Application
from cnbext.cli.interrupts import caused_by_interrupt
from cnbext.cli.output_format import OutputFormat
from cnbext.errors import EXTENSION_BUILD_ERROR, ExitCode, ExtensionError


def _exit_code(action: Callable[[], int]) -> int:
    app = Application(output=OutputFormat.TEXT, verbose=False, quiet=True)
    with pytest.raises(typer.Exit) as caught:
        app.run_guarded(action)
    return int(caught.value.exit_code)


def _step_failure() -> ExtensionError:
    return ExtensionError("applying the step failed", exit_code=EXTENSION_BUILD_ERROR)


def test_an_error_raised_while_a_ctrl_c_unwinds_is_the_ctrl_c() -> None:
    def action() -> int:
        try:
            raise KeyboardInterrupt
        finally:
            # As python-on-whales' stream does: the process it waited on exited non-zero.
            raise _step_failure()

    assert _exit_code(action) == ExitCode.INTERRUPTED


@pytest.mark.usefixtures("default_sigint")
def test_an_error_after_a_swallowed_ctrl_c_is_the_ctrl_c() -> None:
    def action() -> int:
        try:
            # raise_signal sends SIGINT to this very thread (os.kill may wake another thread
            # of the process, and the handler would run later), so the handler raises here.
            signal.raise_signal(signal.SIGINT)
            pytest.fail("SIGINT did not interrupt")
        except KeyboardInterrupt:
            pass  # someone below caught it and carried on
        raise _step_failure()

    assert _exit_code(action) == ExitCode.INTERRUPTED
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_the_same_error_without_ctrl_c_keeps_its_exit_code() -> None:
    def action() -> int:
        raise _step_failure()

    assert _exit_code(action) == EXTENSION_BUILD_ERROR


def test_the_chain_is_followed_through_from_none() -> None:
    try:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise _step_failure() from None
    except ExtensionError as error:
        assert caused_by_interrupt(error)
    assert not caused_by_interrupt(_step_failure())
