"""``Event``: the answer to every v2 store operation and what watchers receive (``v2store/event.go``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from etcd.pkg import gojson
from etcd.v2store.node_extern import NodeExtern

# Actions, as they appear in the JSON field "action".
Get = "get"
Create = "create"
Set = "set"
Update = "update"
Delete = "delete"
CompareAndSwap = "compareAndSwap"
CompareAndDelete = "compareAndDelete"
Expire = "expire"


@dataclass(slots=True)
class Event:
    """One change (or one read) of the store.

    ``etcd_index`` is the store index when the event was answered: the ``X-Etcd-Index`` header, never
    part of the JSON body. ``refresh`` marks a TTL refresh, which watchers never see.
    """

    action: str
    node: NodeExtern
    prev_node: NodeExtern | None = None
    etcd_index: int = 0
    refresh: bool = False

    def index(self) -> int:
        """The store index this event happened at: its node's ``modifiedIndex``."""
        return self.node.modified_index

    def is_created(self) -> bool:
        """Whether the event made a new node (HTTP 201 rather than 200)."""
        if self.action == Create:
            return True
        return self.action == Set and self.prev_node is None

    def clone(self) -> Event:
        """A deep copy."""
        return Event(
            action=self.action,
            node=self.node.clone(),
            prev_node=None if self.prev_node is None else self.prev_node.clone(),
            etcd_index=self.etcd_index,
            refresh=self.refresh,
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON object etcd prints: ``action``, ``node``, ``prevNode`` (if any), ``refresh`` (if
        true)."""
        d: dict[str, Any] = {"action": self.action, "node": self.node.to_dict()}
        if self.prev_node is not None:
            d["prevNode"] = self.prev_node.to_dict()
        if self.refresh:
            d["refresh"] = True
        return d

    def to_json(self) -> str:
        """The body as etcd writes it, without the trailing newline the HTTP layer adds."""
        return gojson.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Event:
        """The inverse of ``to_dict``; ``etcd_index`` is not saved and comes back as 0."""
        prev = d.get("prevNode")
        return cls(
            action=d["action"],
            node=NodeExtern.from_dict(d.get("node") or {}),
            prev_node=None if prev is None else NodeExtern.from_dict(prev),
            refresh=bool(d.get("refresh", False)),
        )


def new_event(action: str, key: str, modified_index: int, created_index: int) -> Event:
    """An event whose node carries only its key and indices; the caller fills in the rest."""
    return Event(
        action=action, node=NodeExtern(key=key, modified_index=modified_index, created_index=created_index)
    )
