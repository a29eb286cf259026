"""The merged permission intervals: unit cases, and a Hypothesis property that the cache answers exactly as
etcd 3.4's interval tree does (``pkg/adt`` ``Contains`` / ``Intersects`` with ``BytesAffineComparable``),
re-done here the slow way over a plain list, plus a brute-force coverage check."""

from __future__ import annotations

import functools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from etcd.auth.authpb.auth_pb2 import Permission, Role, User
from etcd.auth.range_perm_cache import IntervalSet, RangePermCache, permission_interval

READ, WRITE, READWRITE = Permission.READ, Permission.WRITE, Permission.READWRITE
Perm = tuple[Permission.Type, bytes, bytes]  # (type, key, range_end)


def cache_of(*perms: Perm, roles: tuple[str, ...] = ("r",)) -> RangePermCache:
    role = Role(name=b"r", keyPermission=[Permission(permType=t, key=k, range_end=e) for t, k, e in perms])
    user = User(name=b"u", roles=list(roles))
    return RangePermCache.build([user], {"r": role})


# -- IntervalSet -----------------------------------------------------------------------------------------


def test_interval_set_merges_overlapping_and_touching() -> None:
    s = IntervalSet()
    s.add(b"c", b"e")
    s.add(b"a", b"b")
    s.add(b"b", b"c")  # touches both neighbours
    s.add(b"x", None)
    s.add(b"y", b"z")  # inside the from-key interval
    assert s.intervals() == [(b"a", b"e"), (b"x", None)]


def test_interval_set_covers() -> None:
    s = IntervalSet()
    s.add(b"b", b"d")
    assert s.covers(b"b", b"d")
    assert s.covers(b"c", b"c\x00")
    assert not s.covers(b"a", b"c")
    assert not s.covers(b"c", b"e")
    assert not s.covers(b"c", None)
    assert not s.contains_key(b"d")
    assert s.contains_key(b"b")


def test_permission_interval_forms() -> None:
    assert permission_interval(b"k", b"") == (b"k", b"k\x00")
    assert permission_interval(b"k", b"\x00") == (b"k", None)
    assert permission_interval(b"a", b"c") == (b"a", b"c")
    assert permission_interval(b"", b"\x00") is None  # an empty begin is +infinity in etcd's tree
    assert permission_interval(b"c", b"a") is None


# -- the cache -------------------------------------------------------------------------------------------


def test_readwrite_adds_to_both_sets() -> None:
    c = cache_of((READWRITE, b"k", b""))
    assert c.is_range_permitted("u", b"k", b"", READ)
    assert c.is_put_permitted("u", b"k")
    assert c.is_delete_range_permitted("u", b"k", b"k\x00")


def test_read_does_not_give_write() -> None:
    c = cache_of((READ, b"k", b""))
    assert c.is_range_permitted("u", b"k", b"", READ)
    assert not c.is_put_permitted("u", b"k")


def test_unknown_user_and_missing_role_have_nothing() -> None:
    c = cache_of((READ, b"k", b""), roles=("r", "gone"))
    assert c.is_range_permitted("u", b"k", b"", READ)
    assert not c.is_range_permitted("v", b"k", b"", READ)
    assert c.has_user("u") and not c.has_user("v")


def test_root_role_is_noted_even_without_a_role_record() -> None:
    c = cache_of(roles=("root",))
    assert c.has_root_role("u")
    assert c.is_admin_permitted("u")
    assert not c.is_range_permitted("u", b"k", b"", READ)  # the store lets root through, not the cache


def test_inverted_query_is_the_key_alone() -> None:
    # etcd 3.4 compat: a request range with range_end <= key meets the intervals holding key.
    c = cache_of((READ, b"m", b""))
    assert c.is_range_permitted("u", b"m", b"a", READ)
    assert c.is_range_permitted("u", b"m", b"m", READ)
    assert not c.is_range_permitted("u", b"n", b"a", READ)


def test_empty_key_query_is_never_permitted() -> None:
    c = cache_of((READ, b"\x00", b"\x00"))
    assert c.is_range_permitted("u", b"\x00", b"\x00", READ)
    assert not c.is_range_permitted("u", b"", b"\x00", READ)
    assert not c.is_range_permitted("u", b"", b"", READ)


def test_unknown_perm_type_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown auth type"):
        cache_of().is_range_permitted("u", b"k", b"", READWRITE)


# -- property: equal to etcd's tree walk -----------------------------------------------------------------


def affine_cmp(a: bytes, b: bytes) -> int:
    """pkg/adt BytesAffineComparable.Compare: an empty slice is greater than every other."""
    if not a:
        return 0 if not b else 1
    if not b:
        return -1
    return (a > b) - (a < b)


def ivl_compare(q: tuple[bytes, bytes], n: tuple[bytes, bytes]) -> int:
    """pkg/adt Interval.Compare: -1 left of, 1 right of, 0 intersecting."""
    if affine_cmp(q[0], n[0]) < 0 and affine_cmp(q[1], n[0]) <= 0:
        return -1
    if affine_cmp(q[0], n[1]) >= 0:
        return 1
    return 0


def _begin_cmp(x: tuple[bytes, bytes], y: tuple[bytes, bytes]) -> int:
    return affine_cmp(x[0], y[0])


def etcd_answer(perms: list[Perm], key: bytes, range_end: bytes, want: Permission.Type) -> bool:
    """etcd 3.4's getMergedPerms + checkKeyPoint/checkKeyInterval, with the tree replaced by a list."""
    nodes = []
    for t, k, e in perms:
        if t != READWRITE and t != want:
            continue
        end = b"" if e == b"\x00" else e
        nodes.append((k, end) if e else (k, k + b"\x00"))
    if not range_end:
        return any(ivl_compare((key, key + b"\x00"), n) == 0 for n in nodes)
    q = (key, b"" if range_end == b"\x00" else range_end)
    visited = sorted(
        (n for n in nodes if ivl_compare(q, n) == 0),
        key=functools.cmp_to_key(_begin_cmp),
    )
    if not visited:
        return False
    min_begin, max_end = visited[0]
    for b, e in visited[1:]:
        if affine_cmp(max_end, b) < 0:
            return False
        if affine_cmp(e, max_end) > 0:
            max_end = e
    return affine_cmp(max_end, q[1]) >= 0 and affine_cmp(min_begin, q[0]) <= 0


def covered(perms: list[Perm], key: bytes, end: bytes | None, want: Permission.Type) -> bool:
    """Brute force for a well-formed non-empty [key, end): every elementary segment between endpoints
    starts at a key some permission holds."""
    ivls = []
    for t, k, e in perms:
        if t in (READWRITE, want) and k:
            ivls.append((k, None if e == b"\x00" else (e or k + b"\x00")))
    points = {key} | {b for b, _ in ivls} | {e for _, e in ivls if e is not None}
    for p in sorted(points):
        if p < key or (end is not None and p >= end):
            continue
        if not any(b <= p and (e is None or p < e) for b, e in ivls):
            return False
    return True


keys = st.binary(max_size=3).map(lambda b: bytes(x % 3 + 0x61 if x % 4 else 0 for x in b))  # a, b, c, \0
range_ends = st.one_of(st.just(b""), st.just(b"\x00"), keys)
perm_lists = st.lists(st.tuples(st.sampled_from([READ, WRITE, READWRITE]), keys, range_ends), max_size=8)


@settings(max_examples=1000, deadline=None)
@given(perms=perm_lists, key=keys, range_end=range_ends, want=st.sampled_from([READ, WRITE]))
def test_cache_answers_as_etcds_interval_tree(
    perms: list[Perm], key: bytes, range_end: bytes, want: Permission.Type
) -> None:
    got = cache_of(*perms).is_range_permitted("u", key, range_end, want)
    assert got == etcd_answer(perms, key, range_end, want)
    end = None if range_end == b"\x00" else (range_end or key + b"\x00")
    if key and (end is None or end > key):
        assert got == covered(perms, key, end, want)
