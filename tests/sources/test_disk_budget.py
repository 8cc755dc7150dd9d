"""One disk budget per command, charged by every copy of untrusted bytes: the extraction, the
module and lifecycle staging, and the build context copies. Each archive below fits its own
archive cap; only the total of the copies is over the budget."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import cnbext
from cnbext.engine.builds import _materialize_context
from cnbext.errors import ExitCode
from cnbext.plan.model import ImageBuild
from cnbext.sources import disk
from cnbext.sources.archive import extract_tar, open_tar
from cnbext.sources.descriptor import ModuleError
from cnbext.sources.disk import DiskBudget, DiskBudgetError, copy_tree, disk_budget
from tests.client.fake_engine import FakeEngine
from tests.client.images import BUILDER, IMAGES, RUN_NAME
from tests.fixtures.lifecycle_fixture import write_lifecycle_tree
from tests.fixtures.malicious import Member, Sentinels, write_tgz

MIB = 1 << 20
BUILD_NAME = "localhost:5000/stack/build:1"
OUT = "localhost:5000/x/out:1"


def _tree(root: Path, size: int) -> Path:
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "big").write_bytes(b"x" * size)
    (root / "link").symlink_to("bin/big")
    return root


def test_a_copy_is_charged_before_each_file_and_refused_over_the_budget(tmp_path: Path) -> None:
    source = _tree(tmp_path / "src", MIB)
    with disk_budget(DiskBudget(int(2.5 * MIB))) as budget:
        copy_tree(source, tmp_path / "one")
        copy_tree(source, tmp_path / "two")
        assert budget.used == 2 * MIB  # the link is copied as a link, not charged
        with pytest.raises(DiskBudgetError) as caught:
            copy_tree(source, tmp_path / "three")
    assert "CNBEXT_MAX_DISK_BYTES" in caught.value.message
    assert caught.value.exit_code == ExitCode.CONFIG
    assert not (tmp_path / "three" / "bin" / "big").exists()  # refused before it was written
    assert (tmp_path / "two" / "link").is_symlink()


def test_outside_a_command_nothing_is_charged_and_budgets_nest(tmp_path: Path) -> None:
    assert disk.take(1 << 62) is None
    with disk_budget(DiskBudget(10)) as outer:
        with disk_budget(DiskBudget(100)) as inner:
            assert disk.take(50) is None
        assert disk.take(50) is not None  # the outer one again: 50 > 10
    assert (outer.used, inner.used) == (0, 50)


def test_threads_share_one_budget_and_never_overspend() -> None:
    budget = DiskBudget(1000)
    granted: list[bool] = []

    def spend() -> None:
        for _ in range(100):
            granted.append(budget.take(7) is None)

    with disk_budget(budget):
        threads = [threading.Thread(target=spend) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert granted.count(True) == 1000 // 7 and budget.used == 7 * (1000 // 7)


def test_two_archives_each_within_their_cap_share_the_command_budget(tmp_path: Path) -> None:
    archive = write_tgz(tmp_path / "a.tgz", [Member("big", data=b"\0" * MIB)])
    with disk_budget(DiskBudget(int(1.5 * MIB))):
        for dest in ("one", "two"):
            with open_tar(archive, "a.tgz", ModuleError, hint="") as tar:
                if dest == "one":
                    extract_tar(tar, tmp_path / dest, source="a.tgz", error_type=ModuleError)
                    continue
                with pytest.raises(ModuleError, match="member 'big': more than 1572864 bytes"):
                    extract_tar(tar, tmp_path / dest, source="a.tgz", error_type=ModuleError)


def test_the_build_context_copy_is_charged(tmp_path: Path) -> None:
    tree = _tree(tmp_path / "staged", MIB)
    build = ImageBuild(
        role="builder",
        base="localhost:5000/x/base:1",
        dockerfile="FROM scratch\n",
        build_args={},
        labels={},
        result_labels={},
        label_changes=(),
        names=(OUT,),
        platforms=(),
        package_manager=None,
        packages=(),
        base_user="",
        context_trees={"modules/0": tree, "modules/1": tree},
    )
    with disk_budget(DiskBudget(int(1.5 * MIB))), pytest.raises(DiskBudgetError):
        _materialize_context(tmp_path / "context", build)
    with disk_budget(DiskBudget(2 * MIB)):
        _materialize_context(tmp_path / "context2", build)
    assert (tmp_path / "context2" / "modules" / "1" / "bin" / "big").stat().st_size == MIB


def _builder_toml(root: Path) -> Path:
    write_tgz(root / "evil.tgz", [Member("bin/big", data=b"\0" * MIB)])
    write_lifecycle_tree(root / "lifecycle")
    path = root / "builder.toml"
    path.write_text(
        f'[build]\nimage = "{BUILD_NAME}"\n[[run.images]]\nimage = "{RUN_NAME}"\n'
        '[[buildpacks]]\nuri = "evil.tgz"\n[[order]]\n[[order.group]]\nid = "evil"\n'
        '[lifecycle]\nuri = "lifecycle"\n'
    )
    return path


@pytest.mark.parametrize(("budget", "refused"), [(int(1.5 * MIB), True), (3 * MIB, False)])
def test_create_builder_charges_extraction_and_staging_to_one_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, budget: int, refused: bool
) -> None:
    # The archive (1 MiB) fits the archive cap; extracted and then staged it is 2 MiB.
    sentinels = Sentinels.plant(tmp_path / "host")
    monkeypatch.setenv("CNBEXT_MAX_DISK_BYTES", str(budget))
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    config = _builder_toml(tmp_path / "work")
    engine = FakeEngine({**IMAGES, BUILD_NAME: BUILDER})
    options = cnbext.BuilderOptions(names=(OUT,))
    if refused:
        with pytest.raises(DiskBudgetError, match="written by this command, every copy counted"):
            cnbext.create_builder(config, options, engine=engine)
        assert engine.made() == []
    else:
        cnbext.create_builder(config, options, engine=engine)
        assert engine.made() != []
    assert list((tmp_path / "tmp").iterdir()) == []  # the work folder is gone either way
    sentinels.assert_untouched()


@pytest.mark.parametrize("value", ["nan", "inf", "0", "-5", "1.5", "lots"])
def test_the_disk_knob_must_be_a_positive_whole_number(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("CNBEXT_MAX_DISK_BYTES", value)
    with pytest.raises(cnbext.CnbextError, match="CNBEXT_MAX_DISK_BYTES") as caught:
        DiskBudget.from_env()
    assert caught.value.exit_code == ExitCode.USAGE
