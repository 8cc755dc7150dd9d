"""Container image references, parsed and normalized the way Docker does it.

cnbext hands image references to the Docker engine, to registries and to the buildpacks
lifecycle, and each of them must agree on which image is meant: ``ubuntu``,
``library/ubuntu`` and ``index.docker.io/library/ubuntu:latest`` all name the same repository,
and credentials, caches and labels are keyed by that name. So every reference is brought into
one canonical form here, following the grammar of ``github.com/distribution/reference``
(``reference.go``, ``regexp.go``) and the Docker Hub normalization of ``normalize.go``
(``ParseNormalizedNamed``).

A bad reference must be refused before any pull, build or push starts, with a message that says
which part is wrong; the Go library only says "invalid reference format". The input is therefore
split into domain, path, tag and digest first, and each part is checked on its own against the
same grammar, so the error can name it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["ImageReference", "InvalidReferenceError", "parse_reference"]

DEFAULT_DOMAIN = "docker.io"
# Still accepted by Docker for Hub images; folded into DEFAULT_DOMAIN so both spellings compare
# equal.
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_REPO_PREFIX = "library/"
DEFAULT_TAG = "latest"
NAME_TOTAL_LENGTH_MAX = 255
TAG_LENGTH_MAX = 128

# Hub's registry endpoint; registry credentials for it are stored under the Hub name.
_DOCKER_HUB_DOMAINS = frozenset({DEFAULT_DOMAIN, LEGACY_DEFAULT_DOMAIN, "registry-1.docker.io"})

# The fragments below are those of regexp.go. Python's \w is Unicode-aware while Go's is ASCII,
# so character classes are spelled out instead.
_ALPHANUMERIC = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = _ALPHANUMERIC + r"(?:" + _SEPARATOR + _ALPHANUMERIC + r")*"
_DOMAIN_NAME_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_NAME = _DOMAIN_NAME_COMPONENT + r"(?:\." + _DOMAIN_NAME_COMPONENT + r")*"
_IPV6_ADDRESS = r"\[(?:[a-fA-F0-9:]+)\]"
_HOST = r"(?:" + _DOMAIN_NAME + r"|" + _IPV6_ADDRESS + r")"
_PORT = r"[0-9]+"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DIGEST_ALGORITHM = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*"
_DIGEST_HEX = r"[0-9a-fA-F]{32,}"

_PATH_COMPONENT_RE = re.compile(_PATH_COMPONENT)
_HOST_RE = re.compile(_HOST)
_PORT_RE = re.compile(_PORT)
_DOMAIN_RE = re.compile(_HOST + r"(?::" + _PORT + r")?")
_TAG_RE = re.compile(_TAG)
_DIGEST_ALGORITHM_RE = re.compile(_DIGEST_ALGORITHM)
_DIGEST_HEX_RE = re.compile(_DIGEST_HEX)
_IDENTIFIER_RE = re.compile(r"[a-f0-9]{64}")

# The grammar admits any algorithm, but Docker (through go-digest) only resolves these, and a
# digest of the wrong length can never match content, so it is better refused up front.
_DIGEST_HEX_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}

# Shown verbatim in messages so users can compare against the upstream grammar.
_PATH_COMPONENT_SHOWN = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
_TAG_SHOWN = r"[\w][\w.-]{0,127}"


class InvalidReferenceError(ValueError):
    """Raised with a message that names the bad input and says what is wrong, e.g.
    'invalid image reference "foo/Bar": repository name must be lowercase'."""

    reference: str
    reason: str

    def __init__(self, reference: str, reason: str) -> None:
        super().__init__(f'invalid image reference "{reference}": {reason}')
        self.reference = reference
        self.reason = reason

    # Without this, unpickling (e.g. across a process pool) would call __init__ with the single
    # formatted message and fail.
    def __reduce__(self) -> tuple[type[InvalidReferenceError], tuple[str, str]]:
        return (type(self), (self.reference, self.reason))


@dataclass(frozen=True)
class ImageReference:
    """A validated image reference; build it with :func:`parse_reference`.

    Direct construction validates too (so ``dataclasses.replace`` cannot produce an invalid
    reference) but does not normalize: ``ImageReference("docker.io", "ubuntu", None, None)``
    is accepted as written.
    """

    domain: str
    path: str
    tag: str | None = None
    digest: str | None = None

    def __post_init__(self) -> None:
        reason = _check_parts(self.domain, self.path, self.tag, self.digest)
        if reason is not None:
            raise InvalidReferenceError(_join(self.repository, self.tag, self.digest), reason)

    @property
    def repository(self) -> str:
        return f"{self.domain}/{self.path}"

    def __str__(self) -> str:
        return _join(self.repository, *self._tag_and_digest())

    @property
    def familiar(self) -> str:
        name = self.repository
        if self.domain == DEFAULT_DOMAIN:
            name = self.path
            remainder = name.removeprefix(OFFICIAL_REPO_PREFIX)
            # Only single-level official names are shortened, as in normalize.go; stripping
            # "library/" from "library/a/b" would make it parse back as a different repository.
            if remainder != name and "/" not in remainder:
                name = remainder
        return _join(name, *self._tag_and_digest())

    @property
    def registry(self) -> str:
        if self.domain in _DOCKER_HUB_DOMAINS:
            return DEFAULT_DOMAIN
        return self.domain

    def _tag_and_digest(self) -> tuple[str | None, str | None]:
        # A bare name means ":latest" to the engine; spelling it out keeps the canonical form
        # unique.
        if self.tag is None and self.digest is None:
            return DEFAULT_TAG, None
        return self.tag, self.digest


def parse_reference(text: str) -> ImageReference:
    """Parse and normalize (ParseNormalizedNamed semantics): 'ubuntu' -> docker.io/library/ubuntu,
    'foo/bar' -> docker.io/foo/bar, 'index.docker.io/...' treated as docker.io. Raises
    InvalidReferenceError."""
    if text == "":
        raise InvalidReferenceError(text, "reference is empty")
    if text != text.strip():
        raise InvalidReferenceError(text, "reference has leading or trailing whitespace")
    if any(ch.isspace() for ch in text):
        raise InvalidReferenceError(text, "reference must not contain whitespace")
    if _IDENTIFIER_RE.fullmatch(text):
        raise InvalidReferenceError(
            text,
            "cannot specify 64-byte hexadecimal strings: a bare 64-character hex string is "
            "ambiguous with an image ID; name the repository, e.g. name@sha256:<hex>",
        )

    if "://" in text:
        # A pasted registry URL would otherwise fail as a bad port ("https:" read as host:port).
        raise InvalidReferenceError(
            text, 'reference must not include a URL scheme; drop the "scheme://" prefix'
        )

    domain, remainder = _split_docker_domain(text)
    # Neither path nor tag may contain "@", and the path may not contain ":", so the first of
    # each is the separator; anything after a second one is caught by the tag/digest checks.
    name_and_tag, at, digest = remainder.partition("@")
    path, colon, tag = name_and_tag.partition(":")

    reason = _check_parts(domain, path, tag if colon else None, digest if at else None)
    if reason is not None:
        raise InvalidReferenceError(text, reason)
    return ImageReference(domain, path, tag if colon else None, digest if at else None)


def _split_docker_domain(text: str) -> tuple[str, str]:
    """Split off the registry domain as normalize.go's splitDockerDomain does.

    The rest (path with tag and digest) is returned unvalidated.
    """
    maybe_domain, slash, maybe_rest = text.partition("/")
    if not slash:
        # A single component is always a Hub official image, even "localhost" or "example.com"
        # (Docker has the same FIXME), so that "ubuntu:22.04" is not read as host:port.
        return DEFAULT_DOMAIN, OFFICIAL_REPO_PREFIX + text

    if maybe_domain == LEGACY_DEFAULT_DOMAIN:
        domain, rest = DEFAULT_DOMAIN, maybe_rest
    elif (
        maybe_domain == "localhost"
        or any(ch in maybe_domain for ch in ".:")
        # Namespaces on Hub must be lowercase, so an uppercase first component can only be meant
        # as a host name.
        or maybe_domain.lower() != maybe_domain
    ):
        domain, rest = maybe_domain, maybe_rest
    else:
        domain, rest = DEFAULT_DOMAIN, text

    if domain == DEFAULT_DOMAIN and "/" not in rest:
        rest = OFFICIAL_REPO_PREFIX + rest
    return domain, rest


def _check_parts(domain: str, path: str, tag: str | None, digest: str | None) -> str | None:
    """Return why the parts do not form a valid reference, or None if they do.

    Case comes first, as in ParseNormalizedNamed: an uppercase path is the most common mistake
    and would otherwise be reported less helpfully as a malformed component.
    """
    if path.lower() != path:
        return f'repository name must be lowercase (got "{path}")'
    name_length = len(domain) + 1 + len(path)
    if name_length > NAME_TOTAL_LENGTH_MAX:
        return (
            f"repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters "
            f"(got {name_length})"
        )
    return (
        _check_domain(domain)
        or _check_path(path)
        or (None if tag is None else _check_tag(tag))
        or (None if digest is None else _check_digest(digest))
    )


def _check_domain(domain: str) -> str | None:
    if _DOMAIN_RE.fullmatch(domain):
        return None
    if domain == "":
        return "registry domain is empty"

    if domain.startswith("["):
        close = domain.find("]")
        if close < 0:
            return f'registry domain "{domain}" has an unclosed "[" in its IPv6 address'
        host, rest = domain[: close + 1], domain[close + 1 :]
        if rest and not rest.startswith(":"):
            return f'registry domain "{domain}" has unexpected text after the IPv6 address'
        port: str | None = rest[1:] if rest else None
    else:
        host, colon, port_text = domain.partition(":")
        port = port_text if colon else None

    if not _HOST_RE.fullmatch(host):
        if host.startswith("["):
            return (
                f'registry domain "{domain}": IPv6 address "{host}" may contain only hex digits '
                "and colons (no zone or embedded IPv4)"
            )
        return (
            f'registry domain "{domain}": host "{host}" must be dot-separated labels of letters, '
            "digits and inner hyphens, or an IPv6 address in brackets"
        )
    if port == "":
        return f'registry domain "{domain}": port is empty after ":"'
    if port is not None and not _PORT_RE.fullmatch(port):
        return f'registry domain "{domain}": port "{port}" must be a number'
    # Unreachable as long as the pieces above cover the whole regex; kept so a gap can never
    # let an invalid domain through.
    return f'registry domain "{domain}" is invalid'


def _check_path(path: str) -> str | None:
    for component in path.split("/"):
        if component == "":
            return f'repository path "{path}" has an empty component (leading, trailing or "//")'
        if not _PATH_COMPONENT_RE.fullmatch(component):
            return (
                f'repository path component "{component}" must match {_PATH_COMPONENT_SHOWN} '
                '(lowercase letters and digits, separated by ".", "_", "__" or dashes)'
            )
    return None


def _check_tag(tag: str) -> str | None:
    if tag == "":
        return 'tag is empty after ":"'
    if len(tag) > TAG_LENGTH_MAX:
        return f"tag must be at most {TAG_LENGTH_MAX} characters (got {len(tag)})"
    if not _TAG_RE.fullmatch(tag):
        return f'tag "{tag}" is invalid: tag must match {_TAG_SHOWN}'
    return None


def _check_digest(digest: str) -> str | None:
    if digest == "":
        return 'digest is empty after "@"'
    algorithm, colon, encoded = digest.partition(":")
    if not colon or not _DIGEST_ALGORITHM_RE.fullmatch(algorithm):
        return (
            f'digest "{digest}" is invalid: digest must be <algorithm>:<hex>, '
            "e.g. sha256:<64 hex digits>"
        )
    expected_length = _DIGEST_HEX_LENGTHS.get(algorithm)
    if expected_length is None:
        if not _DIGEST_HEX_RE.fullmatch(encoded):
            return (
                f'digest "{digest}" is invalid: the part after ":" must be at least 32 hex digits'
            )
        supported = ", ".join(_DIGEST_HEX_LENGTHS)
        return f'digest algorithm "{algorithm}" is not supported (use one of {supported})'
    if len(encoded) != expected_length or not re.fullmatch(r"[a-f0-9]+", encoded):
        return (
            f'digest "{digest}" is invalid: digest must be '
            f"{algorithm}:<{expected_length} hex digits> (lowercase)"
        )
    return None


def _join(name: str, tag: str | None, digest: str | None) -> str:
    text = name
    if tag is not None:
        text += f":{tag}"
    if digest is not None:
        text += f"@{digest}"
    return text


def suffixed_name(name: str, platform: str) -> str:
    """pack's per-target name (internal/name AppendSuffix): the tag gets ``-os-arch[-variant]``;
    ``latest`` is replaced by ``os-arch[-variant]``; a digest reference is left as it is."""
    reference = parse_reference(name)
    if reference.digest is not None:
        return name
    suffix = platform.replace("/", "-")
    tag = reference.tag or "latest"
    return f"{reference.repository}:{suffix if tag == 'latest' else f'{tag}-{suffix}'}"
