"""Redoing the work a provenance label records, through the ordinary client paths.

A label of format 2 holds the request whole (cnbext.plan.request): its options are replayed
field by field, with the upgrade's own (names, publish, pull policy, build id, extensions, env,
app) over them, and its config document is written out again and read as the command reads
its config, so the redo is the original command. A create-builder builder may be given a new
builder.toml (--config) instead of the recorded one. A label of format 1 recorded less: the
config is rebuilt from its base and metadata, and a warning names what it cannot replay.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

import tomlkit

from cnbext.client.replay import replay
from cnbext.client.run_image_replay import replay_run_image
from cnbext.cnb.provenance import Provenance
from cnbext.config.extension_request import ExtensionRequest
from cnbext.errors import UsageError
from cnbext.plan.model import PullPolicy, SbomFormat
from cnbext.progress import Reporter

if TYPE_CHECKING:
    from cnbext.client.upgrade_model import UpgradeOptions
    from cnbext.client.usecase import Result
    from cnbext.config.extend_builder import ExtendBuilderConfig
    from cnbext.engine.protocol import Engine


# What a format-1 label does not record, so an upgrade of such an image cannot replay it.
FORMAT_1_UNRECORDED = (
    "--target",
    "--label",
    "--tag",
    "--flatten",
    "--append-image-name-suffix",
    "--experimental",
)
_COMMANDS = ("extend", "extend-builder", "create-builder")


def redo(
    names: tuple[str, ...],
    provenance: Provenance,
    options: UpgradeOptions,
    extensions: tuple[ExtensionRequest, ...],
    reporter: Reporter,
    engine: Engine | None = None,
    current: str | None = None,
) -> tuple[str, dict[str, str]]:
    """Redo ``provenance``'s command on ``engine``, saving to ``names`` (the first is the NAME
    upgraded, the rest the other names the image was saved as); the new digest (or image id)
    of the first, and its labels. ``current`` names the image being upgraded
    (``repository@digest``)."""
    name = names[0]
    if provenance.command not in _COMMANDS:
        raise UsageError(f"{name}: cnbext cannot redo {provenance.command!r}")
    with tempfile.TemporaryDirectory(prefix="cnbext-upgrade-") as tmp:
        work = Path(tmp)
        if provenance.request is not None and provenance.role == "run image":
            # A builder command's run image, upgraded by its own name: its part alone.
            result = replay_run_image(
                names, provenance, options, extensions, work, reporter, engine
            )
        elif provenance.request is not None:
            result = replay(names, provenance, options, extensions, work, reporter, engine, current)
        elif provenance.role == "run image":
            raise UsageError(
                f"{name} was made by an older cnbext (provenance format 1), which did not "
                "record the request its run image came from; nothing was upgraded",
                hint="upgrade the builder that names it: that republishes the run image too",
            )
        else:
            reporter.warn(
                f"{name} was recorded by an older cnbext (provenance format 1), which did not "
                f"record {', '.join(FORMAT_1_UNRECORDED)}: the upgrade leaves them out; make it "
                "again with this cnbext to record them"
            )
            recorded = _recorded_options(names, provenance, options, extensions)
            if provenance.command == "extend":
                result = _extend(provenance, recorded, work, reporter, engine)
            else:
                result = _builder(provenance, recorded, options.config, work, reporter, engine)
    image = next((i for i in result.images if name in i.names), result.images[-1])
    return image.digest, image.labels


def _pull_policy(provenance: Provenance) -> PullPolicy:
    # The base moved: pull it again (a base that is not from a registry cannot be pulled).
    return PullPolicy.ALWAYS if provenance.base.digest else PullPolicy.IF_NOT_PRESENT


class _Recorded(TypedDict):
    """The options every redone command takes from the label and the upgrade's flags."""

    names: tuple[str, ...]
    publish: bool
    pull_policy: PullPolicy
    platforms: tuple[str, ...]
    build_id: str | None
    extensions: tuple[ExtensionRequest, ...]
    platform_env: dict[str, str]
    app_dir: Path | None
    sbom: SbomFormat


def _recorded_options(
    names: tuple[str, ...],
    provenance: Provenance,
    options: UpgradeOptions,
    extensions: tuple[ExtensionRequest, ...],
) -> _Recorded:
    return _Recorded(
        names=names,
        publish=options.publish,
        pull_policy=_pull_policy(provenance),
        platforms=provenance.platforms if options.publish else (),
        build_id=options.build_id or provenance.build_id,
        extensions=extensions,
        platform_env=options.platform_env,
        app_dir=options.app_dir,
        # Format-1 images predate the SBOM layer: they are made again as they were made.
        sbom=SbomFormat.NONE,
    )


def _write_config(work: Path, name: str, metadata: dict[str, Any], provenance: Provenance) -> Path:
    """The config the recorded command read, rebuilt from the label as ``work/name``."""
    document = {"extend": {"image": provenance.base.reference, "metadata": metadata}}
    path = work / name
    path.write_text(tomlkit.dumps(document))
    return path


def _extend(
    provenance: Provenance,
    recorded: _Recorded,
    work: Path,
    reporter: Reporter,
    engine: Engine | None,
) -> Result:
    from cnbext.client.extend import extend
    from cnbext.config.extend import load_extend_config
    from cnbext.plan.extend import ExtendOptions

    path = _write_config(work, "extend.toml", provenance.metadata, provenance)
    config = load_extend_config(path, f"{recorded['names'][0]} (recorded extend.toml)")
    return extend(config, ExtendOptions(**recorded), reporter=reporter, engine=engine)


def _builder(
    provenance: Provenance,
    recorded: _Recorded,
    builder_toml: Path | None,
    work: Path,
    reporter: Reporter,
    engine: Engine | None,
) -> Result:
    from cnbext.plan.builder_options import BuilderOptions

    run = provenance.run_image
    extended_run = run is not None and (run.base is None or run.image != run.base.reference)
    builder_options = BuilderOptions(
        run_image=run.image if run is not None and extended_run else None,
        run_image_mirrors=run.mirrors if run is not None and extended_run else (),
        **recorded,
    )
    if provenance.command == "extend-builder":
        from cnbext.client.extend_builder import extend_builder

        config = _extend_builder_config(provenance, extended_run, work)
        return extend_builder(config, builder_options, reporter=reporter, engine=engine)
    from cnbext.client.create_builder import create_builder

    if builder_toml is None:
        raise UsageError(
            f"{recorded['names'][0]} was made by create-builder:"
            " give --config builder.toml to rebuild it"
        )
    return create_builder(builder_toml, builder_options, reporter=reporter, engine=engine)


def _extend_builder_config(
    provenance: Provenance, extended_run: bool, work: Path
) -> ExtendBuilderConfig:
    from cnbext.config.extend_builder import load_extend_builder_config

    metadata: dict[str, Any] = {}
    if provenance.metadata:
        metadata["build"] = provenance.metadata
    if extended_run and provenance.run_image is not None:
        metadata["run"] = provenance.run_image.metadata
    path = _write_config(work, "extend-builder.toml", metadata, provenance)
    return load_extend_builder_config(path, "recorded extend-builder.toml")
