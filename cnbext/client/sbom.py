"""The SBOM layer: each platform's document as one ``COPY --link`` layer, and the label that
names it.

``io.buildpacks.base.sbom`` must hold the layer's diffID, and a label is part of the config
BuildKit writes with the layers, so the diffID is known first: a ``COPY --link`` layer is
computed against an empty filesystem, so the engine measures it on scratch (as it does for a
builder's module layers) and the build is checked to have it afterwards
(``expected_diff_ids``). The documents differ per platform, and a build's labels are one set
for all its platforms, so an image of several platforms becomes one build per platform,
joined into an index under its name (the way pack publishes builders of several targets).
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from cnbext.cnb.sbom import SBOM_LABEL, SBOM_PATH
from cnbext.engine.protocol import Engine
from cnbext.plan.model import ImageBuild


def with_sbom_layers(
    engine: Engine, build: ImageBuild, documents: dict[str, bytes], folder: Path
) -> ImageBuild:
    """``build`` with each platform's SBOM document (by platform) as its last layer; the
    trees are written under ``folder`` (one folder per call: a plan has several builds)."""
    folder.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=folder))
    trees = {
        _context_path(p): _tree(folder / _context_path(p), doc) for p, doc in documents.items()
    }
    diff_ids = engine.layer_diff_ids(trees)

    def layered(one: ImageBuild, platform: str) -> ImageBuild:
        path = _context_path(platform)
        diff_id = diff_ids[path]
        return replace(
            one,
            dockerfile=one.dockerfile.rstrip("\n") + f"\nCOPY --link {path}/ /\n",
            context_trees={**one.context_trees, path: trees[path]},
            expected_diff_ids=(*one.expected_diff_ids, diff_id),
            labels={**one.labels, SBOM_LABEL: diff_id},
            result_labels={**one.result_labels, SBOM_LABEL: diff_id},
        )

    if len(documents) == 1:
        ((platform, _),) = documents.items()
        return layered(build, platform)
    own = tuple(layered(replace(build, platforms=(p,)), p) for p in sorted(documents))
    # The index has no one SBOM label: each platform's image names its own layer.
    shared = {k: v for k, v in build.result_labels.items() if k != SBOM_LABEL}
    return replace(build, per_platform=own, result_labels=shared)


def sbom_documents(
    build: ImageBuild, digest: str, platform_digests: Mapping[str, str]
) -> dict[str, tuple[str, bytes]]:
    """Each platform's SBOM document that ``build`` put in its layer, by platform, with the
    digest of that platform's image (``digest`` itself for a one-platform image; else
    ``platform_digests``). Read back from the build context (the work folder is still there
    while publishing)."""
    found: dict[str, tuple[str, bytes]] = {}
    for one in build.per_platform or (build,):
        for path, tree in one.context_trees.items():
            if not path.startswith(_PREFIX):
                continue
            # os, architecture and variant have no "-" of their own
            platform = path.removeprefix(_PREFIX).replace("-", "/")
            own = platform_digests.get(platform, "" if build.per_platform else digest)
            if own:
                found[platform] = (own, (tree / SBOM_PATH.lstrip("/")).read_bytes())
    return found


_PREFIX = "cnbext-sbom-"


def _context_path(platform: str) -> str:
    return _PREFIX + platform.replace("/", "-")


def _tree(root: Path, document: bytes) -> Path:
    """``root/cnb/sbom/bom.cdx.json``, world-readable (any user scans it), owned by root in
    the image (COPY without --chown)."""
    target = root / SBOM_PATH.lstrip("/")
    target.parent.mkdir(parents=True)
    target.write_bytes(document)
    target.chmod(0o644)
    for directory in (target.parent, target.parent.parent):
        directory.chmod(0o755)
    return root
