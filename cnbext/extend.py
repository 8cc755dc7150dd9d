"""Planning ``cnbext extend``: from extend.toml, flags and base-image facts to a Plan.

Pure: no engine, no I/O. Every refusal (unsupported distro, root user, a package spec the
distro's manager would not accept) happens here, before anything is built.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cnbext.config.extend import ExtendConfig
from cnbext.distro import parse_os_release
from cnbext.dockerfile import install_dockerfile, is_root_user, split_user
from cnbext.engine.models import BaseImage
from cnbext.errors import ConfigError, ConfigProblem, ImageError, UsageError
from cnbext.labels import (
    EXTEND_METADATA,
    REBASABLE,
    encode_json_label,
    label_changes,
    merge_metadata,
    parse_json_label,
)
from cnbext.package_managers import PackageManager, UnsupportedDistroError, choose_manager
from cnbext.plan import ImageBuild, Plan, PullPolicy


@dataclass(frozen=True)
class ExtendOptions:
    names: tuple[str, ...]  # normalized output names
    publish: bool
    pull_policy: PullPolicy
    network: str | None
    platforms: tuple[str, ...]
    build_id: str | None


def check_publish_flags(
    *, publish: bool, pull_policy: PullPolicy, platforms: Sequence[str]
) -> None:
    """The flag combinations no command can honour (pack refuses the first one too)."""
    if publish and pull_policy is PullPolicy.NEVER:
        raise UsageError("--publish and --pull-policy never cannot be used together")
    if len(platforms) > 1 and not publish:
        raise UsageError(
            "several --platform values need --publish: the daemon cannot hold one name "
            "for several platforms",
            hint="add --publish, or build one platform at a time",
        )


def check_options(options: ExtendOptions) -> None:
    """Flag combinations that cannot work, refused before any image is read."""
    if not options.names:
        raise UsageError("give at least one NAME for the extended image")
    check_publish_flags(
        publish=options.publish, pull_policy=options.pull_policy, platforms=options.platforms
    )
    if len(set(options.names)) != len(options.names):
        raise UsageError("the same NAME is given twice")


@dataclass(frozen=True)
class PackageInstall:
    """What extending ``base`` with ``metadata`` means, before any Dockerfile is written."""

    manager: PackageManager | None  # None: nothing to install
    packages: tuple[str, ...]
    labels: dict[str, str]  # io.buildpacks.extend.metadata (merged) and io.buildpacks.rebasable

    @property
    def manager_name(self) -> str | None:
        return self.manager.name if self.manager else None

    @property
    def install_command(self) -> str | None:
        return self.manager.install_command(self.packages) if self.manager else None


PackageProblem = Callable[[int, str], ConfigProblem]


def plan_packages(
    base: BaseImage, metadata: Mapping[str, Any], package_problem: PackageProblem | None = None
) -> PackageInstall:
    """Refuse a root base, choose the package manager, check each package against its syntax
    and merge the metadata label.

    ``package_problem(index, message)`` turns a package rejected by the distro's manager into a
    located config problem; without it the rejection is an ImageError.
    """
    if is_root_user(base.user):
        shown = base.user or "(empty, which means root)"
        raise ImageError(
            f"{base.reference} runs as root (User {shown}); extended images must not run as root",
            hint="extend an image whose User is a non-root uid:gid, e.g. a CNB build or run image",
        )
    packages = tuple(str(p) for p in metadata.get("packages", ()))
    manager = _manager_for(base, packages)
    if manager is not None:
        rejected = [(i, manager.check_package(p)) for i, p in enumerate(packages)]
        problems = [(i, why) for i, why in rejected if why is not None]
        if problems:
            if package_problem is None:
                raise ImageError("; ".join(why for _, why in problems))
            raise ConfigError([package_problem(i, why) for i, why in problems])
    try:
        previous = parse_json_label(base.labels, EXTEND_METADATA) or {}
    except ValueError:
        previous = {}  # a foreign, malformed value: ours replaces it rather than failing
    labels = {
        EXTEND_METADATA: encode_json_label(merge_metadata(previous, metadata)),
        REBASABLE: "true" if metadata.get("rebasable", False) is True else "false",
    }
    return PackageInstall(manager, packages, labels)


def base_build_args(base: BaseImage, build_id: str | None) -> dict[str, str]:
    """The build args every generated Dockerfile gets, as the extender passes them."""
    user_id, group_id = split_user(base.user)
    build_args = {"base_image": base.reference, "user_id": user_id, "group_id": group_id}
    if build_id is not None:
        build_args["build_id"] = build_id
    return build_args


def plan_image_build(
    *,
    role: str,
    base: BaseImage,
    metadata: Mapping[str, Any],
    names: Sequence[str],
    platforms: Sequence[str],
    build_id: str | None,
    package_problem: PackageProblem | None = None,
) -> ImageBuild:
    """One image: install ``metadata.packages`` into ``base`` and record the merged metadata."""
    install = plan_packages(base, metadata, package_problem)
    build_args = base_build_args(base, build_id)
    if install.install_command is None:
        dockerfile = "\n".join(
            [
                "# Generated by cnbext: metadata only, no packages",
                "ARG base_image",
                "FROM ${base_image}",
                "",
            ]
        )
    else:
        dockerfile = install_dockerfile(
            install.install_command,
            description=f"install {', '.join(install.packages)} with {install.manager_name}",
            user_has_group=bool(build_args["group_id"]),
        )
    return ImageBuild(
        role=role,
        base=base.reference,
        dockerfile=dockerfile,
        build_args=build_args,
        labels=install.labels,
        result_labels={**base.labels, **install.labels},
        label_changes=tuple(label_changes(base.labels, install.labels)),
        names=tuple(names),
        platforms=tuple(platforms),
        package_manager=install.manager_name,
        packages=install.packages,
        base_user=base.user,
    )


def _manager_for(base: BaseImage, packages: Sequence[str]) -> PackageManager | None:
    if not packages:
        return None
    if base.os_release is None:
        raise ImageError(
            f"{base.reference} has no /etc/os-release or /usr/lib/os-release, so cnbext cannot "
            "tell which package manager to use"
        )
    try:
        return choose_manager(parse_os_release(base.os_release), base.binaries)
    except UnsupportedDistroError as err:
        raise ImageError(f"{base.reference}: {err}") from None


def plan_extend(config: ExtendConfig, options: ExtendOptions, base: BaseImage) -> Plan:
    check_options(options)
    build = plan_image_build(
        role="image",
        base=base,
        metadata=config.metadata,
        names=options.names,
        platforms=options.platforms,
        build_id=options.build_id,
        package_problem=config.package_problem,
    )
    return Plan(
        command="extend",
        builds=(build,),
        publish=options.publish,
        pull_policy=options.pull_policy,
        network=options.network,
        warnings=tuple(str(w) for w in config.warnings),
    )
