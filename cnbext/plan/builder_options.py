"""What the builder planners take besides the facts: the builder commands' flags
(`BuilderOptions`, create-builder and extend-builder) and what the client fetched and staged
for a builder (`BuilderInputs`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cnbext.config.builder import TargetEntry
from cnbext.config.extension_request import ExtensionRequest
from cnbext.plan.builder_modules import FetchedModule
from cnbext.plan.facts import ImageOrigin
from cnbext.plan.model import PullPolicy, SbomFormat
from cnbext.sources.lifecycle import Lifecycle


@dataclass(frozen=True)
class BuilderOptions:
    """The flags of the builder commands (create-builder, extend-builder)."""

    names: tuple[str, ...]  # the builder's name, then --tag names; normalized by the client
    run_image: str | None = None
    run_image_mirrors: tuple[str, ...] = ()
    publish: bool = False
    pull_policy: PullPolicy = PullPolicy.IF_NOT_PRESENT
    platforms: tuple[str, ...] = ()
    build_id: str | None = None
    # Image extensions to apply ahead of time (--extension), their platform env (--env) and
    # the app folder detect and generate see (--app; default: an empty folder).
    extensions: tuple[ExtensionRequest, ...] = ()
    platform_env: dict[str, str] = field(default_factory=dict)
    app_dir: Path | None = None
    sbom: SbomFormat = SbomFormat.CYCLONEDX  # --sbom: the SBOM layer of what was installed
    # --lock FILE: write the versions each platform of the build image (and of the extended
    # run image) resolved there; with --locked, install exactly the versions it holds instead.
    lock: Path | None = None
    locked: bool = False
    # Package extensions with a lifecycle older than Platform API 0.13, where the lifecycle
    # supports them only as an experimental feature (pack: `experimental = true`).
    experimental: bool = False
    # create-builder's pack flags: --label KEY=VALUE on the builder, --flatten groups of
    # "id@version" put in one layer each (the extra --tag names are in `names`).
    labels: dict[str, str] = field(default_factory=dict)
    flatten: tuple[tuple[str, ...], ...] = ()
    # --target (and --platform) of create-builder: they replace [[targets]]; the client turns
    # the targets into `platforms` (cnbext.client.builder_inputs.select_platforms).
    targets: tuple[TargetEntry, ...] = ()
    append_image_name_suffix: bool = False
    # --source-date-epoch (or $SOURCE_DATE_EPOCH): every timestamp the builds write; None:
    # build time (docs/supply-chain.md).
    source_date_epoch: int | None = None
    # --sign: the cosign key (file or KMS URI, by reference) the published digests are
    # signed with; None: not signed (docs/supply-chain.md).
    sign_key: str | None = None


@dataclass(frozen=True)
class BuilderInputs:
    """What the client fetched and staged for a builder, besides the image facts."""

    buildpacks: tuple[FetchedModule, ...]
    extensions: tuple[FetchedModule, ...]
    lifecycles: Mapping[str, Lifecycle]  # by target architecture (amd64, arm64)
    lifecycle_trees: Mapping[str, Path]  # context path -> staged lifecycle, per architecture
    module_trees: Mapping[str, Path]  # context path -> staged module
    workdirs_tree: Path  # empty workspace/ and layers/ folders, chowned to the CNB user
    diff_ids: Mapping[str, str]  # context path -> layer diffID
    warnings: tuple[str, ...] = field(default_factory=tuple)
    # --flatten: a module's context path -> the context path of the one layer of its group.
    flattened: Mapping[str, str] = field(default_factory=dict)
    # Where the run image the builder names came from, when it is not extended (so not
    # read): what its registry serves, for the provenance label.
    run_origin: ImageOrigin | None = None
