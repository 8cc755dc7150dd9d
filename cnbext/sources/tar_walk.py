"""Walking a tar archive's members within the archive limits, before tarfile skips their data.

To reach the next member, ``tarfile`` reads past the data the current one declares: in a
compressed archive that means decompressing it. bzip2 turns a few hundred bytes into
gigabytes of zeros, so a 150 KiB archive declaring one 200 GiB member kept any loop over its
members busy for minutes, long before anything was written and charged. Every walk goes
through :func:`walk_members`, which charges each member and its declared size *as it is
reached*: the walk stops at the member that would pass the cap, without reading its data.
Names and link names holding a NUL byte (possible in pax headers; no file system takes them)
are refused here too.
"""

from __future__ import annotations

import tarfile
from collections.abc import Iterator

from cnbext.errors import CnbextError
from cnbext.sources.limits import Budget


def walk_members(
    tar: tarfile.TarFile,
    source: str,
    error_type: type[CnbextError],
    *,
    budget: Budget | None = None,
) -> Iterator[tarfile.TarInfo]:
    """``tar``'s members in order, each charged to ``budget`` (one entry, its declared bytes)
    before the walk may go past it; a fresh budget from the environment by default."""
    budget = budget if budget is not None else Budget.from_env()
    for member in tar:  # a corrupt archive raises what tarfile raises: callers word it
        if "\x00" in member.name or "\x00" in member.linkname:
            raise error_type(
                f"{source}: refusing archive member {member.name!r}: a NUL byte in its name or link"
            )
        reason = budget.take_entry() or budget.take_bytes(max(member.size, 0))
        if reason is not None:
            raise error_type(
                f"{source}: refusing archive member {member.name!r}: {reason}",
                hint="the archive declares more than the archive limits allow",
            )
        yield member
