"""The JSON log lines (``etcd/pkg/logutil.py``): zap's shape, fields, levels, callers, outputs."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from etcd.pkg import logutil
from etcd.pkg.logutil import fields


@pytest.fixture
def log_file(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "out.log"
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    logutil.configure([str(path)], "info")
    try:
        yield path
    finally:
        logutil.configure(["stderr"], "info")
        for handler in logutil._installed:
            root.removeHandler(handler)
        logutil._installed.clear()
        root.setLevel(saved[0])


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_line_has_zaps_keys_in_zaps_order_then_the_fields(log_file: Path) -> None:
    logging.getLogger("etcd.embed").info(
        "closing etcd server", extra=fields({"name": "m1", "data-dir": "/d", "urls": ["http://a:1"]})
    )
    (entry,) = lines(log_file)
    assert list(entry) == ["level", "ts", "caller", "msg", "name", "data-dir", "urls"]
    assert (entry["level"], entry["msg"], entry["name"], entry["urls"]) == (
        "info", "closing etcd server", "m1", ["http://a:1"]
    )
    # zap's ISO 8601 with milliseconds (etcd 3.4.23: "2026-11-25T04:35:43.188Z")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", str(entry["ts"]))
    assert re.fullmatch(r"tests/etcdmain/test_logutil\.py:\d+", str(entry["caller"]))


def test_levels_are_zaps_names_and_the_threshold_filters(log_file: Path) -> None:
    log = logging.getLogger("etcd.test")
    log.debug("hidden")
    log.info("i")
    log.warning("w")
    log.error("e")
    log.critical("c")
    assert [(e["level"], e["msg"]) for e in lines(log_file)] == [
        ("info", "i"), ("warn", "w"), ("error", "e"), ("fatal", "c")
    ]


def test_exceptions_carry_error_and_stacktrace(log_file: Path) -> None:
    try:
        raise ValueError("bad thing")
    except ValueError:
        logging.getLogger("etcd.test").exception("failed")
    (entry,) = lines(log_file)
    assert entry["error"] == "bad thing"
    assert "ValueError: bad thing" in str(entry["stacktrace"])


def test_caller_is_relative_to_the_package_root() -> None:
    import etcd.embed.etcd as module

    assert logutil.caller(module.__file__ or "", 12) == "embed/etcd.py:12"
    assert logutil.caller("/usr/lib/python3/site-packages/aiohttp/web_protocol.py", 7) == (
        "aiohttp/web_protocol.py:7"
    )


def test_a_file_output_is_created_private_and_appended(tmp_path: Path, log_file: Path) -> None:
    path = tmp_path / "second.log"
    path.write_text('{"old":1}\n')
    logutil.configure([str(path), "stderr", "default"], "warn")
    logging.getLogger("etcd.test").warning("appended")
    assert [e.get("msg") for e in lines(path)] == [None, "appended"]
    assert len(logutil._installed) == 2  # "stderr" and "default" are the same output


def test_an_unopenable_output_keeps_the_previous_setup(tmp_path: Path, log_file: Path) -> None:
    with pytest.raises(OSError):
        logutil.configure([str(tmp_path / "no" / "such" / "dir.log")], "info")
    logging.getLogger("etcd.test").info("still here")
    assert lines(log_file)[-1]["msg"] == "still here"
