"""What every command shares: its common flags, how progress and errors are shown, exit codes.

stdout carries the result only (the summary table, or one JSON document with ``--output json``);
progress, warnings and errors go to stderr, so scripts can pipe stdout safely.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.status import Status

from cnbext.cli.text import escape
from cnbext.errors import CnbextError, ConfigError, ExitCode
from cnbext.plan.model import PullPolicy

if TYPE_CHECKING:
    from cnbext.client.client import Client
    from cnbext.config.extension_request import ExtensionRequest
    from cnbext.plan.create_builder import BuilderOptions
    from cnbext.plan.model import Plan


class OutputFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


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
DryRunOption = Annotated[
    bool,
    typer.Option(
        "--dry-run",
        help="Read the base images and print the plan (Dockerfiles, build args, label "
        "changes, names, order); build and publish nothing.",
    ),
]


class ConsoleReporter:
    """Progress on stderr: a spinner naming every step under way (builds run concurrently),
    a line per finished step, build logs with --verbose, nothing with --quiet."""

    def __init__(self, console: Console, *, verbose: bool, quiet: bool) -> None:
        self.console = console
        self.verbose = verbose
        self.quiet = quiet
        self._lock = threading.Lock()
        self._active: list[str] = []
        self._status: Status | None = None

    @contextmanager
    def step(self, message: str) -> Iterator[None]:
        if self.quiet:
            yield
            return
        if self.verbose or not self.console.is_terminal:
            self.console.print(f"[bold blue]=>[/] {escape(message)}")
            yield
            return
        self._enter(message)
        try:
            yield
        finally:
            self._leave(message)
        self.console.print(f"[green]✓[/] {escape(message)}")

    def _enter(self, message: str) -> None:
        with self._lock:
            self._active.append(message)
            if self._status is None:
                self._status = self.console.status("")
                self._status.start()
            self._status.update(escape("; ".join(self._active)))

    def _leave(self, message: str) -> None:
        with self._lock:
            self._active.remove(message)
            if self._status is None:
                return
            if self._active:
                self._status.update(escape("; ".join(self._active)))
            else:
                self._status.stop()
                self._status = None

    def info(self, message: str) -> None:
        if not self.quiet:
            self.console.print(escape(message))

    def warn(self, message: str) -> None:
        self.console.print(f"[yellow]warning:[/] {escape(message)}")

    def build_log(self, line: str) -> None:
        if self.verbose and not self.quiet:
            self.console.print(escape(line), style="dim", highlight=False)


def stderr_console() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def stdout_console() -> Console:
    # Panels and tables wrap to the width; stderr keeps soft wrap so that an error line
    # (file:line:col: ...) stays one line for editors and grep.
    return Console(highlight=False)


def print_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=False) + "\n")


def fail(error: CnbextError, console: Console, *, output: OutputFormat) -> NoReturn:
    if isinstance(error, ConfigError):
        for problem in error.problems:
            console.print(escape(str(problem)))
    console.print(f"[bold red]error:[/] {escape(error.message)}")
    if error.hint:
        console.print(f"[dim]hint:[/] {escape(error.hint)}")
    if output is OutputFormat.JSON:
        problems = [str(p) for p in error.problems] if isinstance(error, ConfigError) else []
        print_json({"error": error.message, "exitCode": int(error.exit_code), "problems": problems})
    raise typer.Exit(int(error.exit_code))


T = TypeVar("T")


def guarded(action: Callable[[], T], console: Console, *, output: OutputFormat, verbose: bool) -> T:
    """Run a command body, turning cnbext's errors into messages and documented exit codes."""
    try:
        return action()
    except CnbextError as error:
        fail(error, console, output=output)
    except KeyboardInterrupt:
        console.print("[bold red]interrupted[/]")
        raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
    except Exception as error:
        if verbose or os.environ.get("CNBEXT_DEBUG"):
            raise
        console.print(
            f"[bold red]internal error:[/] {escape(type(error).__name__)}: {escape(str(error))}"
        )
        console.print("[dim]hint:[/] re-run with --verbose for the traceback, and report it")
        raise typer.Exit(int(ExitCode.INTERNAL)) from None


def normalize_names(names: list[str]) -> tuple[str, ...]:
    """Output names, normalized; every bad one reported at once, before any work."""
    from cnbext.cnb.imageref import InvalidReferenceError, parse_reference
    from cnbext.errors import UsageError

    normalized: list[str] = []
    problems: list[str] = []
    for name in names:
        try:
            reference = parse_reference(name)
        except InvalidReferenceError as err:
            problems.append(str(err))
            continue
        if reference.digest is not None:
            problems.append(f"{name}: an output name cannot have a digest; give a tag")
            continue
        normalized.append(str(reference))
    if problems:
        raise UsageError("; ".join(problems))
    return tuple(normalized)


def show_or_apply(
    plan: Plan, client: Client, *, dry_run: bool, output: OutputFormat, quiet: bool
) -> None:
    """The end every command shares: print the plan (--dry-run) or apply it and show results."""
    from cnbext.cli.render import render_plan, render_results

    if dry_run:
        if output is OutputFormat.JSON:
            print_json({"dryRun": True, "plan": plan.to_dict()})
        else:
            render_plan(plan, stdout_console())
        return
    for warning in plan.warnings:
        client.reporter.warn(warning)
    results = client.apply(plan)
    if output is OutputFormat.JSON:
        print_json(
            {
                "command": plan.command,
                "images": [r.to_dict() for r in results],
                "warnings": list(plan.warnings),
            }
        )
    elif not quiet:
        render_results(results, stdout_console())


def builder_options(
    *,
    name: str,
    run_image: str | None,
    run_image_mirror: list[str] | None,
    publish: bool,
    pull_policy: PullPolicy,
    network: str | None,
    platform: list[str] | None,
    build_id: str | None,
    extension: list[str] | None = None,
    env: list[str] | None = None,
    app: Path | None = None,
    experimental: bool = False,
) -> BuilderOptions:
    """The builder commands' flags, with every image name normalized (bad ones refused)."""
    from cnbext.plan.create_builder import BuilderOptions

    return BuilderOptions(
        names=normalize_names([name]),
        run_image=normalize_names([run_image])[0] if run_image else None,
        run_image_mirrors=normalize_names(run_image_mirror or []),
        publish=publish,
        pull_policy=pull_policy,
        network=network or None,
        platforms=tuple(platform or ()),
        build_id=build_id,
        extensions=extension_requests(extension),
        platform_env=parse_env(env or []),
        app_dir=app,
        experimental=experimental,
    )


def extension_requests(uris: list[str] | None) -> tuple[ExtensionRequest, ...]:
    """--extension flags as requests, paths made absolute (see flag_uri); a ``#sha256=<hex>``
    suffix pins the archive's digest, as ``sha256 =`` does in a config."""
    from cnbext.config.extension_request import ExtensionRequest
    from cnbext.errors import UsageError
    from cnbext.sources.download import valid_sha256

    requests = []
    for value in uris or ():
        uri, marker, digest = value.rpartition("#sha256=")
        if not marker:
            uri, digest = value, ""
        elif not valid_sha256(digest):
            raise UsageError(
                f"--extension {value!r}: sha256 should be 64 lowercase hex digits",
                hint="write --extension URI#sha256=<output of sha256sum>",
            )
        requests.append(ExtensionRequest(flag_uri(uri), sha256=digest or None))
    return tuple(requests)


def flag_uri(uri: str) -> str:
    """A path given on the command line is relative to where the user is, not to the config
    file's folder (which relative uris in configs use): make it absolute."""
    if "://" in uri or uri.startswith("urn:"):
        return uri
    return str(Path(uri).resolve())


def parse_env(pairs: list[str]) -> dict[str, str]:
    """--env NAME=VALUE, split on the first '=' only: values may contain '='."""
    from cnbext.errors import UsageError

    env: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name or "/" in name or name in (".", "..") or "\0" in name:
            raise UsageError(
                f"--env {pair!r}: expected NAME=VALUE, NAME a file name (no '/', not . or ..)"
            )
        env[name] = value
    return env
