"""Each user's key permissions merged into read and write interval sets (etcd's ``auth/range_perm_cache.go``).

The auth store rebuilds the whole cache from the backend after every change to users or roles, as etcd
does, and swaps it in at once; a permission check then answers from memory, without a backend read.

etcd keeps the intervals in an interval tree (``pkg/adt``) whose byte keys order an *empty* key after
every other ("BytesAffineComparable"), so an empty ``range_end`` of the "from key" form means +infinity
and an empty *begin* means +infinity too. Here every set is kept merged: disjoint, touching intervals
joined, sorted by begin (a ``SortedDict`` from begin to end), so "is [key, end) covered?" is one lookup.
The answers equal etcd's tree walk (``Contains``: the intervals meeting the range cover it without a gap;
``Intersects`` for a single key), including its edge cases, each marked below.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sortedcontainers import SortedDict

from etcd.auth.authpb.auth_pb2 import Permission, Role, User

READ = Permission.READ
WRITE = Permission.WRITE
READWRITE = Permission.READWRITE

ROOT_ROLE = "root"

# An interval [begin, end): end None is +infinity ("from key").
Interval = tuple[bytes, bytes | None]


def _end_ge(a: bytes | None, b: bytes | None) -> bool:
    """``a >= b`` for interval ends, None being +infinity."""
    if a is None:
        return True
    if b is None:
        return False
    return a >= b


class IntervalSet:
    """A union of half-open byte intervals, kept merged (disjoint, touching ones joined, sorted)."""

    def __init__(self) -> None:
        self._ivs: SortedDict = SortedDict()  # begin -> end (bytes, or None for +infinity)

    def add(self, begin: bytes, end: bytes | None) -> None:
        """Adds [begin, end); ``end`` must be None or greater than ``begin``."""
        ivs = self._ivs
        i = ivs.bisect_right(begin) - 1
        # Merge from the interval beginning at or before ``begin`` if it reaches ``begin``.
        start = i if i >= 0 and _end_ge(ivs.peekitem(i)[1], begin) else i + 1
        new_begin, new_end = begin, end
        j = start
        while j < len(ivs):
            b, e = ivs.peekitem(j)
            if end is not None and b > end:
                break  # begins after our end (touching, b == end, still merges)
            new_begin = min(new_begin, b)
            new_end = new_end if _end_ge(new_end, e) else e
            j += 1
        for k in list(ivs.keys()[start:j]):
            del ivs[k]
        ivs[new_begin] = new_end

    def covers(self, begin: bytes, end: bytes | None) -> bool:
        """Whether every key of the non-empty range [begin, end) is in the set."""
        ivs = self._ivs
        i = ivs.bisect_right(begin) - 1
        if i < 0:
            return False
        return _end_ge(ivs.peekitem(i)[1], end)

    def contains_key(self, key: bytes) -> bool:
        # A key is the interval [key, key + b"\0"): nothing sorts between them.
        return self.covers(key, key + b"\0")

    def intervals(self) -> list[Interval]:
        return list(self._ivs.items())


def permission_interval(key: bytes, range_end: bytes) -> Interval | None:
    """The keys a permission grants, as etcd's ``getMergedPerms`` builds them; None when it grants none.

    An empty ``range_end`` is the key alone, ``b"\\0"`` every key from ``key`` on, else [key, range_end).
    """
    if not key:
        # etcd 3.4 compat (pkg/adt BytesAffineComparable): an empty begin sorts after every key, so such a
        # permission meets no request. etcdctl sends "\0" for an empty --prefix / --from-key key for this.
        return None
    if not range_end:
        return key, key + b"\0"
    if range_end == b"\0":
        return key, None
    if range_end <= key:
        # An inverted permission: etcd's tree stores it, but it never changes a Contains or Intersects answer.
        return None
    return key, range_end


def is_interval_permitted(perms: IntervalSet, key: bytes, range_end: bytes) -> bool:
    """etcd's ``checkKeyPoint`` (empty ``range_end``) or ``checkKeyInterval`` over one merged set."""
    if not key:
        return False  # etcd 3.4 compat: an empty begin is +infinity, which meets no interval
    if not range_end:
        return perms.contains_key(key)
    end = None if range_end == b"\0" else range_end
    if end is not None and end <= key:
        # etcd 3.4 compat (pkg/adt Interval.Compare): an empty or inverted range meets exactly the
        # intervals holding ``key``, so it is permitted when ``key`` is.
        return perms.contains_key(key)
    return perms.covers(key, end)


class UnifiedRangePermissions:
    """One user's permissions from all of its roles: a read set and a write set (READWRITE adds to both)."""

    def __init__(self) -> None:
        self.read = IntervalSet()
        self.write = IntervalSet()

    def add(self, perm: Permission) -> None:
        ivl = permission_interval(perm.key, perm.range_end)
        if ivl is None:
            return
        if perm.permType in (READ, READWRITE):
            self.read.add(*ivl)
        if perm.permType in (WRITE, READWRITE):
            self.write.add(*ivl)


class RangePermCache:
    """Merged permissions of every user, and who holds the root role; immutable once built.

    ``build`` reads what ``getMergedPerms`` reads: each user's roles, skipping roles that do not exist.
    """

    def __init__(self, perms: dict[str, UnifiedRangePermissions], roots: frozenset[str]) -> None:
        self._perms = perms
        self._roots = roots

    @classmethod
    def build(cls, users: Iterable[User], roles: Mapping[str, Role]) -> RangePermCache:
        perms: dict[str, UnifiedRangePermissions] = {}
        roots: set[str] = set()
        for user in users:
            name = user.name.decode()
            unified = UnifiedRangePermissions()
            for role_name in user.roles:
                if role_name == ROOT_ROLE:
                    roots.add(name)
                role = roles.get(role_name)
                if role is None:
                    continue
                for perm in role.keyPermission:
                    unified.add(perm)
            perms[name] = unified
        return cls(perms, frozenset(roots))

    def has_user(self, user: str) -> bool:
        return user in self._perms

    def has_root_role(self, user: str) -> bool:
        return user in self._roots

    def is_range_permitted(self, user: str, key: bytes, range_end: bytes, perm_type: int) -> bool:
        """Whether ``user``'s roles grant ``perm_type`` (READ or WRITE) on [key, range_end).

        ``range_end`` is as in a request: empty for ``key`` alone, ``b"\\0"`` for every key from ``key`` on.
        The root role is not considered here (the store lets a root user through before asking).
        An unknown user has no permissions.

        Raises:
            ValueError: ``perm_type`` is neither READ nor WRITE (etcd panics).
        """
        unified = self._perms.get(user)
        if perm_type == READ:
            return unified is not None and is_interval_permitted(unified.read, key, range_end)
        if perm_type == WRITE:
            return unified is not None and is_interval_permitted(unified.write, key, range_end)
        raise ValueError(f"unknown auth type: {perm_type}")

    def is_put_permitted(self, user: str, key: bytes) -> bool:
        return self.is_range_permitted(user, key, b"", WRITE)

    def is_delete_range_permitted(self, user: str, key: bytes, range_end: bytes) -> bool:
        return self.is_range_permitted(user, key, range_end, WRITE)

    def is_admin_permitted(self, user: str) -> bool:
        return self.has_root_role(user)
