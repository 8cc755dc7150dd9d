"""Running an extension phase's container: its output in a size-capped tmpfs, its deadline.

The phase's only writable mount is a tmpfs volume of ``output_bytes`` (and one page more, so
that trying to write past the cap shows) holding at most as many files as an archive may: the
kernel refuses every write past it, however fast and by however many processes. A tmpfs is
gone when its container stops, so the phase runs under the image's ``/bin/sh``
(:data:`WRAPPER`), which, once the phase has ended, kills whatever it left running, prints
:data:`MARKER` with the phase's exit code and waits. The output is then copied out of the
still running container (``docker cp``, a tar stream) by cnbext, as cnbext's own user
(:mod:`cnbext.engine.phase_output`), and the container and its volume are removed: nothing
the container writes lands on the host as its uid.

At the deadline the shell is sent SIGUSR1: it kills the phase and everything it started, and
prints the marker, so what was written can still be measured; a shell that does not answer
within :data:`STOP_GRACE_SECONDS` is killed with its container.
"""

from __future__ import annotations

import os
import selectors
import subprocess
import tarfile
import time
import uuid
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import IO, TYPE_CHECKING, cast

from cnbext.engine.failures import last_lines
from cnbext.engine.models import PhaseResult, PhaseRun
from cnbext.engine.phase_output import extract_output
from cnbext.errors import EngineError, ImageError
from cnbext.sources.limits import DEFAULT_MAX_BYTES, Budget

if TYPE_CHECKING:
    from python_on_whales import DockerClient

STOP_GRACE_SECONDS = 10.0
PAGE_BYTES = 4096
MARKER = "cnbext-phase-exit:"
# "$@" is the phase's command; kill -9 -1 reaches every process of the phase's user but the
# shell itself (PID 1 of the container's own PID namespace); read keeps the container running
# (its stdin is held open) until cnbext has copied the output and removes it. Anywhere but
# PID 1 of a fresh namespace, kill -9 -1 would reach every process of the user on the
# machine: the shell refuses to start there (exit 125) before anything else.
WRAPPER = (
    '[ "$$" = 1 ] || { echo "cnbext: the phase shell must be PID 1" >&2; exit 125; }; '
    'trap "kill -9 -1 2>/dev/null" USR1; "$@" & wait $!; code=$?; '
    f'kill -9 -1 2>/dev/null; echo "{MARKER}$code"; read -r _ || :'
)


def wrapped(command: Sequence[str]) -> list[str]:
    """The container's command: the phase's, under the wrapper shell."""
    return ["/bin/sh", "-c", WRAPPER, "cnbext-phase", *command]


def tmpfs_options(output_bytes: int, max_entries: int) -> dict[str, str]:
    """The local volume driver's options for the phase's output: a capped tmpfs anyone in the
    container may write (the phase's user is the image's)."""
    size = f"size={output_bytes + PAGE_BYTES},nr_inodes={max_entries},mode=1777"
    return {"type": "tmpfs", "device": "tmpfs", "o": size}


Copier = Callable[[], int]  # copies the output out, returns the bytes it holds


def run_phase(docker: DockerClient, phase: PhaseRun, network: str | None) -> PhaseResult:
    """Run ``phase`` in a container, its writable mount (the one of ``phase.output``) a
    capped tmpfs volume, removed with the container afterwards."""
    from python_on_whales.exceptions import DockerException

    cap = phase.output_bytes if phase.output_bytes is not None else DEFAULT_MAX_BYTES
    volume = docker.volume.create(
        driver="local", options=tmpfs_options(cap, Budget.from_env().max_entries)
    )
    target = next((t for h, t, ro in phase.mounts if h == phase.output and not ro), None)
    mounts = [(str(h), t, "ro" if ro else "rw") for h, t, ro in phase.mounts if t != target]
    if target is not None:
        mounts.append((volume.name, target, "rw"))
    name = f"cnbext-phase-{uuid.uuid4().hex[:12]}"
    try:
        docker.run(
            phase.image,
            wrapped(phase.command),
            name=name,
            detach=True,
            interactive=True,  # the wrapper waits on its stdin once the phase has ended
            envs=dict(phase.env),
            volumes=mounts,
            user=phase.user,
            workdir=phase.workdir,
            entrypoint="",
            networks=[network] if network else [],
            platform=phase.platform,
            memory=phase.memory_bytes,
            memory_swap=phase.memory_bytes,  # no swap beyond the memory limit
            pids_limit=phase.pids_limit,
            cap_drop=["ALL"],
            security_options=["no-new-privileges"],
            ulimit=[f"fsize={cap + PAGE_BYTES}"],  # the tmpfs is the cap that binds
        )
        docker_cmd = docker.client_config.docker_cmd
        copy = partial(_copy_into, docker_cmd, name, target, phase.output, cap)
        return watch_phase(docker, name, phase, copy)
    except DockerException as err:
        raise ImageError(
            f"{phase.image}: cannot run {phase.command[0]} in it: {last_lines(err)}",
            hint="detect and generate run under the build image's /bin/sh",
        ) from None
    finally:
        if docker.container.exists(name):
            docker.container.remove(name, force=True)
        docker.volume.remove(volume)


def _copy_into(
    docker_cmd: Sequence[str], name: str, target: str | None, dest: Path | None, cap: int
) -> int:
    if target is None or dest is None:
        return 0
    return copy_output(docker_cmd, name, target, dest, cap)


def watch_phase(
    docker: DockerClient, container_id: str, phase: PhaseRun, copy: Copier
) -> PhaseResult:
    """Wait for the phase to end, stopping it at the deadline; its output copied out."""
    with _LogStream(docker.client_config.docker_cmd, container_id) as stream:
        (code, running), timed_out = _wait_for_end(docker, container_id, phase.timeout, stream)
    written = copy() if running else 0
    over = phase.output_bytes is not None and written > phase.output_bytes
    logs = _logs(docker, container_id)
    stopped = timed_out or over
    return PhaseResult(
        None if stopped else code, logs, timed_out=timed_out and not over, over_output=over
    )


Ended = tuple[int | None, bool]  # (exit code, container still running)


def _wait_for_end(
    docker: DockerClient, container_id: str, timeout: float, stream: _LogStream
) -> tuple[Ended, bool]:
    """How the phase ended, and whether its deadline passed first. The wrapper's marker ends
    it (the container still runs, holding the output); a stream that ends without one means
    the container stopped (no /bin/sh, killed) with its own exit code. At the deadline the
    shell gets SIGUSR1; one that does not answer within the grace is killed."""
    deadline = time.monotonic() + timeout
    timed_out = False
    while True:
        lines = stream.read_lines(deadline)
        if lines is None:
            return (_stopped_code(docker, container_id), False), timed_out
        if (code := _marked_code("\n".join(lines))) is not None:
            return (code, True), timed_out
        if time.monotonic() < deadline:
            continue
        if timed_out:  # the shell did not answer SIGUSR1 either
            docker.container.kill(container_id)
            return (None, False), True
        timed_out = True
        docker.container.kill(container_id, signal="USR1")
        deadline = time.monotonic() + STOP_GRACE_SECONDS


def _stopped_code(docker: DockerClient, container_id: str) -> int:
    """The exit code of a container whose log stream has ended: it has stopped, or stops at
    once (the daemon may close the stream a moment before it records the stop)."""
    for _ in range(STOPPED_CHECKS):
        state = docker.container.inspect(container_id).state
        if not state.running:
            return int(state.exit_code or 0)
        time.sleep(0.05)
    raise EngineError(f"lost the logs of the running container {container_id}")


STOPPED_CHECKS = 40  # 2 s


class _LogStream:
    """``docker logs -f`` of the phase's container, read as it writes: the phase's end is seen
    the moment the wrapper prints its marker, with one process instead of two docker calls per
    poll. Only the last unfinished line is kept: a phase that prints without end costs reading,
    not memory."""

    def __init__(self, docker_cmd: Sequence[str], container_id: str) -> None:
        self.command = [*docker_cmd, "logs", "--follow", container_id]
        self.pending = b""

    def __enter__(self) -> _LogStream:
        self.process = subprocess.Popen(
            self.command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        self.selector = selectors.DefaultSelector()
        self.selector.register(cast(IO[bytes], self.process.stdout), selectors.EVENT_READ)
        return self

    def __exit__(self, *exc: object) -> None:
        self.selector.close()
        self.process.kill()
        self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()

    def read_lines(self, deadline: float) -> list[str] | None:
        """The lines that arrived before ``deadline`` (none when nothing did); None once the
        stream has ended."""
        if not self.selector.select(max(0.0, deadline - time.monotonic())):
            return []
        chunk = os.read(cast(IO[bytes], self.process.stdout).fileno(), 65536)
        if not chunk:
            return None
        *complete, self.pending = (self.pending + chunk).split(b"\n")
        self.pending = self.pending[-LINE_BYTES:]
        return [line.decode(errors="replace") for line in complete]


LINE_BYTES = 4096  # longer than any marker line: the unfinished rest is kept only up to this


# The shell may still report the phase's end (``File size limit exceeded``) after the marker,
# on stderr, which the logs interleave: the marker is looked for in the last lines.
MARKER_TAIL = 5


def _marked_code(logs: str) -> int | None:
    for line in reversed(logs.splitlines()):
        text = line.strip()
        if text.startswith(MARKER) and text[len(MARKER) :].isdigit():
            return int(text[len(MARKER) :])
    return None


def _logs(docker: DockerClient, container_id: str) -> str:
    lines = str(docker.container.logs(container_id, tail=40 + MARKER_TAIL)).splitlines()
    kept = [line for line in lines if not line.strip().startswith(MARKER)]
    return "\n".join(kept[-40:]) + "\n" if kept else ""


def copy_output(
    docker_cmd: Sequence[str], container_id: str, source: str, dest: Path, max_bytes: int
) -> int:
    """``source`` of the running container copied into ``dest``; the bytes it holds (over
    ``max_bytes`` only when the copy stopped there)."""
    command = [*docker_cmd, "cp", f"{container_id}:{source}", "-"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        try:
            return extract_output(cast(IO[bytes], process.stdout), dest, max_bytes)
        except tarfile.TarError as err:
            why = (process.stderr.read() if process.stderr else b"").decode(errors="replace")
            raise EngineError(f"cannot copy the output of {source}: {why.strip() or err}") from None
        finally:
            process.kill()
