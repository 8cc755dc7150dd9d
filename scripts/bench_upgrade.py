"""Day-2 scenarios for scripts/bench.py: upgrade by rebase against upgrade by rebuild (an
extended image, and a create-builder builder whose build image moved), and ``upgrade --check``
of 10 published images.

Targets: a rebase <= 0.1x the time of a rebuild (images and builders alike); --check of 10
images <= 2 s.
Each round moves the base first (a new file in a new top layer, pushed to the same tag), so
every timed upgrade has real work to do. Reported, never asserted.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

CHECKED_IMAGES = 10


def _sh(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True)


def _push_base(
    registry: str, name: str, version: str, work: Path, base: str = "fixtures/debian:bookworm"
) -> None:
    context = work / f"base-{uuid.uuid4().hex[:6]}"
    context.mkdir()
    # The name too: two bases of the same content would be one image in the daemon, known
    # by a registry digest in the first repository only.
    (context / "version").write_text(f"{name} {version}")
    (context / "Dockerfile").write_text(
        f"FROM {registry}/{base}\nCOPY version /base-version\nUSER 1000:1000\n"
    )
    _sh(
        *("docker", "buildx", "build", "-q", "--network", "host", "--provenance=false"),
        *("-t", name, "--push", str(context)),
    )


def _extend(names: list[str], base: str, metadata: str, work: Path, *flags: str) -> None:
    config = work / f"extend-{uuid.uuid4().hex[:6]}.toml"
    config.write_text(f'[extend]\nimage = "{base}"\n[extend.metadata]\n{metadata}')
    for name in names:
        cnbext = (sys.executable, "-m", "cnbext", "extend", name, "-c", str(config))
        _sh(*cnbext, "--publish", "-q", *flags)


def _upgrade(*args: str, method: str | None = None) -> float:
    """The time of one ``cnbext upgrade``; with ``method``, it must have upgraded every NAME
    that way (a round that found nothing to do would time nothing)."""
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "cnbext", "upgrade", *args, "-q", "-o", "json"],
        capture_output=True,
    )
    elapsed = time.perf_counter() - start
    if result.returncode not in (0, 100):
        raise SystemExit(f"upgrade {args} failed:\n{result.stderr.decode()}")
    done = [(i["state"], i["method"]) for i in json.loads(result.stdout)["images"]]
    if method is not None and any(d != ("upgraded", method) for d in done):
        raise SystemExit(f"upgrade {args}: expected every image upgraded by {method}: {done}")
    return elapsed


def run_upgrade_scenarios(registry: str, rounds: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="cnbext-bench-upgrade-"))
    tag = uuid.uuid4().hex[:8]
    rebase_base, rebuild_base = (f"{registry}/bench/{k}-base:{tag}" for k in ("r", "b"))
    rebase_image, rebuild_image = (f"{registry}/bench/{k}-image:{tag}" for k in ("r", "b"))
    packages = 'packages = ["jq"]\nrebasable = true\n'
    for base, image in ((rebase_base, rebase_image), (rebuild_base, rebuild_image)):
        _push_base(registry, base, "0", work)
        # Without the SBOM layer: it lists the base's packages, so an image that has one is
        # rebuilt, never rebased (docs/sbom.md).
        _extend([image], base, packages, work, "--sbom", "none")
    rebases, rebuilds = [], []
    for number in range(1, rounds + 1):
        _push_base(registry, rebase_base, str(number), work)
        rebases.append(_upgrade("--publish", rebase_image, method="rebase"))
        _push_base(registry, rebuild_base, str(number), work)
        rebuilds.append(_upgrade("--publish", "--rebase", "never", rebuild_image, method="rebuild"))
    rebase, rebuild = statistics.median(rebases), statistics.median(rebuilds)
    print(
        f"{'upgrade: rebase':<22} {rebase:>8.2f}s {rebuild:>8.2f}s {rebase / rebuild:>7.2f}"
        "   (vs rebuild; target <= 0.10)"
    )

    root = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(root))
    from tests.fixtures.lifecycle_fixture import make_lifecycle_archive

    test_lifecycle = make_lifecycle_archive(work / "lifecycle")
    _builder_rows(registry, rounds, work, tag, test_lifecycle, "")
    real = _real_lifecycle(root)
    if real is not None:
        _builder_rows(registry, rounds, work, tag + "-real", real, " (real lc)")

    checked_base = f"{registry}/bench/check-base:{tag}"
    _push_base(registry, checked_base, "0", work)
    names = [f"{registry}/bench/check-{i}:{tag}" for i in range(CHECKED_IMAGES)]
    _extend(names, checked_base, 'owner = "bench"\n', work)
    checks = [_upgrade("--check", "--publish", *names) for _ in range(rounds)]
    check = statistics.median(checks)
    print(
        f"{'upgrade --check x10':<22} {check:>8.2f}s {2.0:>8.2f}s {check / 2.0:>7.2f}"
        "   (vs the 2 s target)"
    )


BUILDER_TOML = """
[[buildpacks]]
uri = "{examples}/buildpacks/hello"
[[buildpacks]]
uri = "{examples}/buildpacks/jq-report"
[[order]]
  [[order.group]]
  id = "examples/hello"
[build]
image = "{build}"
[[run.images]]
image = "{registry}/cnbext-examples/run:bookworm"
[lifecycle]
uri = "{lifecycle}"
"""


def _real_lifecycle(root: Path) -> Path | None:
    """The real lifecycle's x86-64 archive where the machine has it (../shared/lifecycle, or
    $CNBEXT_TEST_LIFECYCLE_DIR): what a builder users run carries."""
    folder = Path(os.environ.get("CNBEXT_TEST_LIFECYCLE_DIR") or root.parent / "shared/lifecycle")
    archive = folder / "lifecycle-v0.21.17+linux.x86-64.tgz"
    return archive if archive.is_file() else None


def _builder_rows(
    registry: str, rounds: int, work: Path, tag: str, lifecycle: Path, which: str
) -> None:
    """A create-builder builder whose build image moved: rebased in the registry (nothing of
    its own touched the build image) against rebuilt from its recorded request."""
    root = Path(__file__).resolve().parents[1]
    builders = {}
    for kind in ("rebase", "rebuild"):
        build = f"{registry}/bench/{kind}-build:{tag}"
        _push_base(registry, build, "0", work, "cnbext-examples/build:bookworm")
        config = work / f"{kind}-builder.toml"
        config.write_text(
            BUILDER_TOML.format(
                examples=root / "builder-examples",
                build=build,
                registry=registry,
                lifecycle=lifecycle,
            )
        )
        builder = f"{registry}/bench/{kind}-builder:{tag}"
        _sh(
            sys.executable,
            "-m",
            "cnbext",
            "create-builder",
            builder,
            "-c",
            str(config),
            "--publish",
            "-q",
        )
        builders[kind] = (build, builder)
    rebases, rebuilds = [], []
    for number in range(1, rounds + 1):
        build, builder = builders["rebase"]
        _push_base(registry, build, str(number), work, "cnbext-examples/build:bookworm")
        rebases.append(_upgrade("--publish", builder, method="rebase"))
        build, builder = builders["rebuild"]
        _push_base(registry, build, str(number), work, "cnbext-examples/build:bookworm")
        rebuilds.append(_upgrade("--publish", "--rebase", "never", builder, method="rebuild"))
    rebase, rebuild = statistics.median(rebases), statistics.median(rebuilds)
    print(
        f"{'upgrade: builder rebase' + which:<22} {rebase:>8.2f}s {rebuild:>8.2f}s "
        f"{rebase / rebuild:>7.2f}   (vs rebuild; target <= 0.10)"
    )
