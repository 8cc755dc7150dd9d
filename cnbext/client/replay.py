"""Replaying a recorded request (provenance format 2) through the command that made it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import tomlkit

from cnbext.cnb.provenance import Provenance
from cnbext.config.extension_request import ExtensionRequest
from cnbext.errors import ImageError
from cnbext.plan.builder_sources import from_builder
from cnbext.plan.model import PullPolicy
from cnbext.plan.request import replay_options, unknown_options
from cnbext.progress import Reporter

if TYPE_CHECKING:
    from cnbext.client.upgrade_model import UpgradeOptions
    from cnbext.client.usecase import Result
    from cnbext.engine.protocol import Engine

# The file each command reads its config from, as the recorded document is written again.
_CONFIG_FILES = {
    "extend": "extend.toml",
    "extend-builder": "extend-builder.toml",
    "create-builder": "builder.toml",
}


def replay(
    names: tuple[str, ...],
    provenance: Provenance,
    options: UpgradeOptions,
    extensions: tuple[ExtensionRequest, ...],
    work: Path,
    reporter: Reporter,
    engine: Engine | None,
    current: str | None = None,
) -> Result:
    """The recorded request again, saved to ``names``, with the upgrade's own choices over it:
    publish, pull policy (always, where the base is from a registry: it moved), build id,
    extensions (the recorded ones, or --extension's), env and app folder. ``current``: the
    image being upgraded as ``repository@digest``, where a builder's gone sources are taken
    from."""
    assert provenance.request is not None
    request = provenance.request
    command = str(request.get("command") or provenance.command)
    recorded, overrides = replay_overrides(names, provenance, options, extensions)
    config = recorded_config(names[0], command, request, options, work, current, reporter)
    if command == "extend":
        from cnbext.client.extend import extend
        from cnbext.plan.extend import ExtendOptions

        warn_unknown(reporter, names[0], ExtendOptions, recorded)
        return extend(
            config,
            replay_options(ExtendOptions, recorded, **overrides),
            reporter=reporter,
            engine=engine,
        )
    from cnbext.plan.builder_options import BuilderOptions

    warn_unknown(reporter, names[0], BuilderOptions, recorded)
    builder_options = replay_options(BuilderOptions, recorded, **overrides)
    if command == "extend-builder":
        from cnbext.client.extend_builder import extend_builder

        return extend_builder(config, builder_options, reporter=reporter, engine=engine)
    from cnbext.client.create_builder import create_builder

    return create_builder(config, builder_options, reporter=reporter, engine=engine)


def replay_overrides(
    names: tuple[str, ...],
    provenance: Provenance,
    options: UpgradeOptions,
    extensions: tuple[ExtensionRequest, ...],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The recorded options, and the upgrade's own choices to put over them."""
    assert provenance.request is not None
    recorded: dict[str, Any] = dict(provenance.request.get("options") or {})
    overrides: dict[str, Any] = {
        "names": names,
        "publish": options.publish,
        "pull_policy": PullPolicy.ALWAYS if provenance.base.digest else PullPolicy.IF_NOT_PRESENT,
        "extensions": extensions,
        "platform_env": options.platform_env,
        "app_dir": options.app_dir,
    }
    if options.build_id is not None:
        overrides["build_id"] = options.build_id
    if options.sign_key is not None:
        overrides["sign_key"] = options.sign_key
    elif not options.publish:
        overrides["sign_key"] = None  # a signature is kept beside a published image only
    if not options.publish and len(recorded.get("platforms") or ()) > 1:
        overrides["platforms"] = ()  # the daemon holds one platform per name
    return recorded, overrides


def recorded_config(
    name: str,
    command: str,
    request: dict[str, Any],
    options: UpgradeOptions,
    work: Path,
    current: str | None,
    reporter: Reporter,
) -> Path:
    """The config to redo with: --config for a create-builder builder, else the recorded
    document written out again (its relative uris were recorded resolved), with sources that
    are gone taken from the builder being upgraded."""
    if command == "create-builder" and options.config is not None:
        return options.config
    document = request.get("config")
    if command not in _CONFIG_FILES or not isinstance(document, dict):
        raise ImageError(f"{name}: its provenance records no {command} config to redo")
    if command == "create-builder" and current is not None:
        document, replaced = from_builder(document, current, lambda p: Path(p).exists())
        if replaced:
            reporter.info(
                f"{name}: {' and '.join(replaced)} taken from the builder itself ({current}): "
                "the recorded sources are gone"
            )
    path = work / _CONFIG_FILES[command]
    path.write_text(tomlkit.dumps(document))
    return path


def warn_unknown(reporter: Reporter, name: str, model: type[Any], recorded: Any) -> None:
    unknown = unknown_options(model, recorded)
    if unknown:
        reporter.warn(
            f"{name} was made by a newer cnbext, which recorded options this one does not "
            f"know ({', '.join(unknown)}): the upgrade leaves them out"
        )
