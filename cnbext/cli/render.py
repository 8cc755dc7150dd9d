"""Text views of plans and results (rich); the JSON views are the objects' to_dict()."""

from __future__ import annotations

import json
from collections.abc import Sequence

from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table

from cnbext.cli.text import escape, printable
from cnbext.client.publish import ImageResult
from cnbext.plan.model import ImageBuild, Plan


def render_plan(plan: Plan, console: Console) -> None:
    console.print(f"[bold]Plan for cnbext {plan.command}[/] (dry run: nothing is built)")
    mode = "publish to registries" if plan.publish else "load into the Docker daemon"
    console.print(f"  {mode}; pull policy {plan.pull_policy.value}")
    for build in plan.builds:
        console.print(_build_panel(build))
    files = plan.details.files if plan.details is not None else {}
    for path, text in files.items():
        console.print(
            Panel(
                Syntax(printable(text.rstrip("\n")) or "# (empty)", "toml", theme="ansi_dark"),
                title=f"/{escape(path)}",
                title_align="left",
            )
        )
    console.print("[bold]Order[/]")
    for number, step in enumerate(plan.steps(), start=1):
        console.print(f"  {number}. {escape(step)}")
    for warning in plan.warnings:
        console.print(f"[yellow]warning:[/] {escape(warning)}")


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
    dockerfile = Syntax(
        printable(build.dockerfile.rstrip("\n")), "docker", word_wrap=True, theme="ansi_dark"
    )
    return Panel(
        Group(facts, "", args, "", *_label_changes(build), dockerfile),
        title=f"[bold]{escape(build.role)}[/] {escape(build.primary_name)}",
        title_align="left",
    )


def _label_changes(build: ImageBuild) -> list[RenderableType]:
    """Each label the build sets: unchanged ones in a line, changed ones old -> new in full
    (JSON pretty-printed), since a cut-off label value hides exactly what changes."""
    parts: list[RenderableType] = []
    unchanged = [c.name for c in build.label_changes if not c.changed]
    for change in build.label_changes:
        if not change.changed:
            continue
        parts.append(f"[bold]label[/] {escape(change.name)}")
        fields = _json_field_changes(change.old, change.new)
        if fields:
            parts.append(Padding("[bold]changed fields[/]", (0, 0, 0, 2)))
            parts += [Padding(escape(line), (0, 0, 0, 4)) for line in fields]
        parts.append(Padding(_label_value("old", change.old), (0, 0, 0, 2)))
        parts.append(Padding(_label_value("new", change.new), (0, 0, 0, 2)))
    if unchanged:
        parts.append(f"[bold]labels unchanged[/] {escape(', '.join(unchanged))}")
    return [*parts, ""] if parts else []


def _json_field_changes(old: str | None, new: str) -> list[str]:
    """``$.images[0].image: "a" -> "b"`` for each leaf that differs between two JSON labels."""
    try:
        before, after = json.loads(old or "null"), json.loads(new)
    except json.JSONDecodeError:
        return []
    if not isinstance(before, dict) or not isinstance(after, dict):
        return []
    lines: list[str] = []
    _diff("$", before, after, lines)
    return lines


_MISSING = object()


def _diff(path: str, before: object, after: object, lines: list[str]) -> None:
    if isinstance(before, dict) and isinstance(after, dict):
        for key in sorted(set(before) | set(after)):
            _diff(f"{path}.{key}", before.get(key, _MISSING), after.get(key, _MISSING), lines)
    elif isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        for index, (old_item, new_item) in enumerate(zip(before, after, strict=True)):
            _diff(f"{path}[{index}]", old_item, new_item, lines)
    elif before != after:
        shown_old = "(unset)" if before is _MISSING else json.dumps(before)
        shown_new = "(removed)" if after is _MISSING else json.dumps(after)
        lines.append(f"{path}: {shown_old} -> {shown_new}")


def _label_value(which: str, value: str | None) -> RenderableType:
    if value is None:
        return f"{which}: [dim](unset)[/]"
    try:
        decoded = json.loads(value)
    except json.JSONDecodeError:
        decoded = None
    if isinstance(decoded, dict | list):
        pretty = json.dumps(decoded, indent=2, sort_keys=True)
        return Group(f"{which}:", Syntax(pretty, "json", theme="ansi_dark", word_wrap=True))
    return f"{which}: {escape(value)}"


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
