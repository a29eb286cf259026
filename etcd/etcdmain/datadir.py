"""What a data dir holds (etcd's ``identifyDataDirOrDie``): a member, a v2 proxy, or nothing yet."""

from __future__ import annotations

import logging
import os
from typing import Literal

DataDirKind = Literal["member", "proxy", "empty"]
DIR_MEMBER: DataDirKind = "member"
DIR_PROXY: DataDirKind = "proxy"
DIR_EMPTY: DataDirKind = "empty"

# etcd 3.4 compat: etcdmain/etcd.go identifyDataDirOrDie, verbatim.
ERR_BOTH_DIRS = "invalid datadir. Both member and proxy directories exist."

_log = logging.getLogger("etcd.etcdmain")


class DataDirError(Exception):
    """The data dir cannot be used; ``str()`` is etcd's message. etcd exits 1 on it."""


def identify(path: str) -> DataDirKind:
    """Classify ``path`` by its ``member`` and ``proxy`` entries.

    A missing directory is ``"empty"``. Entries other than ``member`` and ``proxy`` are logged as
    etcd does (``found invalid file/dir <name> under data dir <dir>``) and otherwise ignored.

    Raises:
        DataDirError: both ``member`` and ``proxy`` exist, or the directory cannot be listed.
    """
    try:
        names = sorted(os.listdir(path))
    except FileNotFoundError:
        return DIR_EMPTY
    except OSError as e:
        raise DataDirError(f"error listing data dir: {path}: {e.strerror}") from None
    member = proxy = False
    for name in names:
        if name == DIR_MEMBER:
            member = True
        elif name == DIR_PROXY:
            proxy = True
        else:
            # etcd 3.4 compat: etcdmain/etcd.go, the capnslog wording (the default logger).
            _log.warning(
                "found invalid file/dir %s under data dir %s (Ignore this if you are upgrading etcd)",
                name,
                path,
            )
    if member and proxy:
        raise DataDirError(ERR_BOTH_DIRS)
    if member:
        return DIR_MEMBER
    if proxy:
        return DIR_PROXY
    return DIR_EMPTY
