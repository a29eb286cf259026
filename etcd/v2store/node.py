"""``Node``: one key or directory of the v2 tree (``v2store/node.go``).

A key holds a string ``value``; a directory holds ``children`` by name. Nodes know their parent so a
node can unlink itself; the TTL heap and the store index they need are passed in by the store.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from etcd.api import v2error
from etcd.v2store.gotime import (
    PERMANENT,
    ZERO_TIME_TEXT,
    format_rfc3339_nano,
    go_duration_seconds_ceil,
    parse_rfc3339,
)
from etcd.v2store.node_extern import NodeExtern
from etcd.v2store.ttl_key_heap import TTLKeyHeap

# Results of Node.compare.
CompareMatch = 0
CompareIndexNotMatch = 1
CompareValueNotMatch = 2
CompareNotMatch = 3


def base_name(path: str) -> str:
    """The last element of a cleaned path (Go's ``path.Split`` file part)."""
    return path[path.rfind("/") + 1 :]


class Node:
    """A key (``children is None``) or a directory (``children`` a dict, insertion ordered).

    ``expire_time`` is in nanoseconds since the epoch, ``PERMANENT`` (0) for none.
    """

    __slots__ = ("children", "created_index", "expire_time", "modified_index", "parent", "path", "value")

    def __init__(
        self,
        path: str,
        created_index: int,
        parent: Node | None,
        expire_time: int,
        *,
        value: str = "",
        is_dir: bool = False,
    ) -> None:
        self.path = path
        self.created_index = created_index
        self.modified_index = created_index
        self.parent = parent
        self.expire_time = expire_time
        self.value = value
        self.children: dict[str, Node] | None = {} if is_dir else None

    def is_hidden(self) -> bool:
        """A name starting with ``_`` is hidden from directory listings and recursive watchers."""
        return base_name(self.path).startswith("_")

    def is_permanent(self) -> bool:
        return self.expire_time == PERMANENT

    def is_dir(self) -> bool:
        return self.children is not None

    def write(self, value: str, index: int) -> None:
        """Sets a key's value and modified index. On a directory it does nothing: etcd ignores the
        "Not a file" error ``Write`` returns there (``store.Update``)."""
        if self.children is not None:
            return
        self.value = value
        self.modified_index = index

    def expiration_and_ttl(self, now: int) -> tuple[int | None, int]:
        """The expiry (ns, or ``None`` if permanent) and the ``ttl`` etcd shows: the seconds left,
        rounded up, so it ranges 1..n while the node lives."""
        if self.is_permanent():
            return None, 0
        return self.expire_time, go_duration_seconds_ceil(self.expire_time - now)

    def get_child(self, name: str, index: int) -> Node | None:
        """The child called ``name`` or ``None``. Raises ``v2error.Error`` 104 if this is a key."""
        if self.children is None:
            raise v2error.Error(v2error.EcodeNotDir, self.path, index)
        return self.children.get(name)

    def add(self, child: Node) -> None:
        """Links ``child`` under this directory; the caller has checked the name is free."""
        assert self.children is not None, "add to a key"
        self.children[base_name(child.path)] = child

    def remove(
        self,
        is_dir: bool,
        recursive: bool,
        callback: Callable[[str], None] | None,
        heap: TTLKeyHeap,
        index: int,
    ) -> None:
        """Unlinks this node (and, for a directory, everything below it, children first).

        ``callback`` gets the path of every node removed. Raises ``v2error.Error`` 102 for a directory
        without ``is_dir`` and 108 for a non-empty directory without ``recursive``; nothing is removed
        then.
        """
        if self.children is None:
            self._unlink()
            if callback is not None:
                callback(self.path)
            if not self.is_permanent():
                heap.remove(self)
            return
        if not is_dir:
            raise v2error.Error(v2error.EcodeNotFile, self.path, index)
        if self.children and not recursive:
            raise v2error.Error(v2error.EcodeDirNotEmpty, self.path, index)
        for child in list(self.children.values()):
            child.remove(True, True, callback, heap, index)
        if self._unlink():
            if callback is not None:
                callback(self.path)
            if not self.is_permanent():
                heap.remove(self)

    def _unlink(self) -> bool:
        parent = self.parent
        name = base_name(self.path)
        if parent is not None and parent.children is not None and parent.children.get(name) is self:
            del parent.children[name]
            return True
        return False

    def repr(self, recursive: bool, sort: bool, now: int) -> NodeExtern:
        """The external view. A directory lists its children (hidden ones left out) only when
        ``recursive``; ``sort`` orders them by key."""
        expiration, ttl = self.expiration_and_ttl(now)
        if self.children is None:
            return NodeExtern(
                key=self.path,
                value=self.value,
                expiration=expiration,
                ttl=ttl,
                modified_index=self.modified_index,
                created_index=self.created_index,
            )
        ext = NodeExtern(
            key=self.path,
            dir=True,
            expiration=expiration,
            ttl=ttl,
            modified_index=self.modified_index,
            created_index=self.created_index,
        )
        if recursive:
            ext.nodes = self.list_children(recursive, sort, now)
        return ext

    def list_children(self, recursive: bool, sort: bool, now: int) -> list[NodeExtern]:
        """The external views of this directory's visible children."""
        assert self.children is not None
        nodes = [c.repr(recursive, sort, now) for c in self.children.values() if not c.is_hidden()]
        if sort:
            nodes.sort(key=lambda n: n.key)
        return nodes

    def update_ttl(self, expire_time: int, heap: TTLKeyHeap) -> None:
        """Sets the expiry (``PERMANENT`` removes it), keeping the heap in step."""
        if not self.is_permanent():
            self.expire_time = expire_time
            if expire_time == PERMANENT:
                heap.remove(self)
            else:
                heap.update(self)
            return
        if expire_time == PERMANENT:
            return
        self.expire_time = expire_time
        heap.push(self)

    def compare(self, prev_value: str, prev_index: int) -> tuple[bool, int]:
        """Tests a key against ``prev_value`` (empty: any) and ``prev_index`` (0: any); returns
        whether both hold and which failed (``CompareMatch`` ... ``CompareNotMatch``)."""
        index_match = prev_index == 0 or self.modified_index == prev_index
        value_match = prev_value == "" or self.value == prev_value
        if value_match and index_match:
            return True, CompareMatch
        if index_match:
            return False, CompareValueNotMatch
        if value_match:
            return False, CompareIndexNotMatch
        return False, CompareNotMatch

    def to_save(self) -> dict[str, Any]:
        """The node as etcd's ``Store.Save`` writes it (Go field names; ``Children`` null for keys)."""
        return {
            "Path": self.path,
            "CreatedIndex": self.created_index,
            "ModifiedIndex": self.modified_index,
            "ExpireTime": format_rfc3339_nano(self.expire_time) if self.expire_time else ZERO_TIME_TEXT,
            "Value": self.value,
            "Children": None
            if self.children is None
            else {name: child.to_save() for name, child in self.children.items()},
        }

    @classmethod
    def from_save(cls, d: dict[str, Any], parent: Node | None) -> Node:
        """The inverse of ``to_save``, relinking parents."""
        children = d.get("Children")
        node = cls(
            d["Path"],
            int(d.get("CreatedIndex", 0)),
            parent,
            parse_rfc3339(d.get("ExpireTime") or ZERO_TIME_TEXT),
            value=d.get("Value", ""),
            is_dir=children is not None,
        )
        node.modified_index = int(d.get("ModifiedIndex", 0))
        if children is not None:
            assert node.children is not None
            for name, child in children.items():
                node.children[name] = cls.from_save(child, node)
        return node

    def walk_ttl_nodes(self, visit: Callable[[Node], None]) -> None:
        """Calls ``visit`` on every node at or below this one that has an expiry, parents first."""
        if not self.is_permanent():
            visit(self)
        if self.children is not None:
            for child in self.children.values():
                child.walk_ttl_nodes(visit)
