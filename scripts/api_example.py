"""Create a builder, extend it and read the results with cnbext's Python API (docs/api.md).

    python scripts/api_example.py localhost:5000

With the local engine of `make engine` (and the example stack of scripts/example-stack.sh),
this creates the example builder of builder-examples/builder.toml with its run image extended,
publishes both, extends that builder with `less`, and prints what was published and the
packages the builder's io.buildpacks.extend.metadata label records.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cnbext

EXAMPLES = Path(__file__).resolve().parents[1] / "builder-examples"


class PrintReporter:
    """Progress on stderr: any object with these methods is a cnbext.Reporter."""

    verbose = False

    @contextmanager
    def step(self, message: str) -> Iterator[None]:
        print(f"=> {message}", file=sys.stderr)
        yield

    def info(self, message: str) -> None:
        print(message, file=sys.stderr)

    def warn(self, message: str) -> None:
        print(f"warning: {message}", file=sys.stderr)

    def build_log(self, line: str) -> None:
        pass


def main(registry: str) -> None:
    tag = uuid.uuid4().hex[:8]
    reporter = PrintReporter()
    # Builds that run commands need a network; the local engine has no bridge network. Where
    # the work runs is the engine's business, not the request's: it is never recorded.
    settings = cnbext.EngineSettings(network=os.environ.get("CNBEXT_NETWORK"))

    created = cnbext.create_builder(
        EXAMPLES / "builder.toml",
        cnbext.BuilderOptions(
            names=(f"{registry}/api-example/builder:{tag}",),
            run_image=f"{registry}/api-example/run:{tag}",
            publish=True,
        ),
        reporter=reporter,
        settings=settings,
    )
    run_image, builder = created.images  # the run image is published first
    print(f"created {builder.names[0]}@{builder.digest} (run image {run_image.names[0]})")

    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp, "extend-builder.toml")
        config.write_text(
            f'[extend]\nimage = "{builder.names[0]}"\n\n'
            '[extend.metadata.build]\npackages = ["less"]\n'
        )
        extended = cnbext.extend_builder(
            config,
            cnbext.BuilderOptions(
                names=(f"{registry}/api-example/builder:{tag}-less",),
                publish=True,
            ),
            reporter=reporter,
            settings=settings,
        )
    (result,) = extended.images
    metadata = json.loads(result.labels["io.buildpacks.extend.metadata"])
    print(f"extended {result.names[0]}@{result.digest}")
    print(f"packages {json.dumps(metadata['packages'])}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} REGISTRY (e.g. localhost:5000)")
    try:
        main(sys.argv[1])
    except cnbext.CnbextError as error:
        sys.exit(f"error: {error.message}")
