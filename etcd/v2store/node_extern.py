"""``NodeExtern``: a node as the v2 API shows it (etcd's ``v2store/node_extern.go``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from etcd.v2store.gotime import format_rfc3339_nano, parse_rfc3339


@dataclass(slots=True)
class NodeExtern:
    """The external view of a key or directory, with its remaining ``ttl`` in seconds.

    ``expiration`` is in nanoseconds since the epoch (``None``: the node never expires). ``value`` is
    ``None`` for directories and a string (maybe empty) for keys. ``nodes`` is the listing of a
    directory when it was asked for (``None`` otherwise).
    """

    key: str = ""
    value: str | None = None
    dir: bool = False
    expiration: int | None = None
    ttl: int = 0
    nodes: list[NodeExtern] | None = None
    modified_index: int = 0
    created_index: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The JSON object etcd prints: Go's field order and its ``omitempty`` rules (no ``key`` when
        empty, ``value`` whenever set even if empty, ``dir`` only when true, no zero ``ttl`` or index,
        no empty ``nodes``)."""
        d: dict[str, Any] = {}
        if self.key:
            d["key"] = self.key
        if self.value is not None:
            d["value"] = self.value
        if self.dir:
            d["dir"] = True
        if self.expiration is not None:
            d["expiration"] = format_rfc3339_nano(self.expiration)
        if self.ttl:
            d["ttl"] = self.ttl
        if self.nodes:
            d["nodes"] = [n.to_dict() for n in self.nodes]
        if self.modified_index:
            d["modifiedIndex"] = self.modified_index
        if self.created_index:
            d["createdIndex"] = self.created_index
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NodeExtern:
        """The inverse of ``to_dict`` (used when a saved event history is recovered)."""
        expiration = d.get("expiration")
        nodes = d.get("nodes")
        return cls(
            key=d.get("key", ""),
            value=d.get("value"),
            dir=bool(d.get("dir", False)),
            expiration=None if expiration is None else parse_rfc3339(expiration),
            ttl=int(d.get("ttl", 0)),
            nodes=None if nodes is None else [cls.from_dict(n) for n in nodes],
            modified_index=int(d.get("modifiedIndex", 0)),
            created_index=int(d.get("createdIndex", 0)),
        )

    def clone(self) -> NodeExtern:
        """A deep copy."""
        return NodeExtern(
            key=self.key,
            value=self.value,
            dir=self.dir,
            expiration=self.expiration,
            ttl=self.ttl,
            nodes=None if self.nodes is None else [n.clone() for n in self.nodes],
            modified_index=self.modified_index,
            created_index=self.created_index,
        )
