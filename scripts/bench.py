"""Time cnbext against the equivalent hand-written docker buildx commands.

    make bench                  (engine, example stack, then this; the table also goes to
                                 bench-results.txt)
    python scripts/bench.py --rounds 5 --out table.txt

Each scenario runs the same work both ways and reports the median wall time and the ratio
cnbext / by hand. "cold" forces the package installs to run (a new build id each round);
"warm" is a re-run that should be all cache hits; "publish" pushes and copies to mirrors.
The extend-builder scenarios take cnbext's own plan (``--dry-run -o json``) and run its builds
by hand one after another (buildx --push of the run image, two imagetools copies, buildx --push
of the builder), so both sides build the same Dockerfiles. create-builder has no hand-written
equivalent here (its module layers are staged by cnbext); it reports cold and warm against
each other. The day-2 rows (scripts/bench_upgrade.py, printed only) compare an upgrade by
rebase with one by rebuild, and time `upgrade --check` of 10 published images. The
"installed overhead" rows (scripts/bench_installed.py) say what reading the installed packages
and writing the SBOM layer add to a cold extend.
`--drivers docker,docker-container` (the default) runs every scenario on the docker driver and
again on a docker-container builder made for the run from the BuildKit image `make engine`
builds (tests/fixtures/buildkit_builders.py; removed afterwards): cnbext gets `--builder`, the
hand-written commands `--builder` too, so both sides build on the same BuildKit.
Numbers are for reading, not for asserting: nothing here fails on a slow machine. Every name
the scenarios leave in the daemon is removed at the end.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

REGISTRY = os.environ.get("CNBEXT_TEST_REGISTRY", "localhost:5000")
BASE = f"{REGISTRY}/cnbext-examples/run:bookworm"
# What the extend scenarios install (CNBEXT_BENCH_PACKAGES="python3 git" for a larger install).
PACKAGES = os.environ.get("CNBEXT_BENCH_PACKAGES", "jq tree").split()
ROOT = Path(__file__).resolve().parent.parent

HAND_WRITTEN = """ARG base_image
FROM ${base_image}
ARG build_id=0
USER root
RUN export DEBIAN_FRONTEND=noninteractive && apt-get update \\
 && apt-get install -y --no-install-recommends PACKAGES \\
 && apt-get clean && rm -rf /var/lib/apt/lists/*
USER 1001:1000
""".replace("PACKAGES", " ".join(PACKAGES))

Action = Callable[[int], object]


def sh(*args: str) -> str:
    done = subprocess.run(args, check=False, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"failed: {' '.join(args)}\n{done.stderr[-2000:]}")
    return done.stdout


def timed(action: Action, rounds: int) -> float:
    samples = []
    for round_number in range(rounds):
        start = time.perf_counter()
        action(round_number)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


class Bench:
    def __init__(self, work: Path, network: str, builder: str | None = None) -> None:
        self.work = work
        self.network = network
        self.tag = uuid.uuid4().hex[:8]
        self.seed = uuid.uuid4().hex[:6]
        chosen = ["--builder", builder] if builder else []
        self.cnbext = [sys.executable, "-m", "cnbext", *chosen]
        self.buildx = ["docker", "buildx", "build", *chosen, "--network", network]
        self.buildx.append("--provenance=false")

    # -- extend ---------------------------------------------------------------------------------

    def extend_scenarios(self) -> dict[str, tuple[Action, Action]]:
        work, tag, seed = self.work, self.tag, self.seed
        (work / "Dockerfile").write_text(HAND_WRITTEN)
        config = work / "extend.toml"
        packages = json.dumps(PACKAGES)
        config.write_text(f'[extend]\nimage = "{BASE}"\n[extend.metadata]\npackages = {packages}\n')
        cnbext = [*self.cnbext, "extend", "--config", str(config), "-q"]
        buildx = [*self.buildx, "--build-arg", f"base_image={BASE}", str(work)]
        return {
            "extend cold": (
                lambda r: sh(*cnbext, f"bench/c:{tag}", "--build-id", f"c{seed}{r}"),
                lambda r: sh(
                    *buildx, "--load", "-t", f"bench/b:{tag}", "--build-arg", f"build_id=b{seed}{r}"
                ),
            ),
            "extend warm": (
                lambda r: sh(*cnbext, f"bench/c:{tag}"),
                lambda r: sh(*buildx, "--load", "-t", f"bench/b:{tag}"),
            ),
            "extend publish+mirror": (
                lambda r: sh(
                    *cnbext,
                    f"{REGISTRY}/bench/c:{tag}",
                    f"{REGISTRY}/bench-mirror/c:{tag}",
                    "--publish",
                ),
                lambda r: (
                    sh(*buildx, "--push", "-t", f"{REGISTRY}/bench/b:{tag}"),
                    sh(
                        *("docker", "buildx", "imagetools", "create", "-t"),
                        f"{REGISTRY}/bench-mirror/b:{tag}",
                        f"{REGISTRY}/bench/b:{tag}",
                    ),
                ),
            ),
        }

    def installed_overhead(self, rounds: int, emit: Callable[[str], None]) -> None:
        """What reading the installed packages and the SBOM add (scripts/bench_installed.py)."""
        sys.path.insert(0, str(ROOT / "scripts"))
        from bench_installed import installed_overheads

        config = self.work / "extend.toml"
        cnbext = [*self.cnbext, "extend", "--config", str(config), "-q", f"bench/o:{self.tag}"]
        buildx = [*self.buildx, "--build-arg", f"base_image={BASE}", str(self.work)]
        installed_overheads(sh, cnbext, buildx, self.work, rounds, emit)

    # -- builders -------------------------------------------------------------------------------

    def make_builder(self) -> tuple[str, list[str]]:
        """The example builder (structure-only test lifecycle: no download), published; the
        create-builder command line that made it."""
        sys.path.insert(0, str(ROOT))
        from tests.fixtures.lifecycle_fixture import make_lifecycle_archive

        archive = make_lifecycle_archive(self.work / "lifecycle")
        text = (ROOT / "builder-examples/builder.toml").read_text()
        text = text.replace('version = "0.21.0"', f'uri = "{archive}"')
        for module in ("hello", "jq-report", "meta"):
            text = text.replace(
                f'"buildpacks/{module}"', f'"{ROOT}/builder-examples/buildpacks/{module}"'
            )
        config = self.work / "builder.toml"
        config.write_text(text)
        builder = f"{REGISTRY}/bench/builder:{self.tag}"
        command = [*self.cnbext, "create-builder", "--config", str(config), "-q", "--publish"]
        command += ["--run-image", f"{REGISTRY}/bench/run-jq:{self.tag}"]
        sh(*command, builder)
        return builder, command

    def builder_scenarios(self) -> dict[str, tuple[Action, Action]]:
        builder, create = self.make_builder()
        tag, seed = self.tag, self.seed
        config = self.work / "extend-builder.toml"
        config.write_text(
            (ROOT / "builder-examples/extend-builder/extend-builder.toml")
            .read_text()
            .replace("localhost:5000/examples/builder:bookworm", builder)
        )
        out = f"{REGISTRY}/bench/xbuilder:{tag}"
        run = f"{REGISTRY}/bench/xrun:{tag}"
        mirrors = [f"{REGISTRY}/bench-m1/xrun:{tag}", f"{REGISTRY}/bench-m2/xrun:{tag}"]
        command = [*self.cnbext, "extend-builder", "-e", str(config), "-q", out]
        command += ["--run-image", run, *[f for m in mirrors for f in ("--run-image-mirror", m)]]

        def ours(build_id: str | None) -> Action:
            # A new build id every round: every round installs (cold).
            def run(r: int) -> object:
                extra = ["--build-id", f"{build_id}{r}"] if build_id else []
                return sh(*command, "--publish", *extra)

            return run

        def by_hand(build_id: str | None) -> Action:
            plan = json.loads(sh(*command, "--dry-run", "-o", "json"))["plan"]
            return lambda r: self.run_by_hand(plan, f"{build_id}{r}" if build_id else None)

        return {
            "extend-builder cold": (ours(f"c{seed}"), by_hand(f"h{seed}")),
            "extend-builder warm": (ours(None), by_hand(None)),
            "create-builder warm": (lambda r: sh(*create, builder), lambda r: None),
        }

    def run_by_hand(self, plan: dict[str, object], build_id: str | None) -> None:
        """Each build of cnbext's plan with buildx --push, copies with imagetools, in order."""
        builds = plan["images"]
        assert isinstance(builds, list)
        for index, build in enumerate(builds):
            context = self.work / f"hand-{index}"
            context.mkdir(exist_ok=True)
            (context / "Dockerfile").write_text(build["dockerfile"])
            for path, text in build["contextFiles"].items():
                (context / path).parent.mkdir(parents=True, exist_ok=True)
                (context / path).write_text(text)
            args = dict(build["buildArgs"])
            if build_id is not None:
                args["build_id"] = build_id
            command = [*self.buildx, "--push", "--sbom=false"]
            for name, value in args.items():
                command += ["--build-arg", f"{name}={value}"]
            for name, value in build["labels"].items():
                command += ["--label", f"{name}={value}"]
            names = [n.replace("docker.io/", "", 1) for n in build["names"]]
            sh(*command, "-t", names[0], str(context))
            for name in names[1:]:
                sh("docker", "buildx", "imagetools", "create", "-t", name, names[0])


@contextmanager
def driver_builder(driver: str) -> Iterator[str | None]:
    """None for the docker driver (the context's own builder); else a builder made for the run."""
    if driver == "docker":
        yield None
        return
    if driver != "docker-container":
        raise SystemExit(f"unknown driver {driver}: docker or docker-container")
    sys.path.insert(0, str(ROOT))
    from tests.fixtures.buildkit_builders import container_builder

    image = os.environ.get("CNBEXT_TEST_BUILDKIT_IMAGE", f"{REGISTRY}/fixtures/buildkit:v0.26.3")
    with container_builder(image) as made:
        yield made.name


def run_driver(driver: str, options: argparse.Namespace, emit: Callable[[str], None]) -> None:
    """Every scenario on one driver, a row each."""
    with driver_builder(driver) as builder:
        work = Path(tempfile.mkdtemp(prefix="cnbext-bench-"))
        bench = Bench(work, os.environ.get("CNBEXT_NETWORK", "host"), builder)
        scenarios = bench.extend_scenarios()
        if not options.only or "builder" in options.only:
            scenarios |= bench.builder_scenarios()
        if not options.only or options.only in "installed overhead":
            bench.installed_overhead(options.rounds, emit)
        for name, (with_cnbext, by_hand) in scenarios.items():
            if options.only and options.only not in name:
                continue
            ours = timed(with_cnbext, options.rounds)
            if name == "create-builder warm":
                emit(f"{name:<24} {driver:<17} {ours:>8.2f}s {'-':>9} {'-':>7}")
                continue
            theirs = timed(by_hand, options.rounds)
            emit(f"{name:<24} {driver:<17} {ours:>8.2f}s {theirs:>8.2f}s {ours / theirs:>7.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, help="also write the table to this file")
    parser.add_argument("--only", help="run only scenarios whose name contains this")
    parser.add_argument("--drivers", default="docker,docker-container", help="comma-separated")
    options = parser.parse_args()
    # cnbext reads the same network as the hand-written commands get (make bench sets it).
    os.environ.setdefault("CNBEXT_NETWORK", "host")
    # cnbext runs as installed, from compiled bytecode (pip compiles a wheel at install); a
    # shell that sets PYTHONDONTWRITEBYTECODE would have every run compile cnbext anew.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    compileall.compile_dir(ROOT / "cnbext", quiet=1)
    rows = [
        f"{'scenario':<24} {'driver':<17} {'cnbext':>9} {'by hand':>9} {'ratio':>7}"
        f"   (median of {options.rounds})"
    ]
    print(rows[0], flush=True)

    def emit(line: str) -> None:
        rows.append(line)
        print(line, flush=True)

    before = daemon_names()
    for driver in options.drivers.split(","):
        run_driver(driver, options, emit)
    if not options.only or "upgrade" in options.only:
        sys.path.insert(0, str(ROOT / "scripts"))
        from bench_upgrade import run_upgrade_scenarios

        run_upgrade_scenarios(REGISTRY, options.rounds)
    for command in (["--help"], ["extend", "--help"]):
        samples = []
        for _ in range(5):
            start = time.perf_counter()
            sh(sys.executable, "-m", "cnbext", *command)
            samples.append(time.perf_counter() - start)
        label = "cnbext " + " ".join(command)
        emit(f"{label:<24} {'':<17} {statistics.median(samples):>8.2f}s")
    if options.out:
        options.out.write_text("\n".join(rows) + "\n")
    # The daemon keeps only what it had: every name a scenario made there is removed.
    made = sorted(n for n in daemon_names() - before if "bench" in n.rpartition(":")[0])
    if made:
        sh("docker", "image", "rm", "--force", *made)


def daemon_names() -> set[str]:
    """Every repository:tag the daemon holds."""
    listed = sh("docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}")
    return {line for line in listed.splitlines() if not line.endswith(":<none>")}


if __name__ == "__main__":
    main()
