"""The request record (cnbext.plan.request): every option of every command is recorded in the
provenance label and replayed by upgrade, enumerated from the models themselves, so an option
added later cannot fall out of the record unnoticed."""

from __future__ import annotations

import dataclasses
import json
import typing
from enum import Enum
from pathlib import Path
from typing import Any

import pytest

from cnbext.cnb.provenance import PROVENANCE, BaseRecord, Provenance, read_provenance
from cnbext.config.builder import TargetEntry
from cnbext.plan.builder_options import BuilderOptions
from cnbext.plan.extend import ExtendOptions
from cnbext.plan.model import PullPolicy, SbomFormat
from cnbext.plan.request import (
    NOT_RECORDED,
    decode,
    encode,
    record_config,
    record_options,
    record_request,
    replay_options,
)

MODELS = (ExtendOptions, BuilderOptions)


def sample(annotation: Any, tmp: Path) -> Any:
    """A value of ``annotation`` no option has by default."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, __import__("types").UnionType):
        return sample(next(a for a in args if a is not type(None)), tmp)
    if origin is tuple:
        return (
            (sample(args[0], tmp),) if args[-1] is Ellipsis else tuple(sample(a, tmp) for a in args)
        )
    if origin is dict:
        return {"ORG_EXAMPLE_TEAM": sample(args[1], tmp)}
    if annotation is TargetEntry:
        return TargetEntry("linux", "arm64", "v8", (("ubuntu", "22.04"),))
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return list(annotation)[-1]
    if annotation is Path:
        return tmp
    return {str: "ops", bool: True, int: 7}[annotation]


def recorded_fields(model: type[Any]) -> list[str]:
    # Names are kept beside the image, extensions in the provenance's own list (tested in
    # tests/client/test_names.py and test_upgrade.py): nothing else may leave the record.
    assert {"names", "extensions"} == NOT_RECORDED
    return [f.name for f in dataclasses.fields(model) if f.name not in NOT_RECORDED]


@pytest.mark.parametrize(
    ("model", "field"),
    [(m, f) for m in MODELS for f in recorded_fields(m)],
    ids=lambda v: v if isinstance(v, str) else v.__name__,
)
def test_every_option_survives_the_label_and_the_replay(
    model: type[Any], field: str, tmp_path: Path
) -> None:
    hints = typing.get_type_hints(model)
    value = sample(hints[field], tmp_path)
    default = getattr(model(names=("reg/x:1",)), field)
    if isinstance(value, Enum) and value == default:
        value = next(member for member in type(value) if member != default)
    options = model(names=("reg/x:1",), **{field: value})
    assert getattr(options, field) != getattr(model(names=("reg/x:1",)), field)
    label = Provenance(
        command="extend",
        role="image",
        tool_version="0",
        base=BaseRecord("reg/base:1"),
        platforms=(),
        metadata={},
        request=record_request("extend", options, {}, tmp_path),
    ).encode()
    provenance = read_provenance({PROVENANCE: label})
    assert provenance is not None and provenance.request is not None
    replayed = replay_options(model, provenance.request["options"], names=("reg/y:1",))
    expected = value.resolve() if isinstance(value, Path) else value
    assert getattr(replayed, field) == expected
    assert replayed.names == ("reg/y:1",)


def test_names_are_not_recorded_and_secret_env_values_are_not_replayed(tmp_path: Path) -> None:
    options = ExtendOptions(
        names=("reg/x:1", "mirror/x:1"), platform_env={"GREETING": "hi", "NPM_TOKEN": "s3cret"}
    )
    recorded = record_options(options)
    assert "names" not in recorded and "reg/x:1" not in json.dumps(recorded)
    assert recorded["platform_env"] == {"GREETING": "hi", "NPM_TOKEN": None}
    replayed = replay_options(ExtendOptions, recorded, names=("reg/x:1",))
    assert replayed.platform_env == {"GREETING": "hi"}


@pytest.mark.parametrize("model", MODELS)
def test_a_record_from_before_the_sbom_layer_replays_without_one(model: Any) -> None:
    # The default is now an SBOM layer; an image recorded before the field existed had none,
    # and its upgrade must make it as it was made. What a record says is kept.
    old = {k: v for k, v in record_options(model(names=("reg/x:1",))).items() if k != "sbom"}
    assert replay_options(model, old, names=("reg/x:1",)).sbom is SbomFormat.NONE
    for value in SbomFormat:
        recorded = {**old, "sbom": value.value}
        assert replay_options(model, recorded, names=("reg/x:1",)).sbom is value
    assert model(names=("reg/x:1",)).sbom is SbomFormat.CYCLONEDX


def test_the_config_is_recorded_with_resolved_uris_and_no_credentials(tmp_path: Path) -> None:
    data = {
        "buildpacks": [{"uri": "buildpacks/hello"}, {"uri": "docker://reg/bp@sha256:" + "a" * 64}],
        "lifecycle": {"uri": "https://user:pw@example.com/lifecycle.tgz?token=t"},
        "extend": {"metadata": {"packages": ["jq"]}, "extensions": [{"uri": "ext"}]},
    }
    recorded = record_config(data, tmp_path)
    assert recorded["buildpacks"][0]["uri"] == (tmp_path / "buildpacks/hello").as_posix()
    assert recorded["buildpacks"][1]["uri"] == "docker://reg/bp@sha256:" + "a" * 64
    assert recorded["lifecycle"]["uri"] == "https://example.com/lifecycle.tgz"
    # The extensions are recorded once, with their digests, in the provenance's own list.
    assert recorded["extend"] == {"metadata": {"packages": ["jq"]}}


def test_decoding_refuses_what_does_not_fit_the_model() -> None:
    with pytest.raises(ValueError, match="is not a"):
        decode(tuple[str, ...], "linux/amd64")
    with pytest.raises(ValueError, match="is not a"):
        decode(bool, "yes")
    assert decode(PullPolicy, "always") is PullPolicy.ALWAYS
    assert encode((Path("/a"), PullPolicy.NEVER)) == ["/a", "never"]
