"""One redaction for every uri cnbext prints: '@' in passwords, linear time, image refs kept."""

from __future__ import annotations

import time

import pytest

from cnbext.cnb.provenance import safe_uri
from cnbext.sources.redaction import redact_document, redact_url


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("https://user:p@ss-TOKEN@host/x", "https://***@host/x"),
        ("https://u:tok@host:8443/a?b=c@d", "https://***@host:8443/a?b=c@d"),
        ("fetching 'http://a:b@127.0.0.1/x' failed", "fetching 'http://***@127.0.0.1/x' failed"),
        ("two: https://a:b@h/ and https://c:d@k", "two: https://***@h/ and https://***@k"),
        ('{"uri": "https://u:p@h/x"}', '{"uri": "https://***@h/x"}'),
        ("https://host/path@x", "https://host/path@x"),
        ("docker://repo@sha256:abc", "docker://repo@sha256:abc"),
        ("oci-layout:///tmp/x@sha256:abc", "oci-layout:///tmp/x@sha256:abc"),
        ("xdocker://u:p@h", "xdocker://***@h"),
        ("no url here @ all", "no url here @ all"),
    ],
)
def test_userinfo_is_masked_up_to_the_last_at(text: str, shown: str) -> None:
    assert redact_url(text) == shown


@pytest.mark.parametrize(
    "hostile",
    [
        "a" * 1_048_576,
        "https://" + "a" * 1_048_576,
        "://" * 350_000,
        "https://" + "@" * 1_048_576,
        "http://a@" * 110_000,
        "Location: https://" + "u:" * 500_000 + "@h",
    ],
    ids=["letters", "long-authority", "many-marks", "many-ats", "many-urls", "location"],
)
def test_a_megabyte_of_hostile_text_is_redacted_at_once(hostile: str) -> None:
    # A quadratic pass takes minutes on a megabyte; a linear one, milliseconds.
    started = time.monotonic()
    redact_url(hostile)
    assert time.monotonic() - started < 2


def test_documents_are_redacted_in_every_string() -> None:
    document = {"error": "https://u:p@h/x", "problems": ["ftp://a:b@c"], "n": 1, "ok": None}
    assert redact_document(document) == {
        "error": "https://***@h/x",
        "problems": ["ftp://***@c"],
        "n": 1,
        "ok": None,
    }


@pytest.mark.parametrize(
    ("uri", "recorded"),
    [
        ("https://user:p@ss-TOKEN@host/l.tgz?X-Sig=secret#f", "https://host/l.tgz"),
        ("https://h:99999/x?token=1", "https://h:99999/x"),
    ],
)
def test_a_recorded_uri_loses_userinfo_query_and_fragment(uri: str, recorded: str) -> None:
    assert safe_uri(uri) == recorded
