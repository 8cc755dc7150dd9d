"""A redirect to a host *name* that resolves to this machine counts as a redirect to this
machine: the names are resolved (by a fake resolver here, so no test depends on DNS) and
their addresses judged as literal addresses are."""

from __future__ import annotations

import urllib.request
from email.message import Message
from http.client import HTTPMessage
from io import BytesIO

import pytest

from cnbext.sources import uri
from cnbext.sources.download import _CheckedRedirects, _RefusedError
from cnbext.sources.uri import redirect_refusal

REAL_RESOLVE = uri.resolve_host  # before the fake below replaces it
ADDRESSES = {
    "mirror.example": ("93.184.216.34",),
    "cdn.example": ("2606:2800:220:1::1", "93.184.216.35"),
    "rebound.example": ("127.0.0.1",),
    "mixed.example": ("93.184.216.36", "127.0.0.2"),  # any local address is enough
    "v6.example": ("::1",),
    "mapped.example": ("::ffff:127.0.0.1",),
    "nowhere.example": ("0.0.0.0",),
    "scoped.example": ("fe80::1%eth0",),
    "local-mirror.example": ("127.0.0.1",),
}


@pytest.fixture(autouse=True)
def fake_resolver(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    asked: list[str] = []

    def resolve(host: str) -> tuple[str, ...]:
        asked.append(host)
        return ADDRESSES.get(host, ())

    monkeypatch.setattr(uri, "resolve_host", resolve)
    return asked


@pytest.mark.parametrize(
    "name", ["rebound.example", "mixed.example", "v6.example", "mapped.example", "nowhere.example"]
)
def test_a_name_that_resolves_to_this_machine_counts_as_this_machine(
    name: str, fake_resolver: list[str]
) -> None:
    reason = redirect_refusal("https://mirror.example/l.tgz", f"https://{name}:2375/x")
    assert reason is not None and "to this machine (loopback)" in reason
    assert name in fake_resolver


@pytest.mark.parametrize("name", ["cdn.example", "scoped.example", "unresolvable.example"])
def test_names_that_resolve_elsewhere_are_followed(name: str) -> None:
    assert redirect_refusal("https://mirror.example/l.tgz", f"https://{name}/x") is None


def test_a_mirror_named_on_this_machine_may_redirect_on_this_machine() -> None:
    # Both ends are this machine: nothing is reached that the user did not already name.
    assert redirect_refusal("http://local-mirror.example/l.tgz", "http://127.0.0.1/x") is None


def test_the_redirect_handler_refuses_a_name_that_resolves_to_loopback() -> None:
    request = urllib.request.Request("https://mirror.example/l.tgz")
    headers = HTTPMessage()
    assert isinstance(headers, Message)
    with pytest.raises(_RefusedError, match=r"rebound\.example.*to this machine"):
        _CheckedRedirects().redirect_request(
            request, BytesIO(), 302, "Found", headers, "https://rebound.example/l.tgz"
        )


def test_the_real_resolver_finds_this_machine_behind_a_name() -> None:
    # The resolver itself (no fake; localhost is in the hosts file, no DNS is asked).
    addresses = REAL_RESOLVE("localhost")
    assert addresses and all(uri._local_address(a) for a in addresses)
    assert REAL_RESOLVE("") == () and REAL_RESOLVE("bad..name") == ()
