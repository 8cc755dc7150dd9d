"""Watching an extension phase's container: its deadline and the size of what it writes.

The output folder is a host folder (the phase's only writable mount). Each file in it is
capped by the kernel (``--ulimit fsize``, set by the caller), and the folder's total is
measured with ``lstat`` while the container runs: past ``output_bytes`` the container is
killed, so a generate writing without end cannot fill the host's disk.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from cnbext.engine.models import PhaseResult, PhaseRun

if TYPE_CHECKING:
    from python_on_whales import DockerClient

POLL_SECONDS = 0.1


def watch_phase(docker: DockerClient, container_id: str, phase: PhaseRun) -> PhaseResult:
    """Wait for the container to end, killing it at the deadline or past the output cap."""
    deadline = time.monotonic() + phase.timeout
    while True:
        state = docker.container.inspect(container_id).state
        over = _over(phase)
        if not state.running or over:
            if over and state.running:
                docker.container.kill(container_id)
            logs = str(docker.container.logs(container_id, tail=40))
            code = None if over else int(state.exit_code or 0)
            return PhaseResult(code, logs, timed_out=False, over_output=over)
        if time.monotonic() > deadline:
            docker.container.kill(container_id)
            logs = str(docker.container.logs(container_id, tail=40))
            return PhaseResult(None, logs, timed_out=True)
        time.sleep(POLL_SECONDS)


def _over(phase: PhaseRun) -> bool:
    if phase.output is None or phase.output_bytes is None:
        return False
    return folder_bytes(phase.output, phase.output_bytes) > phase.output_bytes


def folder_bytes(folder: Path, stop_after: int) -> int:
    """The bytes files under ``folder`` take (the larger of their size and their allocated
    blocks, so sparse and preallocated files both count); links are not followed, and the
    count stops once it passes ``stop_after``."""
    total = 0
    for where, _, names in os.walk(folder):
        for name in names:
            try:
                status = Path(where, name).lstat()
            except OSError:
                continue  # removed while we looked
            total += max(status.st_size, status.st_blocks * 512)
            if total > stop_after:
                return total
    return total
