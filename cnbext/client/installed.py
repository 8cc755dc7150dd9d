"""What a build installed, read from the images before they are published.

For every build that installs packages, the package databases of its base and of its result
are copied out per platform (cnbext.engine: a build of the same Dockerfile, so the image's
own build is then a cached solve; no container runs), parsed (cnbext.cnb.installed) and the
difference written into the build's labels as ``io.cnbext.packages``. Nothing is published
before this is known, so the label is in the image from its first push.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

from cnbext.client.concurrency import concurrently
from cnbext.client.sbom import with_sbom_layers
from cnbext.cnb.distro import Distro, parse_os_release
from cnbext.cnb.installed import (
    APK_INSTALLED,
    DPKG_STATUS,
    PACKAGES_LABEL,
    RPMDB_PATHS,
    Installed,
    Package,
    PackageChanges,
    package_changes,
    packages_label,
    parse_packages_label,
    read_installed,
)
from cnbext.cnb.labels import LabelChange
from cnbext.cnb.package_managers import database_of
from cnbext.cnb.rpmdb import parse_header
from cnbext.cnb.sbom import SBOM_PATH, SbomError, import_library, sbom_document
from cnbext.engine.protocol import Engine
from cnbext.errors import BuildError
from cnbext.plan.model import ImageBuild, Plan, PullPolicy, SbomFormat

OS_RELEASE = ("/etc/os-release", "/usr/lib/os-release")
READ_PATHS = (DPKG_STATUS, APK_INSTALLED, *RPMDB_PATHS, *OS_RELEASE, SBOM_PATH)
# A large distro image's dpkg status is a few MiB; an rpm database some tens.
MAX_DATABASE_BYTES = 256 * 1024 * 1024


def with_installed_packages(engine: Engine, plan: Plan, work_dir: Path) -> Plan:
    """``plan`` with each package-installing build labelled with what it installed, and
    given its SBOM layer (unless ``plan.sbom`` is none)."""
    pull = plan.pull_policy is PullPolicy.ALWAYS
    sbom = plan.sbom is SbomFormat.CYCLONEDX
    # Each build's install runs in its read (the image's own build is then a cached solve):
    # a builder's and its run image's installs, or a create-builder's targets, at one time.
    label = partial(_labelled, engine, pull=pull, sbom=sbom, work_dir=work_dir)
    actions: list[Callable[[], object]] = [partial(label, b) for b in plan.builds]
    if sbom and any(b.packages or any(p.packages for p in b.per_platform) for b in plan.builds):
        # The reads mostly wait on BuildKit: the SBOM library is imported meanwhile.
        actions.append(import_library)
    done = concurrently(actions)
    builds = tuple(b for b in done if isinstance(b, ImageBuild))
    return replace(plan, builds=builds)


def _labelled(
    engine: Engine, build: ImageBuild, *, pull: bool, sbom: bool, work_dir: Path
) -> ImageBuild:
    if build.per_platform:
        # One build per target (create-builder): each read for its own platform, then every
        # platform's image labelled with all of them, as one build of several platforms is
        # (inspect and upgrade read an index's labels from one platform's config).
        label = partial(_labelled, engine, pull=pull, sbom=sbom, work_dir=work_dir)
        own = tuple(concurrently([partial(label, one) for one in build.per_platform]))
        index = _index_labels(build, own)
        if PACKAGES_LABEL in index:
            own = tuple(_with_value(one, index[PACKAGES_LABEL]) for one in own)
        return replace(build, per_platform=own, result_labels=index)
    if not build.packages:
        return build
    read = read_databases(engine, build, pull)
    labelled = with_label(build, {p: r.changes for p, r in read.items()})
    if not sbom:
        return labelled
    documents = {p: sbom_of(build, r) for p, r in read.items()}
    return with_sbom_layers(engine, labelled, documents, work_dir / "sbom")


def _index_labels(build: ImageBuild, own: tuple[ImageBuild, ...]) -> dict[str, str]:
    """The index's labels as a command reports them: every platform's changes in one
    ``io.cnbext.packages``, as one build of several platforms has it (what --lock reads)."""
    changes = {
        platform: change
        for one in own
        for platform, change in (
            parse_packages_label(one.result_labels.get(PACKAGES_LABEL)) or {}
        ).items()
    }
    if not changes:
        return build.result_labels
    return {**build.result_labels, PACKAGES_LABEL: packages_label(changes)}


def sbom_of(build: ImageBuild, read: PlatformPackages) -> bytes:
    """The SBOM document of one platform's result (cnbext.cnb.sbom)."""
    packages = read.result.packages.values()
    try:
        return sbom_document(read.result.database, packages, read.distro, read.base_sbom)
    except SbomError as err:
        raise BuildError(
            f"cannot write the SBOM of the {build.role} {build.primary_name}: {err}",
            hint="--sbom none builds it without one",
        ) from None


def _with_value(build: ImageBuild, value: str) -> ImageBuild:
    if PACKAGES_LABEL not in build.labels:  # this platform installed nothing
        return build
    return replace(
        build,
        labels={**build.labels, PACKAGES_LABEL: value},
        result_labels={**build.result_labels, PACKAGES_LABEL: value},
    )


def with_label(build: ImageBuild, changes: dict[str, PackageChanges]) -> ImageBuild:
    value = packages_label(changes)
    change = LabelChange(PACKAGES_LABEL, build.result_labels.get(PACKAGES_LABEL), value)
    return replace(
        build,
        labels={**build.labels, PACKAGES_LABEL: value},
        result_labels={**build.result_labels, PACKAGES_LABEL: value},
        label_changes=(*build.label_changes, change),
    )


@dataclass(frozen=True)
class PlatformPackages:
    """What one platform's result holds, what the build changed, and the base's SBOM."""

    result: Installed
    changes: PackageChanges
    distro: Distro | None
    base_sbom: bytes | None


def read_databases(engine: Engine, build: ImageBuild, pull: bool) -> dict[str, PlatformPackages]:
    """Per platform, the result's packages and what ``build`` changed in its base's."""
    files = engine.built_files(build, READ_PATHS, pull=pull, max_bytes=MAX_DATABASE_BYTES)
    database = database_of(build.package_manager)
    read: dict[str, PlatformPackages] = {}
    for platform, found in files.items():
        result = read_installed(found.result, read_rpmdb, database)
        if result is None:
            raise BuildError(
                f"the {build.role} {build.primary_name} ({platform}) has no "
                f"{database + ' ' if database else ''}package database cnbext can read after "
                f"installing {', '.join(build.packages)} with {build.package_manager}",
                hint="cnbext reads dpkg's status, apk's installed db and rpm's sqlite db",
            )
        changes = package_changes(read_installed(found.base, read_rpmdb, database), result)
        release = next((found.result[p] for p in OS_RELEASE if p in found.result), None)
        distro = parse_os_release(release.decode("utf-8", "replace")) if release else None
        read[platform] = PlatformPackages(result, changes, distro, found.base.get(SBOM_PATH))
    return read


def read_rpmdb(data: bytes) -> dict[tuple[str, str], Package]:
    """The packages of an rpm sqlite database (its bytes, as copied out of an image). The
    database is opened read-only from a private copy; a file that is not one raises
    BuildError."""
    with tempfile.TemporaryDirectory(prefix="cnbext-rpmdb-") as tmp:
        path = Path(tmp, "rpmdb.sqlite")
        path.write_bytes(data)
        try:
            with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
                rows = db.execute("SELECT blob FROM Packages").fetchall()
        except sqlite3.DatabaseError as err:
            raise BuildError(f"cannot read the image's rpm database: {err}") from None
    found: dict[tuple[str, str], Package] = {}
    for (blob,) in rows:
        package = parse_header(bytes(blob)) if isinstance(blob, bytes) else None
        if package is not None:
            found[package.key] = package
    return found
