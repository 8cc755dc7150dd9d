"""``cnbext upgrade``: check images against their recorded bases, then rebase or rebuild."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cnbext.cli.options import (
    AppOption,
    BuilderOption,
    BuildIdOption,
    ContextOption,
    EnvOption,
    ExtensionOption,
    NetworkOption,
    OutputOption,
    PublishOption,
    QuietOption,
    SignKeyOption,
    SignOption,
    VerboseOption,
)
from cnbext.cli.output_format import OutputFormat
from cnbext.cli.run_flags import RunFlags

if TYPE_CHECKING:
    from cnbext.client.upgrade_model import UpgradeResult

HELP = """Upgrade images cnbext made when their base moved: rebase or redo the recorded work.

Every image cnbext makes records the request that made it, whole (docs/day-2.md). For each
NAME, the recorded base reference is looked up in its registry; when it now serves another
image (or --build-id differs), the image is upgraded and saved under the same NAME and every
other name it was saved under: an image or run image whose own layers are rebasable (its
provenance says so), or a builder none of whose own changes touched its build image, whose
base alone moved is rebased registry-side (no layer is uploaded again); anything else is
rebuilt by replaying the recorded request (every flag, the config as read) through extend /
extend-builder / create-builder. Builders get their run image and mirrors first, as the
command did. A run image extend-builder or create-builder made is upgraded on its own by its
name (or a mirror's): only its part of the request, then every mirror; the builders name it
by tag.

With --check nothing changes: exit 0 when everything is up to date, 100 when anything needs an
upgrade.
"""

EPILOG = """**Examples**

```
cnbext upgrade --check reg.example.com/cnb/run:1 reg.example.com/cnb/builder:1
cnbext upgrade --publish reg.example.com/cnb/run:1
cnbext upgrade --publish reg.example.com/cnb/builder:1
cnbext upgrade --publish reg.example.com/cnb/builder:1 --config new-builder.toml
cnbext upgrade --publish reg.example.com/cnb/builder:1 --builder container-builder
```

Exit codes: 0 ok (everything up to date or upgraded), 100 (--check) something needs an
upgrade, 2 usage, 4 image unreadable or without provenance, 5 build failed, 6 publish failed
(docs/exit-codes.md).
"""

CHECK_STALE = 100


NamesArgument = Annotated[
    list[str],
    typer.Argument(help="Images cnbext made.", metavar="NAME...", show_default=False),
]
CheckOption = Annotated[
    bool, typer.Option("--check", help="Change nothing; exit 100 when anything is stale.")
]
RebaseOption = Annotated[
    str,
    typer.Option(
        "--rebase",
        help="**auto**: rebase rebasable images whose base alone moved; **never**: rebuild.",
    ),
]
BuilderTomlOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="A builder.toml to rebuild create-builder builders from instead of the one they "
        "recorded (to change the builder on the way).",
    ),
]


def upgrade(
    names: NamesArgument,
    check: CheckOption = False,
    publish: PublishOption = False,
    rebase: RebaseOption = "auto",
    build_id: BuildIdOption = None,
    extension: ExtensionOption = None,
    config: BuilderTomlOption = None,
    network: NetworkOption = None,
    context: ContextOption = None,
    builder: BuilderOption = None,
    env: EnvOption = None,
    app_dir: AppOption = None,
    sign: SignOption = False,
    sign_key: SignKeyOption = None,
    output: OutputOption = OutputFormat.TEXT,
    verbose: VerboseOption = False,
    quiet: QuietOption = False,
) -> None:
    from cnbext.cli.application import Application

    app = Application(output=output, verbose=verbose, quiet=quiet)

    def run() -> int:
        import cnbext
        from cnbext.plan.model import PullPolicy

        # Parsed as the other commands parse them (URI#sha256= pins, NAME=VALUE checks).
        flags = RunFlags(
            publish=publish,
            pull_policy=PullPolicy.IF_NOT_PRESENT,
            network=network,
            platform=None,
            build_id=build_id,
            extension=extension,
            env=env,
            app=app_dir,
            dry_run=False,
            context=context,
            builder=builder,
            sign=sign,
            sign_key=sign_key,
        )
        options = cnbext.UpgradeOptions(
            names=tuple(names),
            check=check,
            publish=publish,
            rebase=rebase,
            build_id=build_id,
            extensions=flags.extension_requests(),
            config=config,
            platform_env=flags.platform_env(),
            app_dir=app_dir,
            sign_key=flags.signing_key(),
        )
        results = cnbext.upgrade(options, reporter=app.reporter, settings=flags.engine_settings())
        _show(results, output, quiet=quiet, check=check)
        return exit_code(results, app.errors, check=check)

    app.run_guarded(run)


def _show(
    results: Sequence[UpgradeResult], output: OutputFormat, *, quiet: bool, check: bool
) -> None:
    """The results as one JSON document, or a table (none with --quiet), on stdout."""
    from cnbext.cli.application import print_json, stdout_console

    if output is OutputFormat.JSON:
        images = [r.to_dict() for r in results]
        print_json({"command": "upgrade", "check": check, "images": images})
    elif not quiet:
        render_results(results, stdout_console())


def render_results(results: Sequence[object], console: Console) -> None:
    from cnbext.client.upgrade_model import UpgradeResult

    table = Table(box=None, header_style="bold")
    # Names and reasons wrap rather than being cut: CI logs are read for them.
    table.add_column("name", overflow="fold")
    table.add_column("kind")
    table.add_column("state")
    table.add_column("why / how", overflow="fold")
    table.add_column("digest", no_wrap=True)
    for result in results:
        assert isinstance(result, UpgradeResult)
        why = "; ".join(result.reasons)
        if result.method:
            why = f"{result.method}: {why}"
        if result.error:
            why = result.error.message.splitlines()[0]
        digest = result.after or result.before or ""
        table.add_row(
            escape(result.name),
            escape(result.kind),
            escape(result.state),
            escape(why),
            escape(digest[:19]),
        )
    console.print(table)
    changed = [(r.name, p) for r in results if isinstance(r, UpgradeResult) for p in r.packages]
    if changed:
        packages = Table(box=None, header_style="bold", title="packages the rebuild changed")
        for column in ("name", "platform", "package", "before", "after"):
            packages.add_column(column, overflow="fold")
        for name, row in changed:
            cells = (name, row["platform"], row["name"], row["before"], row["after"])
            packages.add_row(*(escape(str(c or "(none)")) for c in cells))
        console.print(packages)


def exit_code(results: Sequence[UpgradeResult], errors: Console, *, check: bool) -> int:
    """Each failure's message (after the summary); the first failure's code, else 100 when
    --check found something to upgrade, else 0."""
    from cnbext.client.upgrade_model import NEEDS_UPGRADE

    failed = [r.error for r in results if r.error is not None]
    for error in failed:
        errors.print(f"[bold red]error:[/] {escape(error.message)}")
        if error.hint:
            errors.print(f"[dim]hint:[/] {escape(error.hint)}")
    if failed:
        return int(failed[0].exit_code)
    if check and any(r.state == NEEDS_UPGRADE for r in results):
        return CHECK_STALE
    return 0
