"""One deadline per download, kept by shutting its sockets (headers, body, the .sha256 file),
and redirects that never downgrade https nor turn towards this machine. Real loopback
servers; a held answer waits on the client's socket, never on a timer."""

from __future__ import annotations

import time
import urllib.request
from email.message import Message
from http.client import HTTPMessage
from http.server import BaseHTTPRequestHandler
from io import BytesIO
from pathlib import Path

import pytest

from cnbext.sources import uri
from cnbext.sources.download import _CheckedRedirects, _RefusedError
from cnbext.sources.lifecycle import LifecycleError, fetch_lifecycle
from cnbext.sources.modules import ModuleError, fetch_modules
from cnbext.sources.uri import redirect_refusal
from tests.fixtures.http_server import Route, send_bytes, serve_routes
from tests.fixtures.lifecycle_fixture import make_lifecycle_archive

pytestmark = pytest.mark.usefixtures("no_proxy")


def hold(prefix: bytes) -> Route:
    """An answer that sends ``prefix`` and then nothing, until the client lets go."""

    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.wfile.write(prefix)
        handler.wfile.flush()
        handler.rfile.read()  # returns when the client shuts its socket

    return route


@pytest.mark.parametrize(
    "prefix",
    [b"HTTP/1.0 200 OK\r\nContent-Type: appl", b"HTTP/1.0 200 OK\r\nContent-Length: 9\r\n\r\nab"],
    ids=["headers", "body"],
)
def test_an_answer_that_stalls_ends_at_the_deadline_not_the_read_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefix: bytes
) -> None:
    # The read timeout is 60 s; only the deadline (0.2 s) closing the socket ends this early.
    monkeypatch.setenv("CNBEXT_DOWNLOAD_TIMEOUT", "0.2")
    started = time.monotonic()
    with serve_routes({"/x.tgz": hold(prefix)}) as server, pytest.raises(ModuleError) as caught:
        fetch_modules(
            f"{server.base_url}/x.tgz",
            kind="buildpack",
            base_dir=tmp_path,
            work_dir=tmp_path / "work",
            cache_dir=tmp_path / "cache",
        )
    assert time.monotonic() - started < 15
    assert "not complete within 0.2 s (set CNBEXT_DOWNLOAD_TIMEOUT" in caught.value.message


def test_a_stalled_checksum_file_counts_against_the_same_deadline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = make_lifecycle_archive(tmp_path / "src", checksum=False)
    monkeypatch.setenv("CNBEXT_DOWNLOAD_TIMEOUT", "0.2")
    routes = {
        f"/v0.21.0/{archive.name}": send_bytes(archive.read_bytes()),
        f"/v0.21.0/{archive.name}.sha256": hold(b"HTTP/1.0 200 OK\r\n\r\nab"),
    }
    started = time.monotonic()
    with serve_routes(routes) as server, pytest.raises(LifecycleError) as caught:
        fetch_lifecycle(
            version=None,
            uri=None,
            arch="amd64",
            base_dir=tmp_path,
            work_dir=tmp_path / "work",
            cache_dir=tmp_path / "cache",
            download_base_url=server.base_url,
        )
    assert time.monotonic() - started < 15
    assert "not complete within 0.2 s" in caught.value.message


@pytest.mark.parametrize(
    ("old", "new", "refused"),
    [
        ("https://mirror.example/l.tgz", "http://mirror.example/l.tgz", "https"),
        ("https://127.0.0.1/l.tgz", "http://127.0.0.1/l.tgz", "https"),
        ("https://mirror.example/l.tgz", "https://127.0.0.1:2375/x", "loopback"),
        ("https://mirror.example/l.tgz", "https://localhost/x", "loopback"),
        ("https://mirror.example/l.tgz", "https://[::1]/x", "loopback"),
        ("https://mirror.example/l.tgz", "https://0.0.0.0/x", "loopback"),
        ("https://a.example/l.tgz", "https://b.example/l.tgz", None),
        ("http://127.0.0.1:1/l.tgz", "http://localhost:2/l.tgz", None),
    ],
)
def test_redirects_never_downgrade_nor_turn_to_this_machine(
    old: str, new: str, refused: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The .example names resolve nowhere (no DNS asked; tests/sources/test_redirect_names.py).
    monkeypatch.setattr(uri, "resolve_host", lambda host: ())
    reason = redirect_refusal(old, new)
    assert (reason is None) if refused is None else (refused in (reason or ""))


def test_the_redirect_handler_refuses_before_following() -> None:
    request = urllib.request.Request("https://mirror.example/l.tgz")
    headers = HTTPMessage()
    assert isinstance(headers, Message)
    with pytest.raises(_RefusedError, match="https:// to plain http://"):
        _CheckedRedirects().redirect_request(
            request, BytesIO(), 302, "Found", headers, "http://127.0.0.1/l.tgz"
        )
