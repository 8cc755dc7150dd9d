"""How long-running work reports what it is doing, independent of how it is shown.

The engine and client talk to a :class:`Reporter`; the CLI gives them one that draws a rich
status on stderr, tests can give them a recording one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol


class Reporter(Protocol):
    verbose: bool

    def step(self, message: str) -> AbstractContextManager[None]:
        """Shown while the block runs (a spinner in a terminal)."""
        ...

    def info(self, message: str) -> None: ...

    def warn(self, message: str) -> None: ...

    def build_log(self, line: str) -> None:
        """A line of the engine's own output, shown with --verbose."""
        ...


class SilentReporter:
    """Keeps messages for inspection; shows nothing."""

    def __init__(self, verbose: bool = False) -> None:
        self.verbose = verbose
        self.messages: list[str] = []

    @contextmanager
    def step(self, message: str) -> Iterator[None]:
        self.messages.append(message)
        yield

    def info(self, message: str) -> None:
        self.messages.append(message)

    def warn(self, message: str) -> None:
        self.messages.append(f"warning: {message}")

    def build_log(self, line: str) -> None:
        self.messages.append(line)
