"""etcdmain.datadir.identify on real directories (etcd 3.4's identifyDataDirOrDie)."""

from __future__ import annotations

import logging
import os
import pathlib

import pytest

from etcd.etcdmain.datadir import ERR_BOTH_DIRS, DataDirError, identify


def test_missing_dir_is_empty(tmp_path: pathlib.Path) -> None:
    assert identify(str(tmp_path / "nope")) == "empty"


def test_empty_dir_is_empty(tmp_path: pathlib.Path) -> None:
    assert identify(str(tmp_path)) == "empty"


def test_member(tmp_path: pathlib.Path) -> None:
    (tmp_path / "member").mkdir()
    assert identify(str(tmp_path)) == "member"


def test_proxy(tmp_path: pathlib.Path) -> None:
    (tmp_path / "proxy").mkdir()
    assert identify(str(tmp_path)) == "proxy"


def test_both_are_refused(tmp_path: pathlib.Path) -> None:
    (tmp_path / "member").mkdir()
    (tmp_path / "proxy").mkdir()
    with pytest.raises(DataDirError) as e:
        identify(str(tmp_path))
    assert str(e.value) == "invalid datadir. Both member and proxy directories exist."
    assert str(e.value) == ERR_BOTH_DIRS


def test_other_entries_only_warn(tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "member").mkdir()
    (tmp_path / "junk").write_text("x")
    with caplog.at_level(logging.WARNING, logger="etcd.etcdmain"):
        assert identify(str(tmp_path)) == "member"
    assert [r.getMessage() for r in caplog.records] == [
        f"found invalid file/dir junk under data dir {tmp_path} (Ignore this if you are upgrading etcd)"
    ]


@pytest.mark.skipif(os.geteuid() == 0, reason="root can list any directory")
def test_unlistable_dir(tmp_path: pathlib.Path) -> None:
    d = tmp_path / "locked"
    d.mkdir()
    d.chmod(0)
    try:
        with pytest.raises(DataDirError, match="error listing data dir"):
            identify(str(d))
    finally:
        d.chmod(0o700)
