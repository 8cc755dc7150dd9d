"""Downloads of builder inputs: checked before they are cached, cached by URL.

A download is hostile until proven otherwise. It must arrive within an overall deadline (a
server dripping one byte a second never trips a per-read timeout) and a size cap; it must match
its ``sha256`` when one is given (or the checksum file published next to it, for lifecycle
releases); and it must be a readable archive within the archive limits, so an HTML login page
answered with ``200`` is never cached. Only then is it renamed into the cache, so a later run
never sees a partial or refused file. Plain ``http://`` needs an explicit opt-in, loopback
hosts excepted (local mirrors, tests). Credentials in a URL are sent as a header to that host
only, never to a host it redirects to, and never printed.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import os
import re
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from cnbext.errors import CnbextError, UsageError
from cnbext.sources.archive import CORRUPT, open_tar
from cnbext.sources.deadline import (
    Deadline,
    DeadlineError,
    deadline_handlers,
)
from cnbext.sources.limits import (
    DEFAULT_DOWNLOAD_MAX_BYTES,
    DEFAULT_DOWNLOAD_TIMEOUT,
    DOWNLOAD_MAX_BYTES_ENV,
    DOWNLOAD_TIMEOUT_ENV,
    env_number,
)
from cnbext.sources.tar_walk import walk_members
from cnbext.sources.uri import (
    ALLOW_HTTP_ENV,
    http_refusal,
    redact_url,
    redirect_refusal,
    split_credentials,
)

READ_TIMEOUT_SECONDS = 60.0  # a server silent this long is gone, whatever the deadline says
_SHA256 = re.compile(r"[a-f0-9]{64}")
_CHECKSUM_FILE_BYTES = 4096


class _RefusedError(Exception):
    """Why a download is refused, in words for the user."""


def valid_sha256(value: str) -> bool:
    return _SHA256.fullmatch(value) is not None


def download_to_cache(
    url: str,
    cache_dir: Path,
    *,
    error_type: type[CnbextError],
    hint: str,
    subject: str | None = None,
    sha256: str | None = None,
    checksum_url: str | None = None,
) -> Path:
    """The file at ``url``, downloaded once into ``cache_dir`` (keyed by the URL's sha256).

    ``sha256``: the file must have this digest. ``checksum_url``: where a ``<hex>  <name>``
    checksum file may be published; used when there is no ``sha256`` and the server has one.
    """
    shown = redact_url(url)
    prefix = f"{subject}: " if subject else ""
    cached = _cache_path(cache_dir, shown)
    deadline = env_number(DOWNLOAD_TIMEOUT_ENV, DEFAULT_DOWNLOAD_TIMEOUT)
    max_bytes = int(env_number(DOWNLOAD_MAX_BYTES_ENV, DEFAULT_DOWNLOAD_MAX_BYTES, integer=True))
    if cached.is_file() and (sha256 is None or file_sha256(cached) == sha256):
        return cached  # only complete, checked downloads are ever renamed to this name
    try:
        with Deadline(deadline) as clock:
            expected = sha256 or (checksum_url and _published_checksum(checksum_url, clock))
            partial = _fetch(url, cached.parent, clock, max_bytes)
        try:
            _check(partial, shown, expected or None, error_type, hint)
            partial.replace(cached)
        finally:
            partial.unlink(missing_ok=True)
    except (_RefusedError, DeadlineError) as err:
        raise error_type(f"{prefix}could not fetch {shown}: {err}", hint=hint) from None
    except UsageError:
        raise  # a limit knob set wrong is the user's to fix, not the download's
    except CnbextError as err:
        raise error_type(f"{prefix}{err.message}", hint=err.hint or hint) from None
    return cached


def verify_pin(
    uri: str, scheme: str, location: str, sha256: str | None, error_type: type[CnbextError]
) -> None:
    """A ``sha256`` pins archives and downloads (downloads are checked as they arrive); a local
    archive is hashed here, and a folder or image cannot be pinned this way."""
    if sha256 is None or scheme == "http":
        return
    path = Path(location)
    if scheme == "docker" or path.is_dir():
        raise error_type(
            f"{uri}: sha256 applies to archives and downloads, not to folders or images",
            hint="pin an image by digest (docker://repo@sha256:...) instead",
        )
    if path.is_file() and (actual := file_sha256(path)) != sha256:
        raise error_type(
            f"{uri}: its sha256 is {actual}, but {sha256} was expected",
            hint="check that the archive is the one you meant, then update its sha256",
        )


def _cache_path(cache_dir: Path, shown: str) -> Path:
    key = hashlib.sha256(shown.encode("utf-8")).hexdigest()
    # The URL's file name is kept so the cached file still says what it is.
    base = urllib.parse.unquote(urllib.parse.urlparse(shown).path.rsplit("/", 1)[-1])
    return cache_dir / key / (re.sub(r"[^A-Za-z0-9._+-]", "_", base).lstrip(".") or "download")


def _check(
    partial: Path, shown: str, sha256: str | None, error_type: type[CnbextError], hint: str
) -> None:
    if sha256 is not None:
        actual = file_sha256(partial)
        if actual != sha256:
            raise _RefusedError(f"its sha256 is {actual}, but {sha256} was expected")
    check_tar(partial, shown, error_type, hint=hint)


def check_tar(path: Path, source: str, error_type: type[CnbextError], *, hint: str) -> None:
    """Read every member of the archive at ``path`` to its end, within the limits, writing
    nothing: a download is checked so before it may enter the cache."""
    with open_tar(path, source, error_type, hint=hint) as tar:
        try:
            for member in walk_members(tar, source, error_type):
                handle = tar.extractfile(member) if member.isreg() else None
                if handle is not None:
                    with handle:
                        while handle.read(1 << 20):
                            pass
        except CORRUPT as err:
            raise error_type(f"{source}: not a readable tar archive ({err})", hint=hint) from err


@contextmanager
def evict_on_error(path: Path, error_type: type[CnbextError]) -> Iterator[None]:
    """Remove a cached download that fails to read, and say so: otherwise every later run
    would fail on the same broken file, even after the server was fixed."""
    try:
        yield
    except CnbextError as err:
        path.unlink(missing_ok=True)
        raise error_type(
            f"{err.message} (the cached download {path} was removed; run again to fetch it afresh)",
            hint=err.hint,
        ) from None


def _fetch(url: str, folder: Path, clock: Deadline, max_bytes: int) -> Path:
    """Download ``url`` into a temporary file in ``folder`` within the deadline and cap."""
    folder.mkdir(parents=True, exist_ok=True)
    handle, partial_name = tempfile.mkstemp(prefix=".partial-", dir=folder)
    partial = Path(partial_name)
    try:
        with os.fdopen(handle, "wb") as out, _open(url, clock) as response:
            _refuse_html(response)
            length = response.headers.get("Content-Length")
            if length is not None and length.isdigit() and int(length) > max_bytes:
                raise _RefusedError(_too_large(max_bytes))
            received = 0
            while chunk := _read(response, clock):
                received += len(chunk)
                if received > max_bytes:
                    raise _RefusedError(_too_large(max_bytes))
                out.write(chunk)
        if length is not None and length.isdigit() and received != int(length):
            raise _RefusedError(f"the download was cut short ({received} of {length} bytes)")
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return partial


def _read(response: http.client.HTTPResponse, clock: Deadline) -> bytes:
    """The next chunk; a socket the deadline shut reads as an error, never as a clean end."""
    try:
        chunk = response.read1(1 << 16)
    except (http.client.HTTPException, OSError, ValueError) as err:
        clock.check()
        raise _RefusedError(_describe(err)) from None
    clock.check()
    return chunk


@contextmanager
def _open(url: str, clock: Deadline) -> Iterator[http.client.HTTPResponse]:
    clean, credentials = split_credentials(url)
    refusal = http_refusal(clean)
    if refusal is not None:
        raise _RefusedError(refusal)
    request = urllib.request.Request(clean)
    if credentials is not None:
        token = base64.b64encode(credentials.encode("utf-8")).decode("ascii")
        # Unredirected: a redirect to another host must not carry the password along.
        request.add_unredirected_header("Authorization", f"Basic {token}")
    opener = urllib.request.build_opener(_CheckedRedirects, *deadline_handlers(clock))
    try:
        timeout = max(0.001, min(READ_TIMEOUT_SECONDS, clock.remaining()))
        with opener.open(request, timeout=timeout) as response:
            yield response
    except urllib.error.HTTPError as err:
        err.close()
        raise _RefusedError(f"HTTP {err.code} {err.reason}") from None
    except urllib.error.URLError as err:
        clock.check()
        raise _RefusedError(_describe(err.reason)) from None
    except (http.client.HTTPException, OSError) as err:
        clock.check()
        raise _RefusedError(_describe(err)) from None


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    """Redirects are followed only to URLs cnbext would download from directly."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: http.client.HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        refusal = http_refusal(newurl) or redirect_refusal(req.full_url, newurl)
        if refusal is not None:
            raise _RefusedError(f"redirected to {redact_url(newurl)}: {refusal}")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _refuse_html(response: http.client.HTTPResponse) -> None:
    content_type = (response.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if content_type in ("text/html", "application/xhtml+xml"):
        raise _RefusedError(
            f"the server answered with a web page ({content_type}), not a file: a login page "
            "or an error page?"
        )


def _published_checksum(url: str, clock: Deadline) -> str | None:
    """The sha256 in a checksum file next to a release, or None when none is served. It is
    read under the download's own deadline: a server dripping it cannot outlast that."""
    try:
        with _open(url, clock) as response:
            text = response.read(_CHECKSUM_FILE_BYTES).decode("ascii", "replace")
        clock.check()
    except (http.client.HTTPException, OSError, ValueError):
        clock.check()
        return None
    except _RefusedError:
        clock.check()
        return None  # not every mirror publishes checksums; a pinned sha256 still works
    return checksum_in(text)


def checksum_in(text: str) -> str | None:
    """The sha256 a checksum file names: ``sha256sum``'s ``<hex>  <name>``, or the
    ``<name>  <hex>`` some release pipelines write; None when no word is a sha256."""
    return next((word for word in text.lower().split() if valid_sha256(word)), None)


def _too_large(max_bytes: int) -> str:
    return f"larger than {max_bytes} bytes (set {DOWNLOAD_MAX_BYTES_ENV} to allow more)"


def _describe(reason: object) -> str:
    if isinstance(reason, TimeoutError):
        return f"no answer within {READ_TIMEOUT_SECONDS:.0f} s"
    if isinstance(reason, _RefusedError):
        return str(reason)
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror.lower()
    return str(reason) or type(reason).__name__


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


__all__ = [
    "ALLOW_HTTP_ENV",
    "checksum_in",
    "download_to_cache",
    "evict_on_error",
    "file_sha256",
    "valid_sha256",
    "verify_pin",
]
