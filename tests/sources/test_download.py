"""cnbext.sources.download against a real loopback HTTP server that misbehaves on purpose:
dripping, lying about lengths, answering HTML, serving the wrong bytes, wanting a password."""

from __future__ import annotations

import base64
import hashlib
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from cnbext.errors import ExitCode, UsageError
from cnbext.sources.modules import ModuleError, fetch_modules
from cnbext.sources.uri import http_refusal, redact_url
from tests.fixtures.buildpacks import make_buildpack_archive, write_buildpack
from tests.fixtures.http_server import send_bytes, serve_routes

pytestmark = pytest.mark.usefixtures("no_proxy")


@pytest.fixture
def archive(tmp_path: Path) -> bytes:
    root = write_buildpack(tmp_path / "hello", "example/hello", "0.0.1")
    return make_buildpack_archive(root, tmp_path / "hello.tgz").read_bytes()


def fetch(url: str, tmp_path: Path, **options: object) -> list[object]:
    return fetch_modules(  # type: ignore[return-value]
        url,
        kind="buildpack",
        base_dir=tmp_path,
        work_dir=tmp_path / "work",
        cache_dir=tmp_path / "cache",
        **options,  # type: ignore[arg-type]
    )


def cached_files(tmp_path: Path) -> list[Path]:
    return [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]


def test_a_slow_drip_hits_the_overall_deadline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, archive: bytes
) -> None:
    def drip(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(archive)))
        handler.end_headers()
        for byte in archive:  # each read returns at once, so no per-read timeout fires
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()
            time.sleep(0.05)

    monkeypatch.setenv("CNBEXT_DOWNLOAD_TIMEOUT", "0.3")
    with serve_routes({"/hello.tgz": drip}) as server, pytest.raises(ModuleError) as caught:
        fetch(f"{server.base_url}/hello.tgz", tmp_path)

    assert "not complete within 0.3 s (set CNBEXT_DOWNLOAD_TIMEOUT" in caught.value.message
    assert cached_files(tmp_path) == []


def test_no_content_length_is_read_to_the_end_and_cached(tmp_path: Path, archive: bytes) -> None:
    routes = {"/hello.tgz": send_bytes(archive, length=False)}
    with serve_routes(routes) as server:
        first = fetch(f"{server.base_url}/hello.tgz", tmp_path)
        fetch(f"{server.base_url}/hello.tgz", tmp_path)

    assert len(first) == 1
    assert server.hits["/hello.tgz"] == 1
    assert [p.name for p in cached_files(tmp_path)] == ["hello.tgz"]


def test_no_content_length_and_cut_short_is_not_cached(tmp_path: Path, archive: bytes) -> None:
    routes = {"/hello.tgz": send_bytes(archive[: len(archive) // 2], length=False)}
    with serve_routes(routes) as server, pytest.raises(ModuleError) as caught:
        fetch(f"{server.base_url}/hello.tgz", tmp_path)

    assert "not a readable tar archive" in caught.value.message
    assert cached_files(tmp_path) == []


def test_a_size_over_the_cap_is_refused_while_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, archive: bytes
) -> None:
    monkeypatch.setenv("CNBEXT_DOWNLOAD_MAX_BYTES", "100")
    routes = {"/hello.tgz": send_bytes(archive, length=False)}
    with serve_routes(routes) as server, pytest.raises(ModuleError) as caught:
        fetch(f"{server.base_url}/hello.tgz", tmp_path)

    assert "larger than 100 bytes (set CNBEXT_DOWNLOAD_MAX_BYTES" in caught.value.message
    assert cached_files(tmp_path) == []


def test_an_html_page_answered_with_200_is_never_cached(tmp_path: Path, archive: bytes) -> None:
    page = b"<html><body>Please log in</body></html>"
    routes = {
        "/html.tgz": send_bytes(page, content_type="text/html; charset=utf-8"),
        "/lying.tgz": send_bytes(page),  # no HTML type: the archive check still refuses it
    }
    with serve_routes(routes) as server:
        with pytest.raises(ModuleError) as html:
            fetch(f"{server.base_url}/html.tgz", tmp_path)
        with pytest.raises(ModuleError) as lying:
            fetch(f"{server.base_url}/lying.tgz", tmp_path)
        # Once the server is fixed, the next run works: nothing bad was cached.
        routes["/lying.tgz"] = send_bytes(archive)
        assert len(fetch(f"{server.base_url}/lying.tgz", tmp_path)) == 1

    assert "answered with a web page (text/html)" in html.value.message
    assert "not a readable tar archive" in lying.value.message


def test_a_wrong_sha256_is_refused_and_not_cached(tmp_path: Path, archive: bytes) -> None:
    wrong = "0" * 64
    with serve_routes({"/hello.tgz": send_bytes(archive)}) as server:
        with pytest.raises(ModuleError) as caught:
            fetch(f"{server.base_url}/hello.tgz", tmp_path, sha256=wrong)
        right = hashlib.sha256(archive).hexdigest()
        assert len(fetch(f"{server.base_url}/hello.tgz", tmp_path, sha256=right)) == 1

    assert f"its sha256 is {right}, but {wrong} was expected" in caught.value.message
    assert caught.value.exit_code == ExitCode.CONFIG


def test_a_cached_file_changed_on_disk_is_removed_and_named(tmp_path: Path, archive: bytes) -> None:
    with serve_routes({"/hello.tgz": send_bytes(archive)}) as server:
        url = f"{server.base_url}/hello.tgz"
        fetch(url, tmp_path)
        [cached] = cached_files(tmp_path)
        cached.write_bytes(b"\x1f\x8b" + b"rot" * 50)
        with pytest.raises(ModuleError) as caught:
            fetch(url, tmp_path)
        assert not cached.exists()
        assert len(fetch(url, tmp_path)) == 1  # fetched afresh

    assert f"the cached download {cached} was removed" in caught.value.message


def test_credentials_in_the_url_are_sent_but_never_shown(tmp_path: Path, archive: bytes) -> None:
    seen: list[str | None] = []

    def guarded(handler: BaseHTTPRequestHandler) -> None:
        seen.append(handler.headers.get("Authorization"))
        handler.send_error(403)

    with serve_routes({"/hello.tgz": guarded}) as server:
        url = server.base_url.replace("http://", "http://robot:s3cret%21@") + "/hello.tgz"
        with pytest.raises(ModuleError) as caught:
            fetch(url, tmp_path)

    assert seen == ["Basic " + base64.b64encode(b"robot:s3cret!").decode()]
    assert "s3cret" not in caught.value.message and "robot" not in caught.value.message
    assert "http://***@127.0.0.1:" in caught.value.message
    assert all("s3cret" not in p.as_posix() for p in (tmp_path / "cache").rglob("*"))


def test_a_redirect_does_not_carry_the_password_to_another_host(
    tmp_path: Path, archive: bytes
) -> None:
    seen: list[str | None] = []

    def moved(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(302)
        # Another host name for this machine: the credentials were for 127.0.0.1 only.
        handler.send_header("Location", f"http://localhost:{handler.connection.getsockname()[1]}/x")
        handler.end_headers()

    def target(handler: BaseHTTPRequestHandler) -> None:
        seen.append(handler.headers.get("Authorization"))
        send_bytes(archive)(handler)

    with serve_routes({"/hello.tgz": moved, "/x": target}) as server:
        url = server.base_url.replace("http://", "http://robot:s3cret@") + "/hello.tgz"
        assert len(fetch(url, tmp_path)) == 1

    assert seen == [None]


def test_plain_http_needs_an_opt_in_except_on_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CNBEXT_ALLOW_HTTP", raising=False)
    assert http_refusal("http://127.0.0.1:8080/x.tgz") is None
    assert http_refusal("http://[::1]/x.tgz") is None
    assert http_refusal("http://localhost/x.tgz") is None
    assert http_refusal("https://example.com/x.tgz") is None
    refusal = http_refusal("http://example.com/x.tgz")
    assert refusal is not None and "CNBEXT_ALLOW_HTTP=1" in refusal
    monkeypatch.setenv("CNBEXT_ALLOW_HTTP", "1")
    assert http_refusal("http://example.com/x.tgz") is None


def test_plain_http_to_another_host_is_refused_before_any_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CNBEXT_ALLOW_HTTP", raising=False)
    # 192.0.2.0/24 is reserved for documentation: nothing answers there, and nothing is asked.
    with pytest.raises(ModuleError) as caught:
        fetch("http://user:pw@192.0.2.1/x.tgz", tmp_path)
    assert "plain http:// downloads can be read and changed" in caught.value.message
    assert "pw" not in caught.value.message


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "0", "soon"])
def test_limit_knobs_must_be_positive_finite_numbers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("CNBEXT_DOWNLOAD_TIMEOUT", value)
    with pytest.raises(UsageError, match="CNBEXT_DOWNLOAD_TIMEOUT"):
        fetch("http://127.0.0.1:9/x.tgz", tmp_path)


def test_redact_url_strips_userinfo_anywhere_in_a_text() -> None:
    text = "could not fetch https://u:p@h.example/x and docker://r/i and http://tok@h/y"
    assert redact_url(text) == (
        "could not fetch https://***@h.example/x and docker://r/i and http://***@h/y"
    )


def test_a_local_archive_is_checked_against_its_pin(tmp_path: Path, archive: bytes) -> None:
    (tmp_path / "hello.tgz").write_bytes(archive)
    right = hashlib.sha256(archive).hexdigest()
    assert len(fetch(str(tmp_path / "hello.tgz"), tmp_path, sha256=right)) == 1
    with pytest.raises(ModuleError, match=f"but {'0' * 64} was expected"):
        fetch(str(tmp_path / "hello.tgz"), tmp_path, sha256="0" * 64)


def test_a_folder_cannot_be_pinned(tmp_path: Path) -> None:
    folder = write_buildpack(tmp_path / "bp", "example/hello", "0.0.1")
    with pytest.raises(ModuleError, match="sha256 applies to archives and downloads"):
        fetch(str(folder), tmp_path, sha256="0" * 64)
