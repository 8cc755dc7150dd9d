"""Whether an image's names carry a signature that verifies, for inspect and upgrade --check.

A published image signed when it was made records its key in its request (``sign_key``, by
reference); each of its names' repositories must then hold a cosign signature of the digest
the name serves. A missing one (deleted, a mirror copied by hand) and a stale one (made for an
earlier digest) both fail to verify.
"""

from __future__ import annotations

from collections.abc import Sequence

from cnbext.cnb.imageref import parse_reference, suffixed_name
from cnbext.cnb.provenance import Provenance
from cnbext.engine.models import ImageView
from cnbext.engine.protocol import Engine, RegistryAccess
from cnbext.errors import CnbextError


def recorded_key(provenance: Provenance) -> str | None:
    """The key the image was signed with when it was made; None: it was not signed."""
    recorded = ((provenance.request or {}).get("options") or {}).get("sign_key")
    return recorded if isinstance(recorded, str) and recorded else None


def platform_names(
    provenance: Provenance, name: str, view: ImageView, registry: RegistryAccess
) -> dict[str, str]:
    """The per-platform names ``--append-image-name-suffix`` published beside the image
    ``name`` serves (NAME-os-arch[-variant] of the name it was pushed under, the first its
    names record lists), each with the digest of its platform's image in the index: what it
    serves, and what was signed for it."""
    from cnbext.client.names import recorded_names

    options = (provenance.request or {}).get("options") or {}
    if not options.get("append_image_name_suffix") or view.source != "registry" or not view.digest:
        return {}
    pushed = (recorded_names(registry, name, view.digest) or (name,))[0]
    return {suffixed_name(pushed, p): d for p, d in sorted(view.platform_digests.items())}


def unverified_by_digest(engine: Engine, digests: dict[str, str], key: str) -> dict[str, str]:
    """As :func:`unverified` for names that each serve a digest of their own."""
    reasons: dict[str, str] = {}
    for name, digest in digests.items():
        reasons |= unverified(engine, [name], digest, key)
    return reasons


def unverified(engine: Engine, names: Sequence[str], digest: str, key: str) -> dict[str, str]:
    """Why each name whose repository has no signature of ``digest`` by ``key`` fails; the
    names that verify are left out."""
    reasons = {}
    for name in names:
        reference = f"{parse_reference(name).repository}@{digest}"
        try:
            why = engine.verify_signature(reference, key)
        except CnbextError as err:  # e.g. the key's public half cannot be read
            why = err.message
        if why is not None:
            reasons[name] = (why.splitlines() or ["does not verify"])[0]
    return reasons
