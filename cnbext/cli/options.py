"""Every flag the commands share, declared once, and how a command gets them.

A command function declares only its own parameters (names, config file, run image) and takes
``app`` (an :class:`~cnbext.cli.application.Application`: output format, verbosity, consoles,
reporter) and ``flags`` (the :class:`~cnbext.cli.run_flags.RunFlags`); :func:`shared_flags`
adds every shared flag to the command's signature, so typer shows and parses them after the
command name as before.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from cnbext.cli.output_format import OutputFormat
from cnbext.cli.run_flags import RunFlags
from cnbext.plan.model import PullPolicy, SbomFormat

OutputOption = Annotated[
    OutputFormat,
    typer.Option(
        "--output",
        "-o",
        help="**text**: progress and a summary table; **json**: one JSON document on "
        "stdout (logs stay on stderr).",
        case_sensitive=False,
    ),
]
VerboseOption = Annotated[
    bool, typer.Option("--verbose", "-v", help="Show the live build log and tracebacks.")
]
QuietOption = Annotated[
    bool, typer.Option("--quiet", "-q", help="Show only errors and the result.")
]
PublishOption = Annotated[
    bool,
    typer.Option(
        "--publish",
        help="Push the result to its registry (the first NAME is pushed, the others are copied "
        "registry-side by digest). Without it, images are loaded into the Docker daemon.",
    ),
]
PullPolicyOption = Annotated[
    PullPolicy,
    typer.Option(
        "--pull-policy",
        help="Pull base images **always**, only **if-not-present** in the daemon, or "
        "**never** (then they must be in the daemon; cannot be used with --publish).",
        case_sensitive=False,
    ),
]
SbomOption = Annotated[
    SbomFormat,
    typer.Option(
        "--sbom",
        help="Write an SBOM layer of every OS package in images that install packages: "
        "**cdx** (CycloneDX 1.6 JSON at /cnb/sbom/bom.cdx.json, named by "
        "io.buildpacks.base.sbom; the default) or **none** (no SBOM layer; the base's label "
        "is kept). See docs/sbom.md.",
        case_sensitive=False,
    ),
]
LockOption = Annotated[
    Path | None,
    typer.Option(
        "--lock",
        help="Write the package versions each platform resolved to FILE after a build that "
        "succeeded (TOML, schemas/lock.schema.json; a builder command's extended run image "
        "under [run-image]); with --locked, install exactly those instead. Recorded and "
        "replayed by upgrade. See docs/extend.md#pins-and-a-lock.",
        metavar="FILE",
        show_default=False,
    ),
]
LockedOption = Annotated[
    bool,
    typer.Option(
        "--locked",
        help="Install exactly the versions in --lock FILE; when one is no longer available, "
        "fail (exit 5), publishing nothing, naming each such package.",
    ),
]
NetworkOption = Annotated[
    str | None,
    typer.Option(
        "--network",
        envvar="CNBEXT_NETWORK",
        help="Network for RUN steps during builds (e.g. **host** where Docker runs without "
        "a bridge). Default: $CNBEXT_NETWORK, else Docker's default.",
        show_envvar=True,
    ),
]
PlatformOption = Annotated[
    list[str] | None,
    typer.Option(
        "--platform",
        help="Target platform, e.g. linux/arm64. Repeat for a multi-platform image "
        "(needs --publish). Default: the engine's platform.",
        metavar="OS/ARCH[/VARIANT]",
    ),
]
BuildIdOption = Annotated[
    str | None,
    typer.Option(
        "--build-id",
        help="Passed to the Dockerfiles as the build_id build arg: a new value re-runs the "
        "package installs (e.g. for security updates). Default: keep the build cache.",
    ),
]
RunImageOption = Annotated[
    str | None,
    typer.Option(
        "--run-image",
        help="Name for the extended run image (needed when the config has "
        "[extend.metadata.run]); the builder then names it as its run image.",
    ),
]
RunImageMirrorOption = Annotated[
    list[str] | None,
    typer.Option(
        "--run-image-mirror",
        help="Another name the extended run image is published under (repeatable; copied "
        "by digest and checked).",
    ),
]
ExtensionOption = Annotated[
    list[str] | None,
    typer.Option(
        "--extension",
        help="An image extension to apply ahead of time: a folder, archive, URL or "
        "docker://image (repeatable; after the config's [[extend.extensions]]); "
        "URI#sha256=<hex> pins an archive's digest.",
        metavar="URI",
    ),
]
EnvOption = Annotated[
    list[str] | None,
    typer.Option(
        "--env",
        help="NAME=VALUE for the extensions' platform env (CNB_PLATFORM_DIR/env/NAME); repeatable.",
        metavar="NAME=VALUE",
    ),
]
AppOption = Annotated[
    Path | None,
    typer.Option(
        "--app",
        help="The app folder extensions' detect and generate see (read-only). Default: an "
        "empty folder.",
        file_okay=False,
    ),
]
ContextOption = Annotated[
    str | None,
    typer.Option(
        "--context",
        envvar="DOCKER_CONTEXT",
        help="The docker context whose engine every build, push and read goes to (see "
        "`docker context ls`). Default: $DOCKER_CONTEXT, else $DOCKER_HOST, else the current "
        "context.",
        show_envvar=True,
    ),
]
BuilderOption = Annotated[
    str | None,
    typer.Option(
        "--builder",
        envvar="BUILDX_BUILDER",
        help="The buildx builder every build goes to, of any driver (docker, "
        "docker-container, remote, kubernetes; see `docker buildx ls`). Default: "
        "$BUILDX_BUILDER, else the context's.",
        show_envvar=True,
    ),
]
NoFactCacheOption = Annotated[
    bool,
    typer.Option(
        "--no-fact-cache",
        envvar="CNBEXT_NO_FACT_CACHE",
        help="Re-read base images, and measure layers' diffIDs again, instead of taking "
        "what was read before from the fact cache (kept by content digest in the cache "
        "folder, see docs/performance.md).",
        show_envvar=True,
    ),
]
SourceDateEpochOption = Annotated[
    int | None,
    typer.Option(
        "--source-date-epoch",
        envvar="SOURCE_DATE_EPOCH",
        help="Seconds since 1970 that every timestamp the builds write is set to (configs, "
        "history, files the installs wrote), so the same request gives the same digest "
        "(docs/supply-chain.md). Recorded and replayed by upgrade. Default: "
        "$SOURCE_DATE_EPOCH, else the build's own time.",
        show_envvar=True,
        min=0,
    ),
]
NoCacheOption = Annotated[
    bool,
    typer.Option(
        "--no-cache",
        help="Build without BuildKit's cache (every step runs again); changes nothing "
        "in what is made, so it is not recorded.",
    ),
]
SignOption = Annotated[
    bool,
    typer.Option(
        "--sign",
        help="Sign every published digest with cosign in the repository of each name, and "
        "verify it there before anything after it is published (needs --publish and a key).",
    ),
]
SignKeyOption = Annotated[
    str | None,
    typer.Option(
        "--sign-key",
        envvar="COSIGN_KEY",
        help="The cosign key --sign uses: a key file or a KMS URI (recorded by reference; "
        "its password only from $COSIGN_PASSWORD). Default: $COSIGN_KEY.",
        show_envvar=True,
        metavar="KEY",
    ),
]
DryRunOption = Annotated[
    bool,
    typer.Option(
        "--dry-run",
        help="Read the base images and print the plan (Dockerfiles, build args, label "
        "changes, names, order); build and publish nothing.",
    ),
]


def _flag(name: str, annotation: Any, default: Any) -> inspect.Parameter:
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
    )


_RUN_FLAGS = (
    _flag("publish", PublishOption, False),
    _flag("pull_policy", PullPolicyOption, PullPolicy.IF_NOT_PRESENT),
    _flag("sbom", SbomOption, SbomFormat.CYCLONEDX),
    _flag("network", NetworkOption, None),
    _flag("platform", PlatformOption, None),
    _flag("build_id", BuildIdOption, None),
    _flag("extension", ExtensionOption, None),
    _flag("env", EnvOption, None),
    _flag("app", AppOption, None),
    _flag("dry_run", DryRunOption, False),
    _flag("context", ContextOption, None),
    _flag("builder", BuilderOption, None),
    _flag("no_fact_cache", NoFactCacheOption, False),
    _flag("source_date_epoch", SourceDateEpochOption, None),
    _flag("no_cache", NoCacheOption, False),
    _flag("sign", SignOption, False),
    _flag("sign_key", SignKeyOption, None),
    _flag("lock", LockOption, None),
    _flag("locked", LockedOption, False),
)
_OUTPUT_FLAGS = (
    _flag("output", OutputOption, OutputFormat.TEXT),
    _flag("verbose", VerboseOption, False),
    _flag("quiet", QuietOption, False),
)


def shared_flags(command: Callable[..., None]) -> Callable[..., None]:
    """``command(app, flags, **own)`` as a typer command function with its own parameters
    followed by every shared flag."""
    from cnbext.cli.application import Application

    own = inspect.signature(command, eval_str=True)
    params = [p for name, p in own.parameters.items() if name not in ("app", "flags")]

    @functools.wraps(command)
    def with_flags(**values: Any) -> None:
        run = {p.name: values.pop(p.name) for p in _RUN_FLAGS}
        output = {p.name: values.pop(p.name) for p in _OUTPUT_FLAGS}
        command(Application(**output), RunFlags(**run), **values)

    with_flags.__signature__ = own.replace(  # type: ignore[attr-defined]
        parameters=[*params, *_RUN_FLAGS, *_OUTPUT_FLAGS]
    )
    return with_flags
