"""Saving the v2 store as etcd's JSON and recovering it (the v2 part of a raft snapshot)."""

from __future__ import annotations

import json

import pytest

from etcd.v2store import Store, TTLOptionSet

from .conftest import SECOND, T0, ManualClock


def populated(clock: ManualClock) -> Store:
    s = Store("/0", "/1", clock=clock)
    s.set("/1/a", False, "1")
    s.set("/1/d/b", False, "2", TTLOptionSet(expire_time=T0 + 10 * SECOND))
    s.create("/1/q", False, "job", True)
    s.set("/1/_hidden", False, "h")
    s.delete("/1/a")
    return s


def test_recovered_store_answers_like_the_original(clock: ManualClock) -> None:
    original = populated(clock)
    copy = Store("/0", "/1", clock=clock)
    copy.recovery(original.save())
    assert copy.index() == original.index() == 5
    assert copy.get("/1", recursive=True, sort=True).to_json() == original.get("/1", True, True).to_json()
    assert copy.get("/1/_hidden").node.value == "h"


def test_saved_json_has_etcd_layout(clock: ManualClock) -> None:
    d = json.loads(populated(clock).save())
    assert list(d) == ["Root", "WatcherHub", "CurrentIndex", "Stats", "CurrentVersion"]
    assert d["CurrentVersion"] == 2
    b = d["Root"]["Children"]["1"]["Children"]["d"]["Children"]["b"]
    assert b == {
        "Path": "/1/d/b",
        "CreatedIndex": 2,
        "ModifiedIndex": 2,
        "ExpireTime": "2026-01-01T00:00:10Z",
        "Value": "2",
        "Children": None,
    }
    assert d["WatcherHub"]["EventHistory"]["Queue"]["Capacity"] == 1000


def test_recovery_rebuilds_ttl_heap(clock: ManualClock) -> None:
    copy = Store("/0", "/1", clock=clock)
    copy.recovery(populated(clock).save())
    assert copy.has_ttl_keys()
    (e,) = copy.delete_expired_keys(T0 + 10 * SECOND)
    assert (e.action, e.node.key, e.node.modified_index) == ("expire", "/1/d/b", 6)


def test_recovery_keeps_event_history(clock: ManualClock) -> None:
    copy = Store("/0", "/1", clock=clock)
    copy.recovery(populated(clock).save())
    e = copy.watch("/1/a", since_index=2).next_event()
    assert e is not None and (e.action, e.node.modified_index) == ("delete", 5)


def test_recovery_keeps_stats(clock: ManualClock) -> None:
    original = populated(clock)
    copy = Store("/0", "/1", clock=clock)
    copy.recovery(original.save())
    assert copy.stats.to_dict() == original.stats.to_dict()


def test_recovery_reads_ring_starting_mid_buffer(clock: ManualClock) -> None:
    # etcd's ring may start anywhere once it has wrapped; events follow Front modulo Capacity.
    s = Store("/0", "/1", clock=clock)
    s.set("/1/k", False, "v")
    d = json.loads(s.save())

    def ev(i):
        return {
            "action": "set",
            "node": {"key": "/1/k", "value": str(i), "modifiedIndex": i, "createdIndex": i},
        }

    d["WatcherHub"]["EventHistory"] = {
        "Queue": {"Events": [ev(4), None, ev(2), ev(3)], "Size": 3, "Front": 2, "Back": 1, "Capacity": 4},
        "StartIndex": 2,
        "LastIndex": 4,
    }
    d["CurrentIndex"] = 4
    copy = Store("/0", "/1", clock=clock)
    copy.recovery(json.dumps(d).encode())
    e = copy.watch("/1/k", since_index=3).next_event()
    assert e is not None and e.node.value == "3"


def test_malformed_state_leaves_store_unchanged(clock: ManualClock) -> None:
    s = populated(clock)
    before = s.save()
    with pytest.raises((ValueError, KeyError)):
        s.recovery(b'{"Root": {}}')
    assert s.save() == before


def test_watchers_survive_recovery(clock: ManualClock) -> None:
    s = Store("/0", "/1", clock=clock)
    w = s.watch("/1/new", since_index=6)
    s.recovery(populated(clock).save())
    s.set("/1/new", False, "x")
    e = w.next_event()
    assert e is not None and e.node.modified_index == 6
