"""What the registry-only day-2 paths import: a rebase, `upgrade --check` and `inspect` of a
published image never load the docker client, the schema validator or the SBOM library
(together ~0.3 s of every run; docs/performance.md)."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("python_on_whales", "pydantic", "jsonschema", "cyclonedx")
# cnbext's own build side: BuildKit runs, Dockerfile reading, downloads, lifecycle archives,
# attestations (only an image signed with a key needs them).
BUILD_SIDE = (
    "cnbext.engine.builds",
    "cnbext.engine.extension_steps",
    "cnbext.engine.reading",
    "cnbext.cnb.dockerfile",
    "cnbext.sources.download",
    "cnbext.sources.lifecycle",
    "cnbext.client.attestations",
)


def test_registry_only_day2_paths_import_nothing_heavy() -> None:
    code = (
        "import sys\n"
        "import cnbext.cli.upgrade, cnbext.cli.inspect\n"
        "import cnbext.client.upgrade, cnbext.client.rebase, cnbext.client.inspect\n"
        "from cnbext.client.engines import reading_engine\n"
        "reading_engine().registry()\n"
        f"print(sorted(m for m in {HEAVY + BUILD_SIDE!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
