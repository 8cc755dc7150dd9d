"""Builder input URIs, classified once for modules and the lifecycle alike.

pack accepts a path, ``file://``, ``http(s)://`` and ``docker://`` for buildpacks, extensions
and the lifecycle; one function decides which, so the two cannot drift apart.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cnbext.errors import CnbextError

# Re-exported: the source modules take it with the URI forms.
from cnbext.sources.redaction import redact_url as redact_url


@dataclass(frozen=True)
class ResolvedUri:
    """A builder.toml uri, classified: a local path, an http(s) URL or a docker image."""

    scheme: Literal["path", "http", "docker"]
    location: str  # an absolute path, the URL, or the image reference


def resolve_uri(uri: str, *, base_dir: Path, error_type: type[CnbextError]) -> ResolvedUri:
    """Classify ``uri`` as pack does; relative paths are taken against ``base_dir``."""
    if not uri.strip():
        raise error_type("an empty uri was given", hint="give a path, URL or docker://image")
    lowered = uri.lower()
    if lowered.startswith("docker:"):
        image = uri[len("docker:") :].lstrip("/")
        if not image:
            raise error_type(f"{uri}: no image named", hint="write docker://registry/repo:tag")
        return ResolvedUri("docker", image)
    if lowered.startswith(("http://", "https://")):
        return ResolvedUri("http", uri)
    if lowered.startswith("file:"):
        parsed = urllib.parse.urlparse(uri)
        local = urllib.request.url2pathname(parsed.path)
        if parsed.netloc in ("", "localhost"):
            return ResolvedUri("path", str(base_dir.absolute() / local))  # `/` keeps absolute
        # pack's docs write relative files as file://path/to/x.tgz; a URL parser reads `path`
        # as a host name, so it is put back in front and the whole is taken as relative.
        return ResolvedUri("path", str(base_dir.absolute() / (parsed.netloc + local)))
    if "://" in uri:
        scheme = uri.split("://", 1)[0]
        raise error_type(
            f"{uri}: the {scheme}:// scheme is not supported",
            hint="use a path, file://, http(s):// or docker://",
        )
    path = Path(uri)
    return ResolvedUri("path", str(path if path.is_absolute() else base_dir.absolute() / path))


ALLOW_HTTP_ENV = "CNBEXT_ALLOW_HTTP"


def split_credentials(url: str) -> tuple[str, str | None]:
    """``url`` without its ``user:password@``, and that userinfo (decoded), if any."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    user = urllib.parse.unquote(parts.username or "")
    password = urllib.parse.unquote(parts.password or "")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc)), f"{user}:{password}"


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def http_refusal(url: str) -> str | None:
    """Why ``url`` may not be downloaded from, or None: plain http is readable and changeable
    on the way, so it needs an opt-in, except on this machine (mirrors, tests)."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "https":
        return None
    if scheme != "http":
        return f"the {scheme}:// scheme is not supported"
    if is_loopback(parts.hostname or "") or os.environ.get(ALLOW_HTTP_ENV) == "1":
        return None
    return (
        "plain http:// downloads can be read and changed by anyone on the way; use https://, "
        f"or set {ALLOW_HTTP_ENV}=1 to allow http:// (a pinned sha256 is then advised)"
    )


def redirect_refusal(old_url: str, new_url: str) -> str | None:
    """Why a redirect from ``old_url`` to ``new_url`` is not followed, or None. Each URL
    may be allowed on its own (a loopback http mirror is), but a redirect must not downgrade
    https to http, nor lead a download from another host to this machine's own services."""
    old, new = urllib.parse.urlsplit(old_url), urllib.parse.urlsplit(new_url)
    if old.scheme.lower() == "https" and new.scheme.lower() != "https":
        return "a redirect from https:// to plain http:// is never followed"
    if not _this_machine(old.hostname or "") and _this_machine(new.hostname or ""):
        return "a redirect from another host to this machine (loopback) is never followed"
    return None


def _this_machine(host: str) -> bool:
    """Loopback, or the unspecified address (0.0.0.0 and :: connect to this machine too); a
    name counts when any address it resolves to does (a public name can point at 127.0.0.1)."""
    if is_loopback(host):
        return True
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        pass  # a name: judged by what it resolves to
    return any(_local_address(address) for address in resolve_host(host))


def _local_address(address: str) -> bool:
    try:
        parsed = ipaddress.ip_address(address.split("%", 1)[0])  # fe80::1%eth0
    except ValueError:
        return False
    mapped = getattr(parsed, "ipv4_mapped", None)  # ::ffff:127.0.0.1
    return any(a.is_loopback or a.is_unspecified for a in (parsed, mapped) if a is not None)


def resolve_host(host: str) -> tuple[str, ...]:
    """The addresses ``host`` resolves to; none when it does not resolve (the connection then
    fails on its own)."""
    if not host:
        return ()
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return ()
    return tuple(str(info[4][0]) for info in infos)
