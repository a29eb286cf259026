"""``Stats``: the v2 store's operation counters, served at ``/v2/stats/store`` (``v2store/stats.go``)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from etcd.pkg import gojson

# The JSON names etcd prints, in its order.
_JSON_NAMES = {
    "get_success": "getsSuccess",
    "get_fail": "getsFail",
    "set_success": "setsSuccess",
    "set_fail": "setsFail",
    "delete_success": "deleteSuccess",
    "delete_fail": "deleteFail",
    "update_success": "updateSuccess",
    "update_fail": "updateFail",
    "create_success": "createSuccess",
    "create_fail": "createFail",
    "compare_and_swap_success": "compareAndSwapSuccess",
    "compare_and_swap_fail": "compareAndSwapFail",
    "compare_and_delete_success": "compareAndDeleteSuccess",
    "compare_and_delete_fail": "compareAndDeleteFail",
    "expire_count": "expireCount",
    "watchers": "watchers",
}


@dataclass(slots=True)
class Stats:
    """Success and failure counts per operation, expiries, and the watcher count (filled in when the
    stats are read)."""

    get_success: int = 0
    get_fail: int = 0
    set_success: int = 0
    set_fail: int = 0
    delete_success: int = 0
    delete_fail: int = 0
    update_success: int = 0
    update_fail: int = 0
    create_success: int = 0
    create_fail: int = 0
    compare_and_swap_success: int = 0
    compare_and_swap_fail: int = 0
    compare_and_delete_success: int = 0
    compare_and_delete_fail: int = 0
    expire_count: int = 0
    watchers: int = 0

    def inc(self, name: str) -> None:
        """Adds one to the counter called ``name`` (a field name, e.g. ``"set_fail"``)."""
        setattr(self, name, getattr(self, name) + 1)

    def clone(self) -> Stats:
        return Stats(**{f.name: getattr(self, f.name) for f in fields(self)})

    def to_dict(self) -> dict[str, Any]:
        return {json_name: getattr(self, name) for name, json_name in _JSON_NAMES.items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Stats:
        return cls(**{name: int(d.get(json_name, 0)) for name, json_name in _JSON_NAMES.items()})

    def to_json(self) -> str:
        return gojson.dumps(self.to_dict())
