"""The engine suite's daemon watch: a ping answered 200 is a daemon that answers."""

from __future__ import annotations

import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.daemon_health import answers, daemon_socket


@pytest.fixture
def short_dir() -> Iterator[Path]:
    # A unix socket path must stay under ~108 bytes: pytest's tmp_path may be longer.
    with tempfile.TemporaryDirectory(prefix="cnbext-ping-", dir="/tmp") as folder:
        yield Path(folder)


def _serve_once(path: Path, reply: bytes) -> threading.Thread:
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)

    def answer() -> None:
        with server, server.accept()[0] as conn:
            conn.recv(1024)
            conn.sendall(reply)

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize(
    ("reply", "up"),
    [(b"HTTP/1.1 200 OK\r\n\r\nOK", True), (b"HTTP/1.1 500 Internal\r\n\r\n", False), (b"", False)],
)
def test_a_daemon_answers_only_with_200(short_dir: Path, reply: bytes, up: bool) -> None:
    path = short_dir / "d.sock"
    thread = _serve_once(path, reply)
    assert answers(str(path)) is up
    thread.join(timeout=5)


def test_no_socket_is_no_daemon(short_dir: Path) -> None:
    assert answers(str(short_dir / "none.sock")) is False


def test_only_the_default_unix_daemon_is_watched(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    assert daemon_socket() == "/var/run/docker.sock"
    monkeypatch.setenv("DOCKER_HOST", "unix:///run/other.sock")
    assert daemon_socket() == "/run/other.sock"
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:2375")
    assert daemon_socket() is None
