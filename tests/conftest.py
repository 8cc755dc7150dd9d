"""Fixtures shared by the tests: proxies, cache folders, and the SIGINT handler."""

from __future__ import annotations

import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """A proxy from the environment would intercept requests to the local test server."""
    for name in (
        "http_proxy",
        "https_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def dirs(tmp_path: Path) -> dict[str, Path]:
    """Separate source, work, cache and config folders, as a fetch sees them."""
    paths = {name: tmp_path / name for name in ("src", "work", "cache", "config")}
    for path in paths.values():
        path.mkdir()
    return paths


@pytest.fixture(scope="session")
def cache_dirs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cnbext-caches")


@pytest.fixture(autouse=True)
def own_cache_dir(cache_dirs: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets an empty cnbext cache folder (downloads, image facts): tests never
    see each other's entries, nor the user's. (One folder per test under one session folder:
    pytest's numbered temp folders list their parent on every creation, which costs
    seconds over a few thousand tests.)"""
    path = cache_dirs / uuid.uuid4().hex  # made by cnbext when it first caches something
    monkeypatch.setenv("CNBEXT_CACHE_DIR", str(path))
    return path


@pytest.fixture
def default_sigint() -> Iterator[None]:
    """Python's own SIGINT handler in this process while the test runs, as a cnbext started
    from a terminal has it, and so SIG_DFL in the processes the test starts. A test run started
    in the background by a non-interactive shell inherits SIGINT ignored (POSIX shells ignore
    it for asynchronous commands), and a Ctrl-C a test sends would then be ignored by cnbext
    (buildx, a Go program, re-enables it and fails instead)."""
    before = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)
