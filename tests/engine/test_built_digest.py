"""Which digest a build made, from BuildKit's metadata (cnbext.engine.builds.built_digest).
Not an engine test: the metadata below is what buildx wrote on this machine's docker driver
for a one-platform push to a tag that already named a two-platform index holding the image
(the re-run of a per-platform publish)."""

from __future__ import annotations

import pytest

from cnbext.engine.builds import built_digest

MANIFEST = "sha256:d019424a812e54cd69ef17d48995e3a866af17edc46c8ca4f3a82f5df712bfc1"
INDEX = "sha256:409a5a81f211c87bc283cda8a41d8ad1c652005808f9dc3e69de7144f3774c4e"


def test_the_descriptor_of_what_was_built_wins_over_what_the_name_resolves_to() -> None:
    metadata = {
        "containerimage.config.digest": "sha256:" + "2" * 64,
        "containerimage.descriptor": {
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "digest": MANIFEST,
            "size": 697,
            "platform": {"architecture": "amd64", "os": "linux"},
        },
        "containerimage.digest": INDEX,
        "image.name": "localhost:5000/exp/x:2",
    }
    assert built_digest(metadata) == MANIFEST


@pytest.mark.parametrize("descriptor", [None, {}, {"digest": 3}, "sha256:x"])
def test_without_a_usable_descriptor_the_reported_digest_is_taken(descriptor: object) -> None:
    metadata: dict[str, object] = {"containerimage.digest": INDEX}
    if descriptor is not None:
        metadata["containerimage.descriptor"] = descriptor
    assert built_digest(metadata) == INDEX
