"""What recording the installed packages and writing the SBOM add to a cold extend, for
scripts/bench.py (issue 20's target: under 5 % of the cold extend).

Four runs per round, one after another, each with a new build id so apt really runs:

- cnbext extend (the default: packages read, ``io.cnbext.packages``, the SBOM layer);
- the same with ``--sbom none`` (packages read and labelled, no SBOM layer);
- by hand, ``buildx build --load`` of the same install;
- by hand, the mechanism cnbext uses to read the result's package database: a build of the
  same Dockerfile with a ``FROM scratch`` stage that copies the database out (``--output
  type=local``), then the ``--load`` build, which finds the install in the cache.

The SBOM's cost is the first minus the second; reading's is the fourth minus the third (the
same BuildKit work cnbext does, without cnbext's own start-up, which every command pays).
Reported, never asserted.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

READ_OUT = """FROM scratch
COPY --from=0 /var/lib/dpkg/status /result/var/lib/dpkg/
COPY --from=0 /etc/os-release /result/etc/
"""


def _seconds(sh: Callable[..., str], *commands: Sequence[str]) -> float:
    """Wall time of running ``commands`` one after another."""
    start = time.perf_counter()
    for command in commands:
        sh(*command)
    return time.perf_counter() - start


def installed_overheads(
    sh: Callable[..., str],
    cnbext: Sequence[str],
    buildx: Sequence[str],
    work: Path,
    rounds: int,
    emit: Callable[[str], None],
) -> None:
    """Time the four runs ``rounds`` times and emit the medians and the two costs."""
    hand_dockerfile = (work / "Dockerfile").read_text()
    (work / "Dockerfile.read").write_text(hand_dockerfile + READ_OUT)
    out = work / "read-out"
    samples: dict[str, list[float]] = {"cdx": [], "none": [], "load": [], "read+load": []}
    load = [*buildx, "--load", "-t", "bench/overhead:hand"]
    read = [*buildx, "-f", str(work / "Dockerfile.read"), "-o", f"type=local,dest={out}"]
    for r in range(rounds):
        ours, theirs = f"oc{r}{time.time_ns()}", f"ob{r}{time.time_ns()}"
        ours_a, ours_b = ["--build-id", ours + "a"], ["--build-id", ours + "b", "--sbom", "none"]
        samples["cdx"].append(_seconds(sh, [*cnbext, *ours_a]))
        samples["none"].append(_seconds(sh, [*cnbext, *ours_b]))
        samples["load"].append(_seconds(sh, [*load, "--build-arg", f"build_id={theirs}a"]))
        again = ["--build-arg", f"build_id={theirs}b"]
        samples["read+load"].append(_seconds(sh, [*read, *again], [*load, *again]))
    median = {name: statistics.median(values) for name, values in samples.items()}
    sbom = median["cdx"] - median["none"]
    reading = median["read+load"] - median["load"]
    base = median["load"]
    emit(
        f"extend cold: cnbext {median['cdx']:.2f}s, --sbom none {median['none']:.2f}s; by hand "
        f"--load {base:.2f}s, copy-out then --load {median['read+load']:.2f}s"
    )
    emit(
        f"  SBOM layer +{sbom:.2f}s ({sbom / base:+.1%}), reading the databases +{reading:.2f}s "
        f"({reading / base:+.1%}): together {(sbom + reading) / base:+.1%} of a cold extend"
    )
