"""Time cnbext against the equivalent hand-written docker buildx commands.

    make bench                  (engine, example stack, then this)
    python scripts/bench.py --rounds 5

Each scenario runs the same work both ways and reports the median wall time and the ratio
cnbext / buildx. "cold" forces the package install to run (a new build id each round);
"warm" is a re-run that should be all cache hits; "publish" pushes and copies to a mirror.
The day-2 rows (scripts/bench_upgrade.py) compare an upgrade by rebase with one by rebuild,
and time `upgrade --check` of 10 published images against its 2 s target.
Numbers are for reading, not for asserting: nothing here fails on a slow machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

REGISTRY = os.environ.get("CNBEXT_TEST_REGISTRY", "localhost:5000")
BASE = f"{REGISTRY}/cnbext-examples/run:bookworm"
PACKAGES = ["jq", "tree"]

HAND_WRITTEN = """ARG base_image
FROM ${base_image}
ARG build_id=0
USER root
RUN export DEBIAN_FRONTEND=noninteractive && apt-get update \\
 && apt-get install -y --no-install-recommends jq tree \\
 && apt-get clean && rm -rf /var/lib/apt/lists/*
USER 1001:1000
"""


def sh(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True)


def timed(action: Callable[[int], None], rounds: int) -> float:
    samples = []
    for round_number in range(rounds):
        start = time.perf_counter()
        action(round_number)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    network = os.environ.get("CNBEXT_NETWORK", "host")
    work = Path(tempfile.mkdtemp(prefix="cnbext-bench-"))
    (work / "Dockerfile").write_text(HAND_WRITTEN)
    (work / "extend.toml").write_text(
        f'[extend]\nimage = "{BASE}"\n[extend.metadata]\npackages = {PACKAGES!r}\n'.replace(
            "'", '"'
        )
    )
    tag = uuid.uuid4().hex[:8]
    cnbext = [sys.executable, "-m", "cnbext", "extend", "--config", str(work / "extend.toml"), "-q"]
    buildx = ["docker", "buildx", "build", "--network", network, "--provenance=false"]
    buildx += ["--build-arg", f"base_image={BASE}", str(work)]
    seed = uuid.uuid4().hex[:6]

    scenarios: dict[str, tuple[Callable[[int], None], Callable[[int], None]]] = {
        "cold (install runs)": (
            lambda r: sh(*cnbext, f"bench/c:{tag}", "--build-id", f"c{seed}{r}"),
            lambda r: sh(
                *buildx, "--load", "-t", f"bench/b:{tag}", "--build-arg", f"build_id=b{seed}{r}"
            ),
        ),
        "warm (cache hit)": (
            lambda r: sh(*cnbext, f"bench/c:{tag}"),
            lambda r: sh(*buildx, "--load", "-t", f"bench/b:{tag}"),
        ),
        "publish + 1 mirror": (
            lambda r: sh(
                *cnbext,
                f"{REGISTRY}/bench/c:{tag}",
                f"{REGISTRY}/bench-mirror/c:{tag}",
                "--publish",
            ),
            lambda r: (
                sh(*buildx, "--push", "-t", f"{REGISTRY}/bench/b:{tag}"),
                sh(
                    "docker",
                    "buildx",
                    "imagetools",
                    "create",
                    "-t",
                    f"{REGISTRY}/bench-mirror/b:{tag}",
                    f"{REGISTRY}/bench/b:{tag}",
                ),
            )[0],
        ),
    }
    print(f"{'scenario':<22} {'cnbext':>9} {'buildx':>9} {'ratio':>7}   (median of {rounds})")
    for name, (with_cnbext, with_buildx) in scenarios.items():
        ours = timed(with_cnbext, rounds)
        theirs = timed(with_buildx, rounds)
        print(f"{name:<22} {ours:>8.2f}s {theirs:>8.2f}s {ours / theirs:>7.2f}")
    from bench_upgrade import run_upgrade_scenarios

    run_upgrade_scenarios(REGISTRY, rounds)
    start = time.perf_counter()
    sh(sys.executable, "-m", "cnbext", "--help")
    print(f"{'cnbext --help':<22} {time.perf_counter() - start:>8.2f}s")


if __name__ == "__main__":
    main()
