"""One deadline per download, kept by closing its sockets.

A per-read timeout never fires on a server that sends one byte just before it would, so a
dripped status line, header block, checksum file or body could run for hours. A
:class:`Deadline` is started once per download; every HTTP(S) connection urllib opens for it
(redirects and the ``.sha256`` file included) is registered, and when the time is up a timer
thread shuts those sockets down: whatever read is blocked returns at once, and
:meth:`Deadline.check` turns that into the deadline's own message.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
import time
import urllib.request
from collections.abc import Callable
from types import TracebackType
from typing import Any

from cnbext.sources.limits import DOWNLOAD_TIMEOUT_ENV


class DeadlineError(Exception):
    """The download's time is up (the message says how to allow more)."""


class Deadline:
    """Started by ``with``; shuts every registered connection when ``seconds`` have passed."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._end = time.monotonic() + seconds
        self._lock = threading.Lock()
        self._connections: list[http.client.HTTPConnection] = []
        self.expired = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> Deadline:
        self._timer.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._timer.cancel()

    def remaining(self) -> float:
        return max(0.0, self._end - time.monotonic())

    def check(self) -> None:
        if self.expired or time.monotonic() >= self._end:
            self.expired = True
            raise DeadlineError(
                f"not complete within {self.seconds:g} s (set {DOWNLOAD_TIMEOUT_ENV} to allow more)"
            )

    def connection(self, http_class: Any) -> Callable[..., http.client.HTTPConnection]:
        """A factory like ``http_class`` whose connections this deadline can shut."""

        def make(*args: Any, **kwargs: Any) -> http.client.HTTPConnection:
            made: http.client.HTTPConnection = http_class(*args, **kwargs)
            with self._lock:
                self._connections.append(made)
                if self.expired:
                    _shut(made)
            return made

        return make

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for made in self._connections:
                _shut(made)


def _shut(made: http.client.HTTPConnection) -> None:
    """Shut the connection's socket (plain, or the TLS one wrapping it) for both directions:
    a read blocked in another thread returns. The socket is closed by its owner, as usual."""
    sock = made.sock
    if sock is None:
        return
    with contextlib.suppress(OSError):  # already closed, or never connected
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Registering(urllib.request.AbstractHTTPHandler):
    """Opens connections through the deadline's factory, so it can shut them."""

    deadline: Deadline

    def do_open(
        self, http_class: Any, req: urllib.request.Request, **http_conn_args: Any
    ) -> http.client.HTTPResponse:
        return super().do_open(self.deadline.connection(http_class), req, **http_conn_args)


class _HTTP(_Registering, urllib.request.HTTPHandler):
    pass


class _HTTPS(_Registering, urllib.request.HTTPSHandler):
    pass


def deadline_handlers(deadline: Deadline) -> list[urllib.request.BaseHandler]:
    """urllib handlers for http and https whose connections ``deadline`` shuts."""
    made: list[urllib.request.BaseHandler] = []
    for kind in (_HTTP, _HTTPS):
        handler = kind()
        handler.deadline = deadline
        made.append(handler)
    return made
