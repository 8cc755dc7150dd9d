"""Fixtures shared by unit tests of fetching code (modules, lifecycle)."""

from __future__ import annotations

import uuid
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
