"""Redoing the work a provenance label records, through the ordinary client paths.

The recorded base reference (as the user gave it), metadata, extensions, platforms and build id
policy become the config and options of the command that made the image; its result is saved
under the same name. For create-builder builders the builder.toml is the user's (--config):
modules and lifecycle are not recorded well enough to be fetched again without it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

import tomlkit

from cnbext.cnb.provenance import Provenance
from cnbext.config.extension_request import ExtensionRequest
from cnbext.errors import UsageError
from cnbext.plan.model import PullPolicy
from cnbext.progress import Reporter

if TYPE_CHECKING:
    from cnbext.client.upgrade_model import UpgradeOptions
    from cnbext.client.usecase import Result
    from cnbext.config.extend_builder import ExtendBuilderConfig


def redo(
    names: tuple[str, ...],
    provenance: Provenance,
    options: UpgradeOptions,
    extensions: tuple[ExtensionRequest, ...],
    reporter: Reporter,
) -> str:
    """Redo ``provenance``'s command, saving to ``names`` (the first is the NAME upgraded, the
    rest the other names the image was saved as); the new digest (or image id) of the first."""
    name = names[0]
    with tempfile.TemporaryDirectory(prefix="cnbext-upgrade-") as tmp:
        work = Path(tmp)
        recorded = _recorded_options(names, provenance, options, extensions)
        if provenance.command == "extend":
            result = _extend(provenance, recorded, work, reporter)
        elif provenance.command in ("extend-builder", "create-builder"):
            result = _builder(provenance, recorded, options.config, work, reporter)
        else:
            raise UsageError(f"{name}: cnbext cannot redo {provenance.command!r}")
    for image in result.images:
        if name in image.names:
            return image.digest
    return result.images[-1].digest


def _pull_policy(provenance: Provenance) -> PullPolicy:
    # The base moved: pull it again (a base that is not from a registry cannot be pulled).
    return PullPolicy.ALWAYS if provenance.base.digest else PullPolicy.IF_NOT_PRESENT


class _Recorded(TypedDict):
    """The options every redone command takes from the label and the upgrade's flags."""

    names: tuple[str, ...]
    publish: bool
    pull_policy: PullPolicy
    network: str | None
    platforms: tuple[str, ...]
    build_id: str | None
    extensions: tuple[ExtensionRequest, ...]
    platform_env: dict[str, str]
    app_dir: Path | None


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
        network=options.network,
        platforms=provenance.platforms if options.publish else (),
        build_id=options.build_id or provenance.build_id,
        extensions=extensions,
        platform_env=options.platform_env,
        app_dir=options.app_dir,
    )


def _write_config(work: Path, name: str, metadata: dict[str, Any], provenance: Provenance) -> Path:
    """The config the recorded command read, rebuilt from the label as ``work/name``."""
    document = {"extend": {"image": provenance.base.reference, "metadata": metadata}}
    path = work / name
    path.write_text(tomlkit.dumps(document))
    return path


def _extend(provenance: Provenance, recorded: _Recorded, work: Path, reporter: Reporter) -> Result:
    from cnbext.client.extend import extend
    from cnbext.config.extend import load_extend_config
    from cnbext.plan.extend import ExtendOptions

    path = _write_config(work, "extend.toml", provenance.metadata, provenance)
    config = load_extend_config(path, f"{recorded['names'][0]} (recorded extend.toml)")
    return extend(config, ExtendOptions(**recorded), reporter=reporter)


def _builder(
    provenance: Provenance,
    recorded: _Recorded,
    builder_toml: Path | None,
    work: Path,
    reporter: Reporter,
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
        return extend_builder(config, builder_options, reporter=reporter)
    from cnbext.client.create_builder import create_builder

    if builder_toml is None:
        raise UsageError(
            f"{recorded['names'][0]} was made by create-builder:"
            " give --config builder.toml to rebuild it"
        )
    return create_builder(builder_toml, builder_options, reporter=reporter)


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
