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
from contextlib import closing
from dataclasses import replace
from pathlib import Path

from cnbext.cnb.installed import (
    APK_INSTALLED,
    DPKG_STATUS,
    PACKAGES_LABEL,
    RPMDB_PATHS,
    Package,
    PackageChanges,
    package_changes,
    packages_label,
    read_installed,
)
from cnbext.cnb.labels import LabelChange
from cnbext.cnb.rpmdb import parse_header
from cnbext.engine.protocol import Engine
from cnbext.errors import BuildError
from cnbext.plan.model import ImageBuild, Plan, PullPolicy

DATABASE_PATHS = (DPKG_STATUS, APK_INSTALLED, *RPMDB_PATHS)
# A large distro image's dpkg status is a few MiB; an rpm database some tens.
MAX_DATABASE_BYTES = 256 * 1024 * 1024


def with_installed_packages(engine: Engine, plan: Plan) -> Plan:
    """``plan`` with each package-installing build labelled with what it installed."""
    pull = plan.pull_policy is PullPolicy.ALWAYS
    builds = tuple(_labelled(engine, build, pull) for build in plan.builds)
    return replace(plan, builds=builds)


def _labelled(engine: Engine, build: ImageBuild, pull: bool) -> ImageBuild:
    if build.per_platform:
        # One build per target (create-builder): each its own platform's label, and the
        # index's view of them all (the builds are identical but for their platform).
        own = tuple(_labelled(engine, one, pull) for one in build.per_platform)
        return replace(build, per_platform=own)
    if not build.packages:
        return build
    changes = read_changes(engine, build, pull)
    value = packages_label(changes)
    change = LabelChange(PACKAGES_LABEL, build.result_labels.get(PACKAGES_LABEL), value)
    return replace(
        build,
        labels={**build.labels, PACKAGES_LABEL: value},
        result_labels={**build.result_labels, PACKAGES_LABEL: value},
        label_changes=(*build.label_changes, change),
    )


def read_changes(engine: Engine, build: ImageBuild, pull: bool) -> dict[str, PackageChanges]:
    """Per platform, what ``build`` changed in its base's package database."""
    files = engine.built_files(build, DATABASE_PATHS, pull=pull, max_bytes=MAX_DATABASE_BYTES)
    changes: dict[str, PackageChanges] = {}
    for platform, found in files.items():
        result = read_installed(found.result, read_rpmdb)
        if result is None:
            raise BuildError(
                f"the {build.role} {build.primary_name} ({platform}) has no package database "
                f"cnbext can read after installing {', '.join(build.packages)}",
                hint="cnbext reads dpkg's status, apk's installed db and rpm's sqlite db",
            )
        changes[platform] = package_changes(read_installed(found.base, read_rpmdb), result)
    return changes


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
