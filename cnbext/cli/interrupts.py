"""Ctrl-C, told apart from the errors it causes.

A terminal's Ctrl-C reaches the whole foreground process group: cnbext and the docker and
buildx processes it is waiting on. Whichever notices first wins the race: buildx may exit
with an error that python-on-whales raises (from a ``finally`` that replaces the
KeyboardInterrupt) before or instead of the interrupt itself, and the run would end with the
failing step's exit code. An error raised while a Ctrl-C is being handled is the Ctrl-C.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


@contextmanager
def watching_interrupts(received: threading.Event) -> Iterator[None]:
    """Set ``received`` once SIGINT arrives while the block runs; the signal still raises
    KeyboardInterrupt as Python's default handler does. Outside the main thread, or when
    someone else handles SIGINT, nothing is installed and only the exception chain tells."""
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield
        return

    def on_interrupt(signum: int, frame: FrameType | None) -> None:
        received.set()
        signal.default_int_handler(signum, frame)

    signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def caused_by_interrupt(error: BaseException) -> bool:
    """Whether a KeyboardInterrupt is in ``error``'s chain (``from None`` hides the context
    from tracebacks, not from here)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, KeyboardInterrupt):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False
