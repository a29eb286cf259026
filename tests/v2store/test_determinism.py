"""Members apply the same entries to their own v2 stores at different wall times; the trees must agree.

The clock only renders ``ttl`` seconds; expiry happens at the cutoff carried by the applied entry
(the leader's SYNC). So two stores fed the same operations, with clocks hours apart, hold the same
nodes, indices and expiry times.
"""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from etcd.api import v2error
from etcd.v2store import Store, TTLOptionSet

from .conftest import SECOND, T0, ManualClock

paths = st.sampled_from(["/1/a", "/1/b", "/1/a/b", "/1/c/d"])
ops = st.lists(
    st.one_of(
        st.tuples(st.just("set"), paths, st.integers(0, 5)),
        st.tuples(st.just("create"), paths, st.integers(0, 5)),
        st.tuples(st.just("delete"), paths, st.just(0)),
        st.tuples(st.just("sync"), st.just(""), st.integers(0, 6)),
    ),
    max_size=40,
)


def apply(store: Store, op: tuple[str, str, int]) -> None:
    kind, path, n = op
    expire = TTLOptionSet(expire_time=T0 + n * SECOND if n else 0)
    try:
        if kind == "set":
            store.set(path, False, str(n), expire)
        elif kind == "create":
            store.create(path, False, str(n), True, expire)
        elif kind == "delete":
            store.delete(path, True, True)
        else:
            store.delete_expired_keys(T0 + n * SECOND)
    except v2error.Error:
        pass


@settings(max_examples=100, deadline=None)
@given(ops)
def test_members_with_different_clocks_hold_the_same_tree(entries: list[tuple[str, str, int]]) -> None:
    early, late = ManualClock(T0), ManualClock(T0 + 3 * 3600 * SECOND)
    a, b = Store("/0", "/1", clock=early), Store("/0", "/1", clock=late)
    for op in entries:
        apply(a, op)
        apply(b, op)
    sa, sb = json.loads(a.save()), json.loads(b.save())
    assert (sa["Root"], sa["CurrentIndex"]) == (sb["Root"], sb["CurrentIndex"])
