"""scripts/api_example.py (docs/api.md) run for real: the documented API creates and extends a
builder on the real engine and registry."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.engine.conftest import REPO, EngineEnv, label_json

pytestmark = pytest.mark.engine


def test_the_api_example_creates_and_extends_a_builder(
    engine: EngineEnv, lifecycle_server: str, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "CNBEXT_NETWORK": os.environ.get("CNBEXT_NETWORK", "host"),
        "CNBEXT_LIFECYCLE_BASE_URL": lifecycle_server,
        "CNBEXT_CACHE_DIR": str(tmp_path / "cache"),
    }
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "api_example.py"), engine.registry],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr
    extended = re.search(r"^extended (\S+)@(sha256:\w+)", result.stdout, re.M)
    created = re.search(r"^created (\S+)@(sha256:\w+)", result.stdout, re.M)
    assert created is not None and extended is not None
    # What the script read from the results is what the registry serves.
    assert engine.registry_digest(created[1]) == created[2]
    assert engine.registry_digest(extended[1]) == extended[2]
    assert '"less"' in result.stdout and '"tree"' in result.stdout
    engine.docker.image.pull(extended[1], quiet=True)
    assert "less" in label_json(engine, extended[1], "io.buildpacks.extend.metadata")["packages"]
    assert engine.run(extended[1], "command -v less").strip() == "/usr/bin/less"
