"""Turning a failed docker command into the few lines a user can act on."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from python_on_whales.exceptions import DockerException


def last_lines(err: DockerException, count: int = 6) -> str:
    """The end of what the command printed: where docker and buildx put the reason."""
    text = (err.stderr or err.stdout or str(err) or "").strip()
    lines = [line for line in text.splitlines() if line.strip()]
    return "\n".join(lines[-count:]) if lines else "unknown error"


def push_hint(failure: str, reference: str) -> str | None:
    """What to do about a refused push: log in, when the registry said who may not."""
    if "401" in failure or "unauthorized" in failure.lower() or "denied" in failure.lower():
        registry = reference.split("/", 1)[0]
        return f"log in first: docker login {registry}"
    return None
