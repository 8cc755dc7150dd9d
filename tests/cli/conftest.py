"""The commands over the fake engine: the API's default engine replaced for one test."""

from __future__ import annotations

import pytest

from cnbext.client import usecase
from tests.client.fake_engine import FakeEngine
from tests.client.images import IMAGES


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> FakeEngine:
    fake = FakeEngine(IMAGES)
    monkeypatch.setattr(usecase, "docker_engine", lambda reporter, network, **engine_flags: fake)
    return fake
