"""Tests for cnbext.cnb.imageref, cases mirroring distribution/reference's own test tables."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from cnbext.cnb.imageref import ImageReference, InvalidReferenceError, parse_reference

HEX = "9b2a0f6c" * 8  # 64 lowercase hex digits
DIGEST = f"sha256:{HEX}"

# input, str(), familiar, domain, path, tag, digest
VALID: list[tuple[str, str, str, str, str, str | None, str | None]] = [
    (
        "localhost:5000/fixtures/debian:bookworm",
        "localhost:5000/fixtures/debian:bookworm",
        "localhost:5000/fixtures/debian:bookworm",
        "localhost:5000",
        "fixtures/debian",
        "bookworm",
        None,
    ),
    (
        "ubuntu",
        "docker.io/library/ubuntu:latest",
        "ubuntu:latest",
        "docker.io",
        "library/ubuntu",
        None,
        None,
    ),
    (
        "library/ubuntu:22.04",
        "docker.io/library/ubuntu:22.04",
        "ubuntu:22.04",
        "docker.io",
        "library/ubuntu",
        "22.04",
        None,
    ),
    (
        "gcr.io/paketo-buildpacks/builder-jammy-base",
        "gcr.io/paketo-buildpacks/builder-jammy-base:latest",
        "gcr.io/paketo-buildpacks/builder-jammy-base:latest",
        "gcr.io",
        "paketo-buildpacks/builder-jammy-base",
        None,
        None,
    ),
    ("[::1]:5000/a/b:c", "[::1]:5000/a/b:c", "[::1]:5000/a/b:c", "[::1]:5000", "a/b", "c", None),
    (
        f"registry.example.com:443/a/b@{DIGEST}",
        f"registry.example.com:443/a/b@{DIGEST}",
        f"registry.example.com:443/a/b@{DIGEST}",
        "registry.example.com:443",
        "a/b",
        None,
        DIGEST,
    ),
    (
        f"busybox:1.36@{DIGEST}",
        f"docker.io/library/busybox:1.36@{DIGEST}",
        f"busybox:1.36@{DIGEST}",
        "docker.io",
        "library/busybox",
        "1.36",
        DIGEST,
    ),
    ("foo/bar:1", "docker.io/foo/bar:1", "foo/bar:1", "docker.io", "foo/bar", "1", None),
    (
        "docker.io/ubuntu",
        "docker.io/library/ubuntu:latest",
        "ubuntu:latest",
        "docker.io",
        "library/ubuntu",
        None,
        None,
    ),
    (
        "index.docker.io/library/debian:12",
        "docker.io/library/debian:12",
        "debian:12",
        "docker.io",
        "library/debian",
        "12",
        None,
    ),
    # Nested official paths keep "library/": stripping it would name another repository.
    (
        "docker.io/library/foo/bar",
        "docker.io/library/foo/bar:latest",
        "library/foo/bar:latest",
        "docker.io",
        "library/foo/bar",
        None,
        None,
    ),
    # An uppercase first component can only be a host (Hub namespaces are lowercase).
    ("Foo/bar", "Foo/bar:latest", "Foo/bar:latest", "Foo", "bar", None, None),
    (
        "Example.com/x",
        "Example.com/x:latest",
        "Example.com/x:latest",
        "Example.com",
        "x",
        None,
        None,
    ),
    # No dot, colon or "localhost": a Hub namespace, not a host.
    (
        "test_com/foo",
        "docker.io/test_com/foo:latest",
        "test_com/foo:latest",
        "docker.io",
        "test_com/foo",
        None,
        None,
    ),
    (
        "localhost/app",
        "localhost/app:latest",
        "localhost/app:latest",
        "localhost",
        "app",
        None,
        None,
    ),
    # A single component is never a host, so ":5000" is a tag here, as in Docker.
    (
        "localhost:5000",
        "docker.io/library/localhost:5000",
        "localhost:5000",
        "docker.io",
        "library/localhost",
        "5000",
        None,
    ),
    (
        "127.0.0.1:5000/dock__er/a-b---c.d_e",
        "127.0.0.1:5000/dock__er/a-b---c.d_e:latest",
        "127.0.0.1:5000/dock__er/a-b---c.d_e:latest",
        "127.0.0.1:5000",
        "dock__er/a-b---c.d_e",
        None,
        None,
    ),
    (
        "[2001:db8::1]/x:Tag_1.0-rc",
        "[2001:db8::1]/x:Tag_1.0-rc",
        "[2001:db8::1]/x:Tag_1.0-rc",
        "[2001:db8::1]",
        "x",
        "Tag_1.0-rc",
        None,
    ),
    # A 64-hex path component is fine once a domain disambiguates it from an image ID.
    (
        f"docker.io/{HEX}",
        f"docker.io/library/{HEX}:latest",
        f"{HEX}:latest",
        "docker.io",
        f"library/{HEX}",
        None,
        None,
    ),
    (
        "x:" + "t" * 128,
        "docker.io/library/x:" + "t" * 128,
        "x:" + "t" * 128,
        "docker.io",
        "library/x",
        "t" * 128,
        None,
    ),
]


@pytest.mark.parametrize(
    ("text", "canonical", "familiar", "domain", "path", "tag", "digest"),
    VALID,
    ids=[case[0][:60] for case in VALID],
)
def test_valid(
    text: str,
    canonical: str,
    familiar: str,
    domain: str,
    path: str,
    tag: str | None,
    digest: str | None,
) -> None:
    ref = parse_reference(text)
    assert str(ref) == canonical
    assert ref.familiar == familiar
    assert (ref.domain, ref.path, ref.tag, ref.digest) == (domain, path, tag, digest)
    assert ref.repository == f"{domain}/{path}"
    # The canonical and familiar forms must be stable under re-parsing.
    assert parse_reference(canonical) == parse_reference(familiar)
    assert str(parse_reference(canonical)) == canonical


# input, fragment of the reason
INVALID: list[tuple[str, str]] = [
    ("", "reference is empty"),
    (" ubuntu", "leading or trailing whitespace"),
    ("ubuntu\n", "leading or trailing whitespace"),
    ("ubu ntu:1", "must not contain whitespace"),
    ("foo/Bar", "repository name must be lowercase"),
    ("UBUNTU", "repository name must be lowercase"),
    ("docker.io/docker/Docker", "repository name must be lowercase"),
    (HEX, "cannot specify 64-byte hexadecimal strings"),
    ("a" * 250 + "/" + "b" * 10, "must not be more than 255 characters"),
    ("example.com/" + "a" * 250, "must not be more than 255 characters"),
    ("-docker", 'component "-docker" must match [a-z0-9]+'),
    ("docker-/docker", 'component "docker-" must match'),
    ("dock..er/docker", 'host "dock..er" must be dot-separated labels'),
    ("foo/dock_.er", 'component "dock_.er" must match'),
    ("foo/_x", 'component "_x" must match'),
    ("____/____", "must match"),
    ("docker///docker", "empty component"),
    ("docker/", "empty component"),
    ("-docker.io/docker/docker", 'host "-docker.io" must be dot-separated labels'),
    ("a_b.com/foo", 'host "a_b.com"'),
    ("example.com:port/foo", 'port "port" must be a number'),
    ("example.com:/foo", "port is empty"),
    ("fc00::1:5000/debian", "must be a number"),
    ("[fe80::1%eth0]:5000/debian", "may contain only hex digits and colons"),
    ("[2001:db8:3:4::192.0.2.33]:5000/debian", "may contain only hex digits and colons"),
    ("[::1/debian", 'unclosed "["'),
    ("[::1]x/debian", "unexpected text after the IPv6 address"),
    ("[fc00::1]:5000", "must match"),
    ("https://github.com/docker/docker", "URL scheme"),
    ("ubuntu:", 'tag is empty after ":"'),
    ("ubuntu:-rc", r"tag must match [\w][\w.-]{0,127}"),
    ("ubuntu:.hidden", r"tag must match [\w][\w.-]{0,127}"),
    ("localhost:5000/a:b:c", r"tag must match [\w][\w.-]{0,127}"),
    ("ubuntu:" + "t" * 129, "tag must be at most 128 characters"),
    ("ubuntu@", 'digest is empty after "@"'),
    ("ubuntu@" + HEX, "digest must be <algorithm>:<hex>"),
    ("ubuntu@sha256:" + HEX[:63], "digest must be sha256:<64 hex digits>"),
    ("ubuntu@sha256:" + HEX + "0", "digest must be sha256:<64 hex digits>"),
    ("ubuntu@sha256:" + HEX.upper(), "digest must be sha256:<64 hex digits>"),
    ("ubuntu@sha256:" + "z" * 64, "digest must be sha256:<64 hex digits>"),
    ("ubuntu@1sha:" + HEX, "digest must be <algorithm>:<hex>"),
    ("ubuntu@md5:" + HEX[:32], 'digest algorithm "md5" is not supported'),
    ("ubuntu@foo:abc", "at least 32 hex digits"),
    (f"ubuntu@{DIGEST}@{DIGEST}", "digest must be sha256:<64 hex digits>"),
]


@pytest.mark.parametrize(("text", "fragment"), INVALID, ids=[case[0][:60] for case in INVALID])
def test_invalid(text: str, fragment: str) -> None:
    with pytest.raises(InvalidReferenceError) as info:
        parse_reference(text)
    err = info.value
    assert fragment in err.reason
    assert err.reference == text
    assert str(err) == f'invalid image reference "{text}": {err.reason}'
    assert isinstance(err, ValueError)


def test_direct_construction_validates() -> None:
    with pytest.raises(InvalidReferenceError, match="lowercase"):
        ImageReference("docker.io", "library/Ubuntu", None, None)
    with pytest.raises(InvalidReferenceError, match="registry domain is empty"):
        ImageReference("", "x", None, None)
    with pytest.raises(InvalidReferenceError, match="must be a number"):
        dataclasses.replace(parse_reference("ubuntu"), domain="host:abc")


@pytest.mark.parametrize(
    ("text", "registry"),
    [
        ("ubuntu", "docker.io"),
        ("index.docker.io/foo/bar", "docker.io"),
        ("registry-1.docker.io/foo/bar", "docker.io"),
        ("localhost:5000/x", "localhost:5000"),
        ("gcr.io/paketo-buildpacks/run", "gcr.io"),
    ],
)
def test_registry(text: str, registry: str) -> None:
    assert parse_reference(text).registry == registry


def test_equal_spellings_compare_equal() -> None:
    spellings = ["ubuntu", "library/ubuntu", "docker.io/ubuntu", "index.docker.io/library/ubuntu"]
    assert len({parse_reference(s) for s in spellings}) == 1


def test_error_survives_pickling() -> None:
    with pytest.raises(InvalidReferenceError) as info:
        parse_reference("foo/Bar")
    copy = pickle.loads(pickle.dumps(info.value))
    assert (copy.reference, copy.reason, str(copy)) == (
        info.value.reference,
        info.value.reason,
        str(info.value),
    )
