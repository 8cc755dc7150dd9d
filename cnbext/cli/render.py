"""Text views of plans and results (rich); the JSON views are the objects' to_dict()."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console, Group
from rich.markup import escape
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table

from cnbext.client import ImageResult
from cnbext.plan import ImageBuild, Plan


def render_plan(plan: Plan, console: Console) -> None:
    console.print(f"[bold]Plan for cnbext {plan.command}[/] (dry run: nothing is built)")
    mode = "publish to registries" if plan.publish else "load into the Docker daemon"
    network = plan.network or "default"
    console.print(f"  {mode}; pull policy {plan.pull_policy.value}; network {network}")
    for build in plan.builds:
        console.print(_build_panel(build))
    console.print("[bold]Order[/]")
    for number, step in enumerate(plan.steps(), start=1):
        console.print(f"  {number}. {escape(step)}")


def _build_panel(build: ImageBuild) -> Panel:
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column()
    facts.add_row("base", escape(build.base))
    facts.add_row("names", escape("\n".join(build.names)))
    facts.add_row("platforms", escape(", ".join(build.platforms) or "engine default"))
    facts.add_row("base user", escape(build.base_user))
    if build.packages:
        facts.add_row("packages", escape(f"{', '.join(build.packages)} ({build.package_manager})"))
    args = Table("build arg", "value", box=None, padding=(0, 2), header_style="bold")
    for name, value in build.build_args.items():
        args.add_row(escape(name), escape(value))
    labels = Table("label", "old", "new", box=None, padding=(0, 2), header_style="bold")
    for change in build.label_changes:
        labels.add_row(
            escape(change.name),
            escape(change.old) if change.old is not None else "[dim](unset)[/]",
            escape(change.new) if change.changed else "[dim](unchanged)[/]",
        )
    dockerfile = Syntax(build.dockerfile.rstrip("\n"), "docker", word_wrap=True, theme="ansi_dark")
    return Panel(
        Group(facts, "", args, "", labels, "", dockerfile),
        title=f"[bold]{escape(build.role)}[/] {escape(build.primary_name)}",
        title_align="left",
    )


def render_results(results: Sequence[ImageResult], console: Console) -> None:
    table = Table(title="Result", title_justify="left", header_style="bold")
    table.add_column("role", no_wrap=True)
    # Names and digests are copied from here: fold long ones rather than cut them.
    table.add_column("name", overflow="fold")
    digest_title = "digest" if any(r.published for r in results) else "image id"
    table.add_column(digest_title, overflow="fold", min_width=20)
    table.add_column("where", no_wrap=True)
    for result in results:
        for name in result.names:
            table.add_row(
                escape(result.role),
                escape(name),
                escape(result.digest),
                "registry" if result.published else "daemon",
            )
    console.print(table)
