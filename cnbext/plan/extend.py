"""Planning ``cnbext extend``: from extend.toml, flags and base-image facts to a Plan.

Pure: no engine, no I/O. Every refusal (unsupported distro, root user, a package spec the
distro's manager would not accept) happens here, before anything is built.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cnbext.cnb.distro import parse_os_release
from cnbext.cnb.dockerfile import (
    SOURCE_DATE_EPOCH,
    DockerfileKind,
    install_dockerfile,
    is_root_user,
    split_user,
)
from cnbext.cnb.extender import ExtenderPlan, applied_extensions
from cnbext.cnb.labels import (
    EXTEND_METADATA,
    encode_json_label,
    label_changes,
    merge_metadata,
    parse_json_label,
)
from cnbext.cnb.package_managers import PackageManager, UnsupportedDistroError, choose_manager
from cnbext.cnb.provenance import Provenance
from cnbext.config.extend import ExtendConfig
from cnbext.config.extension_request import ExtensionRequest
from cnbext.errors import ConfigError, ConfigProblem, ImageError, UsageError
from cnbext.plan.facts import BaseImage, ImageFacts
from cnbext.plan.model import ImageBuild, Plan, PullPolicy, SbomFormat
from cnbext.plan.platforms import check_base_platforms
from cnbext.plan.provenance import extensions_of, image_provenance, with_provenance


@dataclass(frozen=True)
class ExtendOptions:
    """The flags of ``cnbext extend``."""

    names: tuple[str, ...]  # output names; normalized by the client
    publish: bool = False
    pull_policy: PullPolicy = PullPolicy.IF_NOT_PRESENT
    platforms: tuple[str, ...] = ()
    build_id: str | None = None
    extensions: tuple[ExtensionRequest, ...] = ()
    platform_env: dict[str, str] = field(default_factory=dict)
    app_dir: Path | None = None
    sbom: SbomFormat = SbomFormat.CYCLONEDX  # --sbom: the SBOM layer of what was installed
    # --lock FILE: write the versions each platform resolved there; with --locked, install
    # exactly the versions it holds instead.
    lock: Path | None = None
    locked: bool = False
    # --source-date-epoch (or $SOURCE_DATE_EPOCH): seconds since 1970 that every timestamp
    # the build writes (config, history, files the installs touch) is set to; None: build time.
    source_date_epoch: int | None = None
    # --sign: the cosign key every published digest is signed with, by reference (a key file
    # or a KMS URI; its password only ever comes from $COSIGN_PASSWORD); None: not signed.
    sign_key: str | None = None


def extension_kind(base: BaseImage) -> DockerfileKind:
    """A build image must set CNB_USER_ID (platform spec), so it takes build.Dockerfiles;
    any other image is treated as a run image and takes run.Dockerfiles."""
    return DockerfileKind.BUILD if "CNB_USER_ID" in base.env else DockerfileKind.RUN


def check_lock_flags(lock: Path | None, locked: bool) -> None:
    if locked and lock is None:
        raise UsageError("--locked needs --lock FILE: the lock to install from")


def check_publish_flags(
    *, publish: bool, pull_policy: PullPolicy, platforms: Sequence[str], sign_key: str | None
) -> None:
    """The flag combinations no command can honour (pack refuses the first one too)."""
    if sign_key is not None and not publish:
        raise UsageError(
            "--sign needs --publish: a signature is kept beside a published image",
            hint="add --publish",
        )
    if sign_key is not None and not sign_key.strip():
        raise UsageError("--sign-key is empty: give a key file or a KMS URI")
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
        publish=options.publish,
        pull_policy=options.pull_policy,
        platforms=options.platforms,
        sign_key=options.sign_key,
    )
    check_lock_flags(options.lock, options.locked)
    if len(set(options.names)) != len(options.names):
        raise UsageError("the same NAME is given twice")


@dataclass(frozen=True)
class PackageInstall:
    """What extending ``base`` with ``metadata`` means, before any Dockerfile is written."""

    manager: PackageManager | None  # None: nothing to install
    packages: tuple[str, ...]
    labels: dict[str, str]  # io.buildpacks.extend.metadata (merged)
    # The packages' layers may move onto a new base: only when the config says so.
    rebasable: bool = False

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
    labels = {EXTEND_METADATA: encode_json_label(merge_metadata(previous, metadata))}
    return PackageInstall(manager, packages, labels, metadata.get("rebasable") is True)


def base_build_args(
    base: BaseImage, build_id: str | None, source_date_epoch: int | None = None
) -> dict[str, str]:
    """The build args every generated Dockerfile gets, as the extender passes them, and
    BuildKit's SOURCE_DATE_EPOCH when the request sets one (docs/supply-chain.md)."""
    user_id, group_id = split_user(base.user)
    build_args = {"base_image": base.reference, "user_id": user_id, "group_id": group_id}
    if build_id is not None:
        build_args["build_id"] = build_id
    if source_date_epoch is not None:
        build_args[SOURCE_DATE_EPOCH] = str(source_date_epoch)
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
    source_date_epoch: int | None = None,
) -> ImageBuild:
    """One image: install ``metadata.packages`` into ``base`` and record the merged metadata."""
    install = plan_packages(base, metadata, package_problem)
    build_args = base_build_args(base, build_id, source_date_epoch)
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
    build = image_build(
        base,
        install,
        role=role,
        dockerfile=dockerfile,
        build_args=build_args,
        labels=install.labels,
        names=names,
        platforms=platforms,
    )
    return replace(build, rebasable=install.rebasable)


def image_build(
    base: BaseImage,
    install: PackageInstall | None,
    *,
    role: str,
    dockerfile: str,
    build_args: dict[str, str],
    labels: dict[str, str],
    names: Sequence[str],
    platforms: Sequence[str],
    context_files: Mapping[str, str] | None = None,
    context_trees: Mapping[str, Path] | None = None,
    expected_diff_ids: Sequence[str] = (),
) -> ImageBuild:
    """A build on ``base`` setting ``labels`` (the result keeps the base's others) and
    installing what ``install`` chose, if anything, for ``platforms`` the base has."""
    check_base_platforms(role, base, platforms)
    return ImageBuild(
        role=role,
        base=base.reference,
        dockerfile=dockerfile,
        build_args=build_args,
        labels=labels,
        result_labels={**base.labels, **labels},
        label_changes=tuple(label_changes(base.labels, labels)),
        names=tuple(names),
        platforms=tuple(platforms),
        package_manager=install.manager_name if install else None,
        packages=install.packages if install else (),
        base_user=base.user,
        context_files=dict(context_files or {}),
        context_trees=dict(context_trees or {}),
        expected_diff_ids=tuple(expected_diff_ids),
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


def plan_extend(config: ExtendConfig, options: ExtendOptions, facts: ImageFacts) -> Plan:
    """The plan for ``cnbext extend``; ``options`` were checked by :func:`check_options`."""
    base, extensions = facts.base, facts.extensions
    kind = extension_kind(base)
    steps_plan = None
    warnings: list[str] = []
    metadata = dict(config.metadata)
    if extensions is not None:
        steps_plan = extensions.build if kind is DockerfileKind.BUILD else extensions.run
        other = extensions.run if kind is DockerfileKind.BUILD else extensions.build
        warnings += extensions.warnings
        warnings += [
            f"{step.kind.value}.Dockerfile of {step.extension_id} is not applied: "
            f"{base.reference} is a {kind.value} image"
            for step in other.steps
        ]
        if steps_plan.steps:
            metadata["extensions"] = applied_extensions(steps_plan)
    build = plan_image_build(
        role="image",
        base=base,
        metadata=metadata,
        names=options.names,
        platforms=options.platforms,
        build_id=options.build_id,
        package_problem=config.package_problem,
        source_date_epoch=options.source_date_epoch,
    )
    if steps_plan is not None and steps_plan.steps:
        build = apply_extension_plan(
            build,
            steps_plan,
            build_id=options.build_id,
            app_dir=options.app_dir,
            metadata=metadata,
        )
    build = with_provenance(build, _provenance(config, options, base, metadata))
    return Plan(
        command="extend",
        builds=(build,),
        publish=options.publish,
        pull_policy=options.pull_policy,
        sbom=options.sbom,
        sign_key=options.sign_key,
        warnings=(*(str(w) for w in config.warnings), *warnings),
    )


def _provenance(
    config: ExtendConfig, options: ExtendOptions, base: BaseImage, metadata: Mapping[str, Any]
) -> Provenance:
    return image_provenance(
        command="extend",
        role="image",
        base=base,
        given=str(config.image),
        platforms=options.platforms,
        metadata=config.metadata,
        extensions=extensions_of(
            (*config.extensions, *options.extensions),
            config.source_dir,
            metadata.get("extensions"),
        ),
        build_id=options.build_id,
        platform_env=options.platform_env,
        app_dir=options.app_dir,
    )


def apply_extension_plan(
    build: ImageBuild,
    plan: ExtenderPlan,
    *,
    build_id: str | None,
    app_dir: Path | None,
    metadata: Mapping[str, Any],
) -> ImageBuild:
    """``build`` with the extensions' Dockerfiles of one kind applied first. For a run image
    ``rebasable`` says whether cnbext's own packages, if any, are declared rebasable; once the
    steps are built, it stays true only if every applied run.Dockerfile's result says so
    too (cnbext.client.extension_chain)."""
    rebasable = build.rebasable
    if plan.kind is DockerfileKind.RUN and plan.steps:
        rebasable = not build.packages or metadata.get("rebasable") is True
    return replace(
        build,
        rebasable=rebasable,
        extension_steps=plan.steps,
        extension_build_ids=tuple(build_id or str(uuid.uuid4()) for _ in plan.steps),
        app_dir=app_dir,
    )
