"""Whether an image's names carry a signature that verifies, for inspect and upgrade --check.

A published image signed when it was made records its key in its request (``sign_key``, by
reference); each of its names' repositories must then hold a cosign signature of the digest
the name serves. A missing one (deleted, a mirror copied by hand) and a stale one (made for an
earlier digest) both fail to verify.
"""

from __future__ import annotations

from collections.abc import Sequence

from cnbext.cnb.imageref import parse_reference
from cnbext.cnb.provenance import Provenance
from cnbext.engine.protocol import Engine
from cnbext.errors import CnbextError


def recorded_key(provenance: Provenance) -> str | None:
    """The key the image was signed with when it was made; None: it was not signed."""
    recorded = ((provenance.request or {}).get("options") or {}).get("sign_key")
    return recorded if isinstance(recorded, str) and recorded else None


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
