"""Downloads of builder inputs, cached by URL.

Downloads are written to a temporary name and renamed, so an interrupted download is never
mistaken for a complete one, and a second run works offline.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from cnbext.errors import CnbextError

DOWNLOAD_TIMEOUT_SECONDS = 60.0


def download_to_cache(
    url: str,
    cache_dir: Path,
    *,
    error_type: type[CnbextError],
    hint: str,
    subject: str | None = None,
) -> Path:
    """The file at ``url``, downloaded once into ``cache_dir`` (keyed by the URL's sha256)."""
    key = hashlib.sha256(url.encode("utf-8")).hexdigest()
    folder = cache_dir / key
    # The URL's file name is kept so the cached file still says what it is.
    base = urllib.parse.unquote(urllib.parse.urlparse(url).path.rsplit("/", 1)[-1])
    cached = folder / (re.sub(r"[^A-Za-z0-9._+-]", "_", base).lstrip(".") or "download")
    if cached.is_file():  # only complete downloads are ever renamed to this name
        return cached
    folder.mkdir(parents=True, exist_ok=True)
    handle, partial_name = tempfile.mkstemp(prefix=".partial-", dir=folder)
    partial = Path(partial_name)
    reason: str | None = None
    try:
        with (
            os.fdopen(handle, "wb") as out,
            urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_SECONDS) as response,
        ):
            expected = response.headers.get("Content-Length")
            received = 0
            while chunk := response.read(1 << 20):
                out.write(chunk)
                received += len(chunk)
        if expected is not None and expected.isdigit() and received != int(expected):
            reason = f"the download was cut short ({received} of {expected} bytes)"
        else:
            partial.replace(cached)
    except urllib.error.HTTPError as err:
        reason = f"HTTP {err.code} {err.reason}"
        err.close()
    except urllib.error.URLError as err:
        reason = _describe_reason(err.reason)
    except (http.client.HTTPException, OSError) as err:
        reason = _describe_reason(err)
    finally:
        partial.unlink(missing_ok=True)
    if reason is not None:
        prefix = f"{subject}: " if subject else ""
        raise error_type(f"{prefix}could not fetch {url}: {reason}", hint=hint)
    return cached


def _describe_reason(reason: object) -> str:
    if isinstance(reason, TimeoutError):
        return f"no answer within {DOWNLOAD_TIMEOUT_SECONDS:.0f} s"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror.lower()
    return str(reason) or type(reason).__name__
