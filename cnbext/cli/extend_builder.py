"""``cnbext extend-builder``: add packages to a builder and its run image, publish the run
image and its mirrors, and rewrite the builder so it names them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

import cnbext
from cnbext.cli.application import Application
from cnbext.cli.options import RunImageMirrorOption, RunImageOption, shared_flags
from cnbext.cli.run_flags import RunFlags

HELP = """Extend a builder and its run image together.

The builder to extend and what to add come from an extend-builder.toml:

```toml
[extend]
image = "registry.example.com/builders/jammy:1"   # the builder
[extend.metadata]            # both the builder and the run image
packages = ["imagemagick"]
[extend.metadata.build]      # only the builder
packages = ["git"]
[extend.metadata.run]        # only the run image (needs --run-image)
packages = ["postgresql-client"]
```

With `--run-image`, the run image the builder names is extended too, saved as `--run-image`
and every `--run-image-mirror`, and the new builder names them (its metadata label,
/cnb/run.toml and /cnb/stack.toml). Without it, only the builder is extended and it keeps
naming its run image. With `--publish`, the run image and mirrors are published before the
builder; if anything fails, no builder naming a missing run image is published.

Both images get `io.cnbext.packages` (what each platform installed) and an SBOM layer
(`--sbom none` leaves it out). `--lock FILE` writes the versions each image resolved (the
run image's under `[run-image]`); `--lock FILE --locked` installs exactly those again, and
fails (exit 5, nothing published) naming each version the repositories no longer have.
"""

EPILOG = """**Examples**

```
cnbext extend-builder my/builder:jq --extension-config extend-builder.toml
cnbext extend-builder reg.example.com/builder:jq -e extend-builder.toml --publish \\
  --run-image reg.example.com/run:jq --run-image-mirror mirror.example.com/run:jq
cnbext extend-builder my/builder:jq -e extend-builder.toml --run-image my/run:jq --dry-run
cnbext extend-builder my/builder:jq -e extend-builder.toml --run-image my/run:jq \\
  --lock builder.lock            # later: add --locked to install exactly the same versions
```

Exit codes: docs/exit-codes.md.
"""


@shared_flags
def extend_builder(
    app: Application,
    flags: RunFlags,
    name: Annotated[
        str,
        typer.Argument(help="Name of the extended builder.", metavar="NAME", show_default=False),
    ],
    extension_config: Annotated[
        Path,
        typer.Option(
            "--extension-config",
            "--config",
            "-e",
            "-c",
            help="The extend-builder.toml: [extend] image and [extend.metadata] (see docs). "
            "--config is the same flag, as the RFC's examples write it.",
        ),
    ] = Path("extend-builder.toml"),
    run_image: RunImageOption = None,
    run_image_mirror: RunImageMirrorOption = None,
) -> None:
    app.run(
        lambda: cnbext.extend_builder(
            extension_config,
            flags.builder_options(name, run_image, run_image_mirror),
            dry_run=flags.dry_run,
            reporter=app.reporter,
            settings=flags.engine_settings(),
        )
    )
