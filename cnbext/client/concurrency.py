"""Running independent engine work at the same time, with results and errors in order."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from typing import TypeVar

T = TypeVar("T")


def concurrently(actions: Sequence[Callable[[], T]], limit: int | None = None) -> list[T]:
    """Run ``actions`` in threads (each drives its own engine calls), at most ``limit`` at a
    time; their results in order. The first failure, in order, is raised once every action
    has finished, so nothing is left running behind an error."""
    if len(actions) <= 1:
        return [action() for action in actions]
    workers = len(actions) if limit is None else max(1, min(limit, len(actions)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(action) for action in actions]
        wait(futures)
    for future in futures:
        error = future.exception()
        if error is not None:
            raise error
    return [future.result() for future in futures]
