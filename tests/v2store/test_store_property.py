"""Hypothesis state machine: the v2 store against a dict of paths, with TTLs on an injected clock.

Every rule runs the same operation on the store and on the model and compares the outcome (event
fields, or error code and cause); after every step the whole tree, the index and the TTL heap must
match. Longer runs: ETCDPY_LONG=1.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from etcd.api import v2error
from etcd.v2store import PERMANENT, Event, Store, TTLOptionSet
from etcd.v2store.node import Node

from .conftest import SECOND, T0, ManualClock

LONG = os.environ.get("ETCDPY_LONG") == "1"

# Few paths, so that operations often meet existing nodes, directories above keys and hidden names.
paths = st.sampled_from(["/1/a", "/1/b", "/1/_c", "/1/a/b", "/1/a/_c", "/1/a/b/a", "/1/b/a"])
values = st.sampled_from(["", "x", "y"])
expiries = st.one_of(st.just(PERMANENT), st.integers(1, 6).map(lambda s: T0 + s * SECOND))


@dataclass(frozen=True)
class M:
    """A model node."""

    is_dir: bool
    value: str
    created: int
    modified: int
    expire: int


class ModelError(Exception):
    def __init__(self, code: int, cause: str) -> None:
        self.code, self.cause = code, cause


def parent_of(p: str) -> str:
    return p.rsplit("/", 1)[0] or "/"


def ancestors(p: str) -> list[str]:
    parts = p.split("/")[1:]
    return ["/" + "/".join(parts[:i]) for i in range(1, len(parts))]


class V2StoreMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock()
        self.store = Store("/0", "/1", clock=self.clock)
        self.model: dict[str, M] = {"/0": M(True, "", 0, 0, PERMANENT), "/1": M(True, "", 0, 0, PERMANENT)}
        self.index = 0

    # -- model -----------------------------------------------------------------------------------

    def m_get(self, p: str) -> M:
        for a in [*ancestors(p), p]:
            parent = parent_of(a)
            if parent != "/" and not self.model[parent].is_dir:
                raise ModelError(104, parent)
            if a not in self.model:
                raise ModelError(100, a)
        return self.model[p]

    def m_subtree(self, p: str) -> list[str]:
        return [q for q in self.model if q == p or q.startswith(p + "/")]

    def m_make_parents(self, p: str) -> None:
        for a in ancestors(p):
            node = self.model.get(a)
            if node is None:
                self.model[a] = M(True, "", self.index + 1, self.index + 1, PERMANENT)
            elif not node.is_dir:
                raise ModelError(104, a)

    def check_parents(self, p: str) -> None:
        for a in ancestors(p):
            node = self.model.get(a)
            if node is None:
                return
            if not node.is_dir:
                raise ModelError(104, a)

    def run(self, store_op, model_op) -> Event | None:  # type: ignore[no-untyped-def]
        try:
            expected = model_op()
        except ModelError as me:
            try:
                store_op()
            except v2error.Error as err:
                assert (err.error_code, err.cause) == (me.code, me.cause)
                return None
            raise AssertionError(f"store succeeded where the model failed with {me.code}") from None
        e = store_op()
        assert (e.action, e.node.key, e.node.modified_index, e.node.created_index) == expected
        return e

    # -- rules -------------------------------------------------------------------------------------

    @rule(p=paths, is_dir=st.booleans(), value=values, expire=expiries)
    def set(self, p: str, is_dir: bool, value: str, expire: int) -> None:
        def model() -> tuple[str, str, int, int]:
            self.check_parents(p)
            old = self.model.get(p)
            if old is not None and old.is_dir:
                raise ModelError(102, p)
            self.m_make_parents(p)
            self.index += 1
            self.model[p] = M(is_dir, "" if is_dir else value, self.index, self.index, expire)
            return ("set", p, self.index, self.index)

        self.run(lambda: self.store.set(p, is_dir, value, TTLOptionSet(expire_time=expire)), model)

    @rule(p=paths, is_dir=st.booleans(), value=values, expire=expiries)
    def create(self, p: str, is_dir: bool, value: str, expire: int) -> None:
        def model() -> tuple[str, str, int, int]:
            self.check_parents(p)
            if p in self.model:
                raise ModelError(105, p)
            self.m_make_parents(p)
            self.index += 1
            self.model[p] = M(is_dir, "" if is_dir else value, self.index, self.index, expire)
            return ("create", p, self.index, self.index)

        self.run(lambda: self.store.create(p, is_dir, value, False, TTLOptionSet(expire_time=expire)), model)

    @rule(p=paths, value=values, expire=expiries)
    def update(self, p: str, value: str, expire: int) -> None:
        def model() -> tuple[str, str, int, int]:
            old = self.m_get(p)
            if old.is_dir and value:
                raise ModelError(102, p)
            self.index += 1
            modified = old.modified if old.is_dir else self.index
            self.model[p] = replace(
                old, value=old.value if old.is_dir else value, modified=modified, expire=expire
            )
            return ("update", p, self.index, old.created)

        self.run(lambda: self.store.update(p, value, TTLOptionSet(expire_time=expire)), model)

    @rule(p=paths, prev_value=values, use_index=st.booleans(), value=values)
    def compare_and_swap(self, p: str, prev_value: str, use_index: bool, value: str) -> None:
        prev_index = self.index if use_index else 0

        def model() -> tuple[str, str, int, int]:
            old = self.m_get(p)
            if old.is_dir:
                raise ModelError(102, p)
            self.compare(old, prev_value, prev_index)
            self.index += 1
            self.model[p] = replace(old, value=value, modified=self.index, expire=PERMANENT)
            return ("compareAndSwap", p, self.index, old.created)

        self.run(lambda: self.store.compare_and_swap(p, prev_value, prev_index, value), model)

    @rule(p=paths, prev_value=values, use_index=st.booleans())
    def compare_and_delete(self, p: str, prev_value: str, use_index: bool) -> None:
        prev_index = self.index if use_index else 0

        def model() -> tuple[str, str, int, int]:
            old = self.m_get(p)
            if old.is_dir:
                raise ModelError(102, p)
            self.compare(old, prev_value, prev_index)
            self.index += 1
            del self.model[p]
            return ("compareAndDelete", p, self.index, old.created)

        self.run(lambda: self.store.compare_and_delete(p, prev_value, prev_index), model)

    def compare(self, old: M, prev_value: str, prev_index: int) -> None:
        value_ok = prev_value == "" or old.value == prev_value
        index_ok = prev_index == 0 or old.modified == prev_index
        if value_ok and index_ok:
            return
        if index_ok:
            raise ModelError(101, f"[{prev_value} != {old.value}]")
        if value_ok:
            raise ModelError(101, f"[{prev_index} != {old.modified}]")
        raise ModelError(101, f"[{prev_value} != {old.value}] [{prev_index} != {old.modified}]")

    @rule(p=paths, is_dir=st.booleans(), recursive=st.booleans())
    def delete(self, p: str, is_dir: bool, recursive: bool) -> None:
        def model() -> tuple[str, str, int, int]:
            old = self.m_get(p)
            subtree = self.m_subtree(p)
            if old.is_dir and not (is_dir or recursive):
                raise ModelError(102, p)
            if old.is_dir and len(subtree) > 1 and not recursive:
                raise ModelError(108, p)
            for q in subtree:
                del self.model[q]
            self.index += 1
            return ("delete", p, self.index, old.created)

        self.run(lambda: self.store.delete(p, is_dir, recursive), model)

    @rule(p=paths)
    def get(self, p: str) -> None:
        def model() -> tuple[str, str, int, int]:
            node = self.m_get(p)
            return ("get", p, node.modified, node.created)

        e = self.run(lambda: self.store.get(p, recursive=True, sort=True), model)
        if e is not None and e.node.dir:
            children = sorted(
                q for q in self.model if parent_of(q) == p and not q.rsplit("/", 1)[1].startswith("_")
            )
            assert [n.key for n in e.node.nodes or []] == children

    @rule(seconds=st.integers(0, 4))
    def advance_and_expire(self, seconds: int) -> None:
        self.clock.advance(seconds)
        cutoff = self.clock.now
        due = sorted(
            (m.expire, q) for q, m in self.model.items() if m.expire != PERMANENT and m.expire <= cutoff
        )
        expected = []
        for _, q in due:
            if q not in self.model:
                continue
            self.index += 1
            expected.append((q, self.index))
            for r in self.m_subtree(q):
                del self.model[r]
        events = self.store.delete_expired_keys(cutoff)
        assert [(e.node.key, e.node.modified_index) for e in events] == expected

    @rule()
    def save_and_recover(self) -> None:
        fresh = Store("/0", "/1", clock=self.clock)
        fresh.recovery(self.store.save())
        self.store = fresh

    # -- invariants --------------------------------------------------------------------------------

    @invariant()
    def tree_matches_model(self) -> None:
        seen: dict[str, M] = {}

        def walk(n: Node) -> None:
            for child in (n.children or {}).values():
                seen[child.path] = M(
                    child.is_dir(), child.value, child.created_index, child.modified_index, child.expire_time
                )
                walk(child)

        walk(self.store.root)
        assert seen == self.model
        assert self.store.index() == self.index
        assert self.store.has_ttl_keys() == any(m.expire != PERMANENT for m in self.model.values())


V2StoreMachine.TestCase.settings = settings(
    max_examples=1000 if LONG else 150, stateful_step_count=60 if LONG else 40, deadline=None
)
test_v2store_against_model = V2StoreMachine.TestCase
