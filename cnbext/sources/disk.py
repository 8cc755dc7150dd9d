"""One disk budget per command, charged by every copy cnbext makes of untrusted bytes.

The archive limits (:class:`cnbext.sources.limits.Budget`) cap one archive or image tree.
What an archive wrote is then copied again: modules are staged, the lifecycle is staged, and
the build context (and the scratch context that computes the module layers) copies the staged
trees once more; a static ``generate/`` folder and an extension step's context are copied too.
Each copy charges the command's one :class:`DiskBudget`, so the work folder can never hold
more than ``CNBEXT_MAX_DISK_BYTES`` however many times the inputs are copied.

A command opens the budget with :func:`disk_budget` (its work folder does); the copies,
wherever they run (threads included), charge it through :func:`charge`. Outside a command
nothing is charged: the per-archive limits still apply.
"""

from __future__ import annotations

import os
import shutil
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cnbext.errors import CnbextError, ExitCode
from cnbext.sources.limits import env_number

DISK_BYTES_ENV = "CNBEXT_MAX_DISK_BYTES"
DEFAULT_DISK_BYTES = 16 << 30  # 16 GiB written by one command, every copy counted


class DiskBudgetError(CnbextError):
    """A command would write more than its disk budget (exit 3, as a refused archive)."""

    exit_code = ExitCode.CONFIG


class DiskBudget:
    """The bytes one command may still write; thread-safe (detects run side by side)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.used = 0
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls) -> DiskBudget:
        return cls(int(env_number(DISK_BYTES_ENV, DEFAULT_DISK_BYTES, integer=True)))

    def take(self, count: int) -> str | None:
        """Charge ``count`` bytes about to be written; the reason to refuse them over budget."""
        with self._lock:
            if self.used + count > self.max_bytes:
                return (
                    f"more than {self.max_bytes} bytes written by this command, every copy "
                    f"counted (raise {DISK_BYTES_ENV} if legitimate)"
                )
            self.used += max(count, 0)
            return None


_current: list[DiskBudget] = []  # the open commands' budgets, innermost last
_current_lock = threading.Lock()


@contextmanager
def disk_budget(budget: DiskBudget | None = None) -> Iterator[DiskBudget]:
    """Open ``budget`` (a fresh one from the environment by default) for what runs inside."""
    opened = budget if budget is not None else DiskBudget.from_env()
    with _current_lock:
        _current.append(opened)
    try:
        yield opened
    finally:
        with _current_lock:
            _current.remove(opened)


def take(count: int) -> str | None:
    """Charge the open budget, if any; the reason to refuse ``count`` more bytes."""
    with _current_lock:
        budget = _current[-1] if _current else None
    return budget.take(count) if budget is not None else None


def charge(count: int, what: str) -> None:
    """Charge the open budget for writing ``what``; refused with :class:`DiskBudgetError`."""
    reason = take(count)
    if reason is not None:
        raise DiskBudgetError(
            f"{what}: refusing to write it: {reason}",
            hint="a builder's inputs are staged and copied into build contexts; each copy counts",
        )


def file_bytes(status: os.stat_result) -> int:
    """What a regular file costs on disk: the larger of its size and its allocated blocks, so
    sparse and preallocated files both count."""
    return max(status.st_size, status.st_blocks * 512)


def copy_tree(source: Path, target: Path) -> None:
    """``source`` copied into ``target`` with links kept as links (never followed), each
    file charged to the open budget before it is written."""

    def copy_file(src: str, dst: str) -> object:
        status = os.lstat(src)
        if stat.S_ISREG(status.st_mode):
            charge(file_bytes(status), src)
        return shutil.copy2(src, dst, follow_symlinks=False)

    shutil.copytree(source, target, symlinks=True, dirs_exist_ok=True, copy_function=copy_file)
