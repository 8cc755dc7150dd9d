"""Signing published images with cosign and verifying the signatures, key-based and offline.

A cosign signature lives beside the image in its own repository (the tag
``sha256-<hex>.sig``), so an image copied to another repository by digest has none there: each
repository an image is published to is signed on its own. Keys are given by reference (a key
file, or a KMS URI cosign understands, passed through); the key's password is cosign's own
business ($COSIGN_PASSWORD) and never passes through cnbext. Nothing goes to a transparency
log (``--tlog-upload=false``), so signing and verifying work without a network beyond the
registries; verifying ignores the log the same way.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

from cnbext.engine.models import Attestations
from cnbext.errors import EngineError, PublishError

_TIMEOUT = 300  # seconds: one registry round trip or a KMS call, never a build


class Cosign:
    """Runs the cosign binary found on PATH."""

    def __init__(self, binary: str = "cosign") -> None:
        self.binary = binary

    def sign(self, reference: str, key: str) -> None:
        """Sign ``reference`` (``repository@digest``) with ``key``; the signature is pushed
        to the reference's repository."""
        command = ["sign", "--yes", "--tlog-upload=false", "--key", key, reference]
        failure = self._run(command)
        if failure is not None:
            raise PublishError(f"cannot sign {reference}: {failure}", hint=_key_hint(key))

    def verify(self, reference: str, key: str) -> str | None:
        """None when ``reference`` carries a signature ``key`` verifies, else why not."""
        with tempfile.TemporaryDirectory(prefix="cnbext-cosign-") as tmp:
            public = self._public_key(key, Path(tmp))
            command = ["verify", "--key", public, "--insecure-ignore-tlog=true", reference]
            return self._run(command)

    def attest(self, reference: str, key: str, predicate: bytes, kind: str) -> None:
        """Attach ``predicate`` to ``reference`` as a signed in-toto statement of cosign's
        ``--type kind``, replacing an earlier one of that type (a re-sign does not pile up)."""
        with tempfile.TemporaryDirectory(prefix="cnbext-cosign-") as tmp:
            path = Path(tmp, "predicate.json")
            path.write_bytes(predicate)
            command = ["attest", "--yes", "--tlog-upload=false", "--replace", "--key", key]
            failure = self._run([*command, "--type", kind, "--predicate", str(path), reference])
        if failure is not None:
            raise PublishError(f"cannot attest {reference}: {failure}", hint=_key_hint(key))

    def verify_attestations(self, reference: str, key: str, kind: str) -> Attestations:
        """The in-toto statements of ``--type kind`` on ``reference`` that ``key`` verifies;
        ``why`` says why there are none."""
        with tempfile.TemporaryDirectory(prefix="cnbext-cosign-") as tmp:
            public = self._public_key(key, Path(tmp))
            command = ["verify-attestation", "--key", public, "--insecure-ignore-tlog=true"]
            output: list[str] = []
            failure = self._run([*command, "--type", kind, reference], output)
        if failure is not None:
            return Attestations(why=failure)
        return Attestations(statements=_statements("".join(output)))

    def _public_key(self, key: str, tmp: Path) -> str:
        """What ``cosign verify --key`` takes for ``key``: a KMS URI as it is, a private
        key file's public half (a ``.pub`` file as it is, or the one beside the key, which
        needs no password)."""
        if "://" in key or key.endswith(".pub"):
            return key
        beside = Path(key).with_suffix(".pub")
        if beside.is_file():
            return str(beside)
        public = tmp / "cosign.pub"
        failure = self._run(["public-key", "--key", key, "--outfile", str(public)])
        if failure is not None:
            raise PublishError(f"cannot read the public key of {key}: {failure}")
        return str(public)

    def _run(self, arguments: list[str], output: list[str] | None = None) -> str | None:
        """Run cosign; None on success (its standard output appended to ``output``), else
        the last lines of what it said. No terminal: a key whose password is missing fails
        instead of waiting for a prompt."""
        if shutil.which(self.binary) is None:
            raise EngineError(
                "cosign is not installed", hint="install it (Debian: apt-get install cosign)"
            )
        try:
            result = subprocess.run(
                [self.binary, *arguments],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return f"cosign {arguments[0]} did not finish in {_TIMEOUT} s"
        if result.returncode == 0:
            if output is not None:
                output.append(result.stdout)
            return None
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        return "\n".join(lines[-3:]) or f"cosign {arguments[0]} exited {result.returncode}"


def _statements(output: str) -> tuple[dict[str, object], ...]:
    """The statements of cosign's output: one DSSE envelope per line, payload in base64."""
    found = []
    for line in output.splitlines():
        if not line.strip():
            continue
        try:
            payload = json.loads(base64.b64decode(json.loads(line)["payload"]))
        except (ValueError, KeyError, TypeError):
            continue  # not an envelope cosign wrote: it counts as no attestation
        if isinstance(payload, dict):
            found.append(payload)
    return tuple(found)


def _key_hint(key: str) -> str:
    if "://" in key:
        return f"check that {key} is a key cosign can use and that you may sign with it"
    return "an encrypted key needs its password in $COSIGN_PASSWORD"
