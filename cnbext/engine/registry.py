"""A small OCI distribution API client: manifests, configs, blobs, cross-repository mounts.

Day-2 work (inspect, upgrade --check, rebase) needs digests and manifests, never a pull: going
through the daemon would put images into the user's store and cost a download per check. This
talks to registries directly over HTTP(S) with the user's ``docker login`` credentials
(``~/.docker/config.json``: ``auths``, ``credsStore`` and ``credHelpers``), answering the
registry's ``WWW-Authenticate`` challenge with Basic or a Bearer token, as the docker client does.
Loopback registries are spoken to over plain HTTP (the daemon trusts them the same way).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import IO, Any

from cnbext.cnb.imageref import ImageReference, parse_reference
from cnbext.engine.models import (
    INDEX_TYPES,
    MANIFEST_TYPES,
    Manifest,
    NotFoundError,
    digest_of,
    image_config,
    platform_of,
)
from cnbext.errors import ImageError

ACCEPT = ", ".join(sorted(INDEX_TYPES | MANIFEST_TYPES))
TIMEOUT = 30.0
# Docker Hub: its API answers at registry-1.docker.io, and the docker client keeps its
# credentials under the index's address.
HUB = "docker.io"
HUB_API = "registry-1.docker.io"
HUB_CREDENTIALS = "https://index.docker.io/v1/"
LOOPBACK = re.compile(r"^(localhost|127(\.\d+){3}|\[::1\])(:\d+)?$")
# Registries reached over plain HTTP besides loopback ones, as pack's --insecure-registry and
# a buildkitd.toml's `insecure` entries name them: "host[:port]", comma-separated.
INSECURE_ENV = "CNBEXT_INSECURE_REGISTRIES"


def plain_http(host: str) -> bool:
    """Whether ``host`` is spoken to over plain HTTP: loopback, or named in the env."""
    named = {h.strip() for h in os.environ.get(INSECURE_ENV, "").split(",") if h.strip()}
    return bool(LOOPBACK.match(host)) or host in named


REMEMBERED_BYTES = 1 << 20
# A blob copied between registries is held in memory up to this size, on disk beyond it: a
# layer may be far larger than what a process should keep in memory.
SPOOLED_BYTES = 16 << 20

Body = bytes | IO[bytes]


class Registry:
    """Thread-safe: tokens are cached per (host, scope) behind a lock."""

    def __init__(self, docker_config: Path | None = None) -> None:
        home = os.environ.get("DOCKER_CONFIG") or str(Path.home() / ".docker")
        self._config_path = docker_config or Path(home) / "config.json"
        self._tokens: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()
        # What a digest names never changes: a manifest or config read by digest once in a
        # repository is not read again by this client (an upgrade reads each twice).
        self._by_digest: dict[tuple[str, str, str], bytes] = {}

    # -- reading --------------------------------------------------------------------------------

    def manifest(self, reference: str) -> Manifest:
        """The manifest or index ``reference`` names (tag or digest)."""
        ref = parse_reference(reference)
        target = ref.digest or ref.tag or "latest"
        body = self._by_digest.get((ref.domain, ref.path, target))
        content_type = ""
        if body is None:
            status, headers, body = self._request(
                ref.domain, ref.path, "GET", f"manifests/{target}", headers={"Accept": ACCEPT}
            )
            if status == 404:
                raise NotFoundError(f"{reference} is not in its registry")
            if status != 200:
                raise ImageError(f"cannot read {reference}: registry answered {status}")
            content_type = headers.get("content-type", "")
            if ref.digest is not None and digest_of(body) == ref.digest:
                self._remember(ref.domain, ref.path, ref.digest, body)
        document: dict[str, Any] = json.loads(body)
        media_type = str(document.get("mediaType") or content_type)
        return Manifest(ref.repository, digest_of(body), media_type, body, document)

    def digest(self, reference: str) -> str | None:
        """The digest ``reference`` resolves to now; None when the registry does not have it."""
        try:
            return self.manifest(reference).digest
        except NotFoundError:
            return None

    def blob(self, repository: str, digest: str) -> bytes:
        ref = parse_reference(repository)
        known = self._by_digest.get((ref.domain, ref.path, digest))
        if known is not None:
            return known
        status, _, body = self._request(ref.domain, ref.path, "GET", f"blobs/{digest}")
        if status != 200:
            raise ImageError(f"cannot read blob {digest} of {repository}: {status}")
        if digest_of(body) != digest:
            raise ImageError(f"blob {digest} of {repository} does not match its digest")
        self._remember(ref.domain, ref.path, digest, body)
        return body

    def _remember(self, domain: str, path: str, digest: str, body: bytes) -> None:
        if len(body) <= REMEMBERED_BYTES:  # manifests and configs, not layers
            with self._lock:
                self._by_digest[(domain, path, digest)] = body

    def json_blob(self, repository: str, digest: str) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.blob(repository, digest))
        return value

    def platform_manifests(self, manifest: Manifest) -> dict[str, Manifest]:
        """Per platform (``os/arch``), the image manifest; one entry for a plain manifest
        (keyed by its config's platform). Attestation entries (unknown/unknown) are skipped."""
        if not manifest.is_index:
            config = image_config(self, manifest)
            key = "/".join(
                p
                for p in (config.get("os"), config.get("architecture"), config.get("variant"))
                if p
            )
            return {key: manifest}
        found: dict[str, Manifest] = {}
        for entry in manifest.document.get("manifests", []):
            platform = platform_of(entry)
            if platform in ("", "/", "unknown/unknown"):
                continue
            found[platform] = self.manifest(f"{manifest.repository}@{entry['digest']}")
        return found

    # -- writing --------------------------------------------------------------------------------

    def has_manifest(self, repository: str, digest: str) -> bool:
        ref = parse_reference(repository)
        accept = {"Accept": ACCEPT}
        status, _, _ = self._request(
            ref.domain, ref.path, "HEAD", f"manifests/{digest}", headers=accept, push=True
        )
        return status == 200

    def has_blob(self, repository: str, digest: str) -> bool:
        ref = parse_reference(repository)
        status, _, _ = self._request(ref.domain, ref.path, "HEAD", f"blobs/{digest}", push=True)
        return status == 200

    def ensure_blob(self, repository: str, digest: str, source_repository: str) -> None:
        """Make ``digest`` available in ``repository``: already there, a cross-repository mount
        (same registry, no bytes moved) or, failing that, a copy of the bytes."""
        if self.has_blob(repository, digest):
            return
        ref, source = parse_reference(repository), parse_reference(source_repository)
        if ref.domain == source.domain:
            query = urllib.parse.urlencode({"mount": digest, "from": source.path})
            status, _, _ = self._request(
                ref.domain,
                ref.path,
                "POST",
                f"blobs/uploads/?{query}",
                push=True,
                mount=source.path,
            )
            if status == 201:
                return
        self._copy_blob(repository, digest, source)

    def _copy_blob(self, repository: str, digest: str, source: ImageReference) -> None:
        """The bytes of ``digest`` streamed from ``source``'s registry into ``repository``,
        checked against the digest before they are uploaded."""
        with tempfile.SpooledTemporaryFile(max_size=SPOOLED_BYTES) as spool:
            status, _, _ = self._request(
                source.domain, source.path, "GET", f"blobs/{digest}", sink=spool
            )
            if status != 200:
                raise ImageError(f"cannot read blob {digest} of {source.repository}: {status}")
            spool.seek(0)
            hashed = hashlib.sha256()
            for chunk in iter(lambda: spool.read(1 << 20), b""):
                hashed.update(chunk)
            if f"sha256:{hashed.hexdigest()}" != digest:
                raise ImageError(f"blob {digest} of {source.repository} does not match its digest")
            size = spool.tell()
            spool.seek(0)
            self._upload(repository, digest, spool, size)

    def put_blob(self, repository: str, data: bytes) -> str:
        digest = digest_of(data)
        if not self.has_blob(repository, digest):
            self._upload(repository, digest, data, len(data))
        return digest

    def _upload(self, repository: str, digest: str, data: Body, size: int) -> None:
        """A monolithic upload: start it, then PUT the bytes with their digest."""
        ref = parse_reference(repository)
        status, headers, _ = self._request(
            ref.domain, ref.path, "POST", "blobs/uploads/", push=True
        )
        if status != 202 or "location" not in headers:
            raise ImageError(f"cannot start an upload to {repository}: {status}")
        location = headers["location"]
        sep = "&" if "?" in location else "?"
        status, _, _ = self._request(
            ref.domain,
            ref.path,
            "PUT",
            f"{location}{sep}digest={urllib.parse.quote(digest)}",
            body=data,
            headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
            push=True,
        )
        if status != 201:
            raise ImageError(f"cannot upload a blob to {repository}: {status}")

    def put_manifest(self, repository: str, target: str, raw: bytes, media_type: str) -> str:
        """Store a manifest under a tag or its digest; returns its digest."""
        self.store_manifest(repository, target, raw, media_type)
        return digest_of(raw)

    def store_manifest(
        self, repository: str, target: str, raw: bytes, media_type: str
    ) -> str | None:
        """Store a manifest under a tag or its digest; the digest the registry says it stored
        (``Docker-Content-Digest``), None when it does not say."""
        ref = parse_reference(repository)
        status, headers, body = self._request(
            ref.domain,
            ref.path,
            "PUT",
            f"manifests/{target}",
            body=raw,
            headers={"Content-Type": media_type},
            push=True,
        )
        if status not in (200, 201):
            detail = body.decode("utf-8", "replace")[:300]
            raise ImageError(f"cannot store a manifest in {repository}: {status} {detail}")
        return headers.get("docker-content-digest")

    # -- HTTP and auth --------------------------------------------------------------------------

    def _request(
        self,
        host: str,
        path: str,
        method: str,
        what: str,
        *,
        body: Body | None = None,
        headers: dict[str, str] | None = None,
        push: bool = False,
        mount: str | None = None,
        sink: IO[bytes] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        scheme = "http" if plain_http(host) else "https"
        api = HUB_API if host == HUB else host
        url = what if what.startswith("http") else f"{scheme}://{api}/v2/{path}/{what}"
        if what.startswith("/"):
            url = f"{scheme}://{api}{what}"
        scope = f"repository:{path}:{'pull,push' if push else 'pull'}"
        if mount:
            scope += f" repository:{mount}:pull"
        token = self._tokens.get((host, scope))
        result = self._send(url, method, body, headers, token, sink)
        if result[0] == 401:
            challenge = result[1].get("www-authenticate", "")
            token = self._authorize(host, challenge, scope)
            if not isinstance(body, bytes | None):
                body.seek(0)  # the refused attempt may have sent some of it
            result = self._send(url, method, body, headers, token, sink)
            if result[0] == 401:
                raise ImageError(
                    f"{host} refused the credentials for {path}",
                    hint=f"run `docker login {host}`",
                )
        return result

    def _send(
        self,
        url: str,
        method: str,
        body: Body | None,
        headers: dict[str, str] | None,
        authorization: str | None,
        sink: IO[bytes] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        """One request (through $HTTPS_PROXY / $NO_PROXY, as urllib reads them); a 200
        answer's body goes to ``sink`` when given."""
        request = urllib.request.Request(url, data=body, method=method, headers=dict(headers or {}))
        if authorization:
            # Not sent on to where a registry redirects (blob storage that signs its URLs).
            request.add_unredirected_header("Authorization", authorization)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                if sink is not None and response.status == 200:
                    shutil.copyfileobj(response, sink, 1 << 20)
                    return response.status, _lower(response.headers), b""
                return response.status, _lower(response.headers), response.read()
        except urllib.error.HTTPError as err:
            return err.code, _lower(err.headers), err.read()
        except (urllib.error.URLError, OSError) as err:
            host = urllib.parse.urlsplit(url).netloc
            raise ImageError(f"cannot reach the registry {host}: {err}") from None

    def _authorize(self, host: str, challenge: str, scope: str) -> str | None:
        kind, _, params_text = challenge.partition(" ")
        user, secret = self.credentials(host)
        if kind.lower() == "basic":
            if user is None:
                return None
            raw = base64.b64encode(f"{user}:{secret}".encode()).decode()
            value = f"Basic {raw}"
        elif kind.lower() == "bearer":
            value = f"Bearer {self._token(challenge_params(params_text), scope, user, secret)}"
        else:
            return None
        with self._lock:
            self._tokens[(host, scope)] = value
        return value

    def _token(self, params: dict[str, str], scope: str, user: str | None, secret: str) -> str:
        query = {"scope": scope.split(" ")}
        if "service" in params:
            query["service"] = [params["service"]]
        url = params.get("realm", "") + "?" + urllib.parse.urlencode(query, doseq=True)
        basic = None
        if user is not None:
            basic = "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()
        status, _, body = self._send(url, "GET", None, None, basic)
        if status != 200:
            raise ImageError(f"the token service {params.get('realm')} answered {status}")
        answer = json.loads(body)
        return str(answer.get("token") or answer.get("access_token") or "")

    def credentials(self, host: str) -> tuple[str | None, str]:
        """(user, secret) from the docker client's config for ``host``; (None, "") if none."""
        try:
            config = json.loads(self._config_path.read_text())
        except (OSError, ValueError):
            return None, ""
        server = HUB_CREDENTIALS if host == HUB else host
        helper = (config.get("credHelpers") or {}).get(server) or config.get("credsStore")
        if helper:
            found = _from_helper(str(helper), server)
            if found[0] is not None:
                return found
        entry = (config.get("auths") or {}).get(server) or {}
        if entry.get("auth"):
            user, _, secret = base64.b64decode(entry["auth"]).decode().partition(":")
            return user, secret
        if entry.get("username"):
            return str(entry["username"]), str(entry.get("password", ""))
        return None, ""


def challenge_params(text: str) -> dict[str, str]:
    return {k: v for k, v in re.findall(r'(\w+)="([^"]*)"', text)}


def _from_helper(helper: str, host: str) -> tuple[str | None, str]:
    try:
        result = subprocess.run(
            [f"docker-credential-{helper}", "get"],
            input=host,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None, ""
    if result.returncode != 0:
        return None, ""
    answer = json.loads(result.stdout)
    return str(answer.get("Username")), str(answer.get("Secret", ""))


def _lower(headers: Any) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in (headers or {}).items()}
