"""The request as the user made it: recorded whole in the provenance label, replayed by upgrade.

A command's request is its options model (:class:`~cnbext.plan.extend.ExtendOptions` or
:class:`~cnbext.plan.builder_options.BuilderOptions`: every flag) plus the config document it
read. Both are recorded field by field from the models themselves, so a flag added to a model
is recorded and replayed without anyone listing it here; the only exceptions are spelled out
below with their reason:

- ``names``: where an image is saved is not part of the image (the same request saved under
  two names must give the same image); the names are kept registry-side (cnbext.client.names).
- ``extensions``: every extension, the config's and the flags', is recorded once, in order,
  with its content digest, in the provenance's own ``extensions`` list.
- ``platform_env``: values that look secret are recorded by name only (``recorded_env``).

Pure: no engine, no I/O.
"""

from __future__ import annotations

import dataclasses
import posixpath
import types
import typing
from collections.abc import Mapping
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

from cnbext.cnb.provenance import recorded_env, safe_uri

# Options fields the request record leaves out (see the module docstring for why).
NOT_RECORDED = frozenset({"names", "extensions"})
# Fields added after requests were first recorded, with what a record without them meant:
# such an image was made without the feature, and its upgrade must make it the same way even
# though the flag's default is now on.
ABSENT_MEANT: Mapping[str, Any] = types.MappingProxyType({"sbom": "none"})

Model = TypeVar("Model")


def encode(value: Any) -> Any:
    """``value`` (a model, enum, path, tuple, mapping or plain value) as JSON data."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path):
        return value.as_posix()
    if isinstance(value, tuple | list):
        return [encode(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): encode(v) for k, v in value.items()}
    return value


def decode(annotation: Any, raw: Any) -> Any:
    """JSON data back into the type ``annotation`` names; ValueError when it does not fit."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if raw is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return decode(inner, raw)
    if origin is tuple:
        _expect(raw, list, annotation)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(decode(args[0], v) for v in raw)
        return tuple(decode(a, v) for a, v in zip(args, raw, strict=True))
    if origin in (dict, Mapping) or annotation in (dict, Mapping):
        _expect(raw, dict, annotation)
        value_type = args[1] if args else Any
        return {str(k): decode(value_type, v) for k, v in raw.items()}
    if annotation is Any:
        return raw
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
        _expect(raw, dict, annotation)
        return decode_model(annotation, raw)
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return annotation(raw)
    if annotation is Path:
        _expect(raw, str, annotation)
        return Path(raw)
    if annotation in (str, bool, int, float):
        _expect(raw, annotation, annotation)
    return raw


def _expect(raw: Any, kind: Any, annotation: Any) -> None:
    if not isinstance(raw, kind) or (kind is int and isinstance(raw, bool)):
        raise ValueError(f"{raw!r} is not a {annotation}")


def decode_model(model: type[Model], raw: Mapping[str, Any], **given: Any) -> Model:
    """A model from the fields ``raw`` has and those ``given`` as they are (the others keep
    their defaults)."""
    hints = typing.get_type_hints(model)
    known = {f.name for f in dataclasses.fields(model)}  # type: ignore[arg-type]
    values = {name: decode(hints[name], raw[name]) for name in known if name in raw}
    return model(**{**values, **given})


def record_options(options: Any) -> dict[str, Any]:
    """The options as the provenance label records them: every field but NOT_RECORDED, the
    app folder absolute, secret-looking env values by name only."""
    recorded = {
        f.name: encode(getattr(options, f.name))
        for f in dataclasses.fields(options)
        if f.name not in NOT_RECORDED
    }
    if "platform_env" in recorded:
        recorded["platform_env"] = recorded_env(options.platform_env)
    if getattr(options, "app_dir", None) is not None:
        recorded["app_dir"] = options.app_dir.resolve().as_posix()
    return recorded


def replay_options(model: type[Model], recorded: Mapping[str, Any], **overrides: Any) -> Model:
    """The options ``recorded`` holds, with ``overrides`` (the upgrade's own) over them. An env
    value recorded by name only is left out: the upgrade must be given it again."""
    raw = {**ABSENT_MEANT, **recorded}
    if isinstance(raw.get("platform_env"), Mapping):
        raw["platform_env"] = {k: v for k, v in raw["platform_env"].items() if v is not None}
    return decode_model(model, raw, **overrides)


def unknown_options(model: type[Any], recorded: Mapping[str, Any]) -> list[str]:
    """Recorded fields ``model`` does not have (a newer cnbext recorded them)."""
    known = {f.name for f in dataclasses.fields(model)}
    return sorted(k for k in recorded if k not in known)


def record_config(data: Mapping[str, Any], base_dir: Path) -> dict[str, Any]:
    """The config document as read, ready to be written again anywhere: relative ``uri``
    values resolved against ``base_dir`` (the config's folder), credentials taken out of
    URLs, and ``[[extend.extensions]]`` left to the provenance's extension list."""
    document = _resolve_uris(encode(data), base_dir.as_posix())
    extend = document.get("extend")
    if isinstance(extend, dict):
        extend.pop("extensions", None)
    return dict(document)


def _resolve_uris(value: Any, base_dir: str) -> Any:
    if isinstance(value, dict):
        return {
            key: _absolute(item, base_dir)
            if key == "uri" and isinstance(item, str)
            else _resolve_uris(item, base_dir)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_resolve_uris(item, base_dir) for item in value]
    return value


def _absolute(uri: str, base_dir: str) -> str:
    if uri.startswith(("http://", "https://")):
        return safe_uri(uri)
    if "://" in uri or uri.startswith("urn:"):
        return uri
    if posixpath.isabs(uri):
        return uri
    return posixpath.normpath(posixpath.join(base_dir, uri))


def record_request(
    command: str, options: Any, config: Mapping[str, Any], config_dir: Path
) -> dict[str, Any]:
    """What the provenance label's ``request`` holds: the command, its options and the config
    document it read (see :func:`record_options`, :func:`record_config`)."""
    return {
        "command": command,
        "options": record_options(options),
        "config": record_config(config, config_dir),
    }
