"""The Docker engine for commands that mostly read: made without asking the daemon, so a
registry-only read (inspect, upgrade --check, a rebase) never starts the docker client."""

from __future__ import annotations

from cnbext.engine.protocol import Engine
from cnbext.engine.settings import EngineSettings
from cnbext.progress import Reporter, SilentReporter


def reading_engine(
    reporter: Reporter | None = None, settings: EngineSettings | None = None
) -> Engine:
    """The Docker engine for reads that may not need the daemon at all (registry-only reads);
    a read that does need it fails then with the daemon's error."""
    from cnbext.engine.docker import DockerEngine

    return DockerEngine(reporter if reporter is not None else SilentReporter(), settings)
