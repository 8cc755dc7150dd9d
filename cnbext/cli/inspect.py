"""``cnbext inspect``: kind, added metadata, provenance and live staleness of an image."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cnbext.cli.options import BuilderOption, ContextOption, OutputOption, VerboseOption
from cnbext.cli.output_format import OutputFormat

HELP = """Show what an image is and whether it is still current.

For an image in the Docker daemon (or, when the daemon does not have it, in its registry):
its kind (extended image, run image, build image, builder), `io.buildpacks.extend.metadata`,
cnbext's provenance, user, platforms, `io.buildpacks.rebasable` and whether the image's own
layers may move to a new base (cnbext's judgement, in its provenance); and live checks: whether
the recorded base now resolves to another digest (stale). For a builder also what
`pack builder inspect` shows, and the run image and every mirror with its digest compared to
the run image's (equal / different / missing). Nothing is pulled into the daemon.
"""

EPILOG = """**Examples**

```
cnbext inspect registry.example.com/cnb/run:1
cnbext inspect my/builder:1 --output json
cnbext inspect my/builder:1 --context remote-engine
```

Exit codes: 0 ok, 4 image not found or unreadable (docs/exit-codes.md).
"""


def inspect(
    reference: Annotated[str, typer.Argument(help="The image.", metavar="REF")],
    output: OutputOption = OutputFormat.TEXT,
    verbose: VerboseOption = False,
    context: ContextOption = None,
    builder: BuilderOption = None,
) -> None:
    from cnbext.cli.application import Application

    app = Application(output=output, verbose=verbose, quiet=False)

    def run() -> int:
        import cnbext
        from cnbext.cli.application import print_json, stdout_console

        settings = cnbext.EngineSettings(context=context or None, builder=builder or None)
        document = cnbext.inspect_image(reference, settings=settings)
        if output is OutputFormat.JSON:
            print_json(document)
        else:
            render_inspect(document, stdout_console())
        return 0

    app.run_guarded(run)


def render_inspect(document: dict[str, Any], console: Console) -> None:
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold", no_wrap=True)
    facts.add_column(overflow="fold")
    where = document["source"]
    facts.add_row("image", escape(f"{document['reference']} ({where})"))
    facts.add_row("kind", escape(document["kind"]))
    facts.add_row("digest", escape(str(document.get("digest") or document.get("imageId"))))
    facts.add_row("platforms", escape(", ".join(document["platforms"])))
    facts.add_row("user", escape(document["user"] or "(root)"))
    facts.add_row("rebasable", escape(str(document.get("rebasable") or "(not set)")))
    own = document.get("layersRebasable")
    if own is not None:
        facts.add_row("layers rebasable", "yes" if own else "no (an upgrade rebuilds it)")
    metadata = document.get("extendMetadata")
    facts.add_row("extend metadata", escape(json.dumps(metadata) if metadata else "(none)"))
    provenance = document.get("provenance")
    if isinstance(provenance, dict):
        facts.add_row("made by", escape(_made_by(provenance)))
        for index, round_ in enumerate(provenance.get("history") or (), start=1):
            facts.add_row(f"round {index}", escape(_made_by(round_)))
        facts.add_row("saved as", escape(", ".join(document.get("names") or ())))
        for name, value in _asked(document.get("request"), provenance):
            facts.add_row(name, escape(value))
    signatures = document.get("signatures")
    if isinstance(signatures, dict):
        for name, state in signatures["names"].items():
            facts.add_row("signature", escape(f"{name}: {state}"))
    attestations = document.get("attestations")
    if isinstance(attestations, dict):
        if attestations.get("error"):
            facts.add_row("attestations", escape(str(attestations["error"])))
        for name, states in attestations["names"].items():
            for what, state in states.items():
                facts.add_row("attestation", escape(f"{name}: {what}: {state}"))
    status = document["status"]
    facts.add_row("status", escape(status["state"]))
    for key, title in (("base", "base"), ("runImageBase", "run image base")):
        if key in status:
            facts.add_row(title, escape(_base_line(status[key])))
    if "why" in status:
        facts.add_row("", escape(status["why"]))
    run_image = status.get("runImage")
    if isinstance(run_image, dict):
        line = f"{run_image['image']}: {run_image['state']}"
        facts.add_row(
            "run image", escape(f"{line} ({run_image['why']})" if run_image["why"] else line)
        )
    console.print(facts)
    packages = document.get("packages")
    if isinstance(packages, dict):
        console.print(packages_table(packages))
    builder = document.get("builder")
    if isinstance(builder, dict):
        render_builder(builder, console)


def packages_table(packages: dict[str, Any]) -> Table:
    """Per platform, every package the build added, upgraded (old -> new) or removed."""
    table = Table(box=None, header_style="bold", title="installed packages", title_justify="left")
    for column in ("platform", "change", "package", "version", "arch", "source"):
        table.add_column(column, overflow="fold")
    for platform, changes in sorted(packages.items()):
        rows = [
            *(("added", p, p["version"]) for p in changes["added"]),
            *(("upgraded", p, f"{p['previous']} -> {p['version']}") for p in changes["upgraded"]),
            *(("removed", p, p["version"]) for p in changes["removed"]),
        ]
        if not rows:
            table.add_row(escape(platform), "(none)", "", "", "", "")
        for change, package, version in rows:
            cells = (platform, change, package["name"], version)
            table.add_row(*map(escape, (*cells, package["architecture"], package["source"])))
    return table


def _asked(request: Any, provenance: dict[str, Any]) -> list[tuple[str, str]]:
    """The request's options that were given (empty and false ones left out), then each
    extension with how it was identified; a format-1 label says it recorded less."""
    if not isinstance(request, dict):
        return [("request", "not recorded (provenance format 1)")]
    rows = [
        (f"  {name.replace('_', '-')}", json.dumps(value))
        for name, value in sorted((request.get("options") or {}).items())
        if value not in (None, False, [], {}, "")
    ]
    for extension in provenance.get("extensions") or ():
        pin = extension.get("digest") or extension.get("sha256") or "(no digest)"
        rows.append(("  extension", f"{extension.get('id') or extension.get('uri')} {pin}"))
    return [("request", str(request.get("command", ""))), *rows]


def _made_by(provenance: dict[str, Any]) -> str:
    base = provenance.get("base") or {}
    tool = provenance.get("tool") or {}
    return (
        f"cnbext {tool.get('version', '?')} {provenance.get('command')} "
        f"({provenance.get('role')}) from {base.get('reference')}@{base.get('digest')}"
    )


def _base_line(base: dict[str, Any]) -> str:
    line = f"{base['reference']}: {base['state']}; recorded {base['recorded']}"
    if base.get("current") and base["current"] != base["recorded"]:
        line += f", now {base['current']}"
    if base.get("why") and base["state"] != "stale":
        line += f" ({base['why']})"
    return line


def render_builder(builder: dict[str, Any], console: Console) -> None:
    console.print(f"[bold]Description:[/] {escape(builder.get('description') or '')}")
    console.print(f"[bold]Created by:[/] {escape(builder.get('createdBy') or '')}")
    lifecycle = builder.get("lifecycle") or {}
    console.print(f"[bold]Lifecycle:[/] {escape(str(lifecycle.get('version')))}")
    for kind in ("buildpackApis", "platformApis"):
        apis = lifecycle.get(kind) or {}
        console.print(
            f"  {kind}: supported {escape(', '.join(apis.get('supported') or []))}; "
            f"deprecated {escape(', '.join(apis.get('deprecated') or []) or '(none)')}"
        )
    table = Table(box=None, header_style="bold")
    table.add_column("run image / mirror", overflow="fold")
    table.add_column("digest", overflow="fold")
    table.add_column("state", no_wrap=True)
    for run in builder.get("runImages") or ():
        table.add_row(escape(run["image"]), escape(str(run["digest"])), escape(run["state"]))
        for mirror in run["mirrors"]:
            table.add_row(
                "  " + escape(mirror["image"]), escape(str(mirror["digest"])), mirror["state"]
            )
    console.print(table)
    for title, key in (("Buildpacks", "buildpacks"), ("Extensions", "extensions")):
        modules = builder.get(key) or []
        console.print(f"[bold]{title}:[/] " + escape(", ".join(_module(m) for m in modules)))
    for title, key in (("Detection order", "order"), ("Extension order", "orderExtensions")):
        groups = builder.get(key) or []
        console.print(f"[bold]{title}:[/]")
        for number, group in enumerate(groups, start=1):
            entries = [_module(e) for e in (group.get("group") or [])]
            console.print(f"  group {number}: {escape(', '.join(entries))}")


def _module(entry: dict[str, Any]) -> str:
    text = f"{entry.get('id')}@{entry.get('version')}"
    return text + " (optional)" if entry.get("optional") else text
