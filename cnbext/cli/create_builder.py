"""``cnbext create-builder``: a builder from pack's builder.toml, plus an [extend] section."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

import cnbext
from cnbext.cli.application import Application
from cnbext.cli.create_builder_flags import (
    FlattenOption,
    LabelOption,
    SuffixOption,
    TagOption,
    TargetOption,
    pack_flags,
)
from cnbext.cli.options import RunImageMirrorOption, RunImageOption, shared_flags
from cnbext.cli.run_flags import RunFlags

HELP = """Create a builder from a builder.toml written for `pack builder create`.

Everything pack's builder.toml accepts works (buildpacks and extensions from directories,
archives, URLs or `docker://` images, order, build env, run images, lifecycle), plus an
`[extend]` section that adds OS packages ahead of time:

```toml
[extend.metadata]            # both the build image and the run image
packages = ["jq"]
[extend.metadata.build]      # only the builder's build image
packages = ["git"]
[extend.metadata.run]        # only the run image (saved as --run-image)
packages = ["imagemagick"]
```

The build image is extended before the buildpacks are added; the run image is extended at
the same time and saved as `--run-image` and every `--run-image-mirror`, and the builder names
them. With `--publish` the run image and its mirrors are published before the builder.

Both images get `io.cnbext.packages` and an SBOM layer (`--sbom none` leaves it out).
`--lock FILE` writes the versions each image resolved (the run image's under `[run-image]`);
`--lock FILE --locked` installs exactly those, failing (exit 5, nothing published) on a
version that is gone.
"""

EPILOG = """**Examples**

```
cnbext create-builder my/builder:1 --config builder.toml
cnbext create-builder reg.example.com/builder:1 -c builder.toml --publish \\
  --run-image reg.example.com/run:1 --run-image-mirror mirror.example.com/run:1
cnbext create-builder my/builder:1 -c builder.toml --dry-run
cnbext create-builder my/builder:1 -c builder.toml --run-image my/run:1 --lock builder.lock --locked
```

The lifecycle is downloaded (and cached) unless `[lifecycle] uri` names a local copy; set
`CNBEXT_LIFECYCLE_BASE_URL` to download from a mirror. Exit codes: docs/exit-codes.md.
"""


NameArgument = Annotated[
    str, typer.Argument(help="Name of the builder image.", metavar="NAME", show_default=False)
]
ConfigOption = Annotated[
    Path,
    typer.Option(
        "--config", "-c", help="pack's builder.toml, optionally with [extend] (see docs)."
    ),
]
ExperimentalOption = Annotated[
    bool,
    typer.Option(
        "--experimental",
        help="Package [[extensions]] even with a lifecycle older than Platform API 0.13, "
        "which runs them only as an experimental feature.",
    ),
]


@shared_flags
def create_builder(
    app: Application,
    flags: RunFlags,
    name: NameArgument,
    config: ConfigOption = Path("builder.toml"),
    run_image: RunImageOption = None,
    run_image_mirror: RunImageMirrorOption = None,
    experimental: ExperimentalOption = False,
    target: TargetOption = None,
    label: LabelOption = None,
    tag: TagOption = None,
    flatten: FlattenOption = None,
    append_image_name_suffix: SuffixOption = False,
) -> None:
    def use_case() -> cnbext.Result:
        options = pack_flags(
            flags.builder_options(name, run_image, run_image_mirror, experimental=experimental),
            targets=target or [],
            labels=label or [],
            tags=tag or [],
            flatten=flatten or [],
            append_image_name_suffix=append_image_name_suffix,
        )
        return cnbext.create_builder(
            config,
            options,
            dry_run=flags.dry_run,
            reporter=app.reporter,
            settings=flags.engine_settings(),
        )

    app.run(use_case)
