"""The cluster's members as raft has agreed on them (etcd 3.4's ``etcdserver/api/membership``).

Members enter through committed raft conf changes, whose context is the member's JSON, and publish their
name and client URLs through a committed v2 ``PUT /0/members/<id>/attributes``. As in etcd 3.4 the v2
store's ``/0`` tree is where membership lives (``/0/members/<id>/raftAttributes``, ``.../attributes``,
``/0/removed_members/<id>``, ``/0/version``): it is in every raft snapshot, so a restarting member rebuilds
the list with ``recover()`` from the store it restored. Every change is made while applying a committed
entry, the same way on every member.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from etcd.api.v2error import Error as V2Error
from etcd.raft.raftpb.raft_pb2 import (
    ConfChange,
    ConfChangeAddLearnerNode,
    ConfChangeAddNode,
    ConfChangeRemoveNode,
    ConfChangeUpdateNode,
)
from etcd.v2store import Store, TTLOptionSet

MEMBERS_PREFIX = "/0/members"
REMOVED_PREFIX = "/0/removed_members"
VERSION_KEY = "/0/version"


@dataclass
class Member:
    """One member: raft attributes (peer URLs, learner) and published attributes (name, client URLs)."""

    id: int
    peer_urls: list[str] = field(default_factory=list)
    name: str = ""
    client_urls: list[str] = field(default_factory=list)
    is_learner: bool = False

    def to_json(self) -> bytes:
        """The conf change context: etcd's member JSON."""
        d: dict[str, object] = {"id": self.id, "peerURLs": self.peer_urls}
        if self.is_learner:
            d["isLearner"] = True
        if self.name:
            d["name"] = self.name
        if self.client_urls:
            d["clientURLs"] = self.client_urls
        return json.dumps(d, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Member:
        d = json.loads(data)
        return cls(
            id=int(d["id"]),
            peer_urls=list(d.get("peerURLs") or []),
            name=d.get("name", ""),
            client_urls=list(d.get("clientURLs") or []),
            is_learner=bool(d.get("isLearner", False)),
        )


class RaftCluster:
    """The member list kept in ``store``'s ``/0`` tree; see the module docstring."""

    def __init__(self, cluster_id: int, local_id: int, store: Store) -> None:
        self.cluster_id = cluster_id
        self.local_id = local_id
        self.store = store
        self._members: dict[int, Member] = {}
        self._removed: set[int] = set()
        self.version: str | None = None

    # -- reading

    def members(self) -> list[Member]:
        """Every member, by id."""
        return [self._members[i] for i in sorted(self._members)]

    def member(self, member_id: int) -> Member | None:
        return self._members.get(member_id)

    def is_removed(self, member_id: int) -> bool:
        return member_id in self._removed

    def client_urls(self) -> list[str]:
        """Every member's client URLs, sorted (``/v2/machines``)."""
        return sorted(u for m in self._members.values() for u in m.client_urls)

    def recover(self) -> None:
        """Rebuilds the list from the store (after a restart or an installed snapshot)."""
        self._members.clear()
        self._removed.clear()
        self.version = None
        for node in self._children(MEMBERS_PREFIX):
            member_id = int(node.rsplit("/", 1)[1], 16)
            raft_attrs = self._value(f"{node}/raftAttributes")
            if raft_attrs is None:
                continue
            ra = json.loads(raft_attrs)
            m = Member(member_id, list(ra.get("peerURLs") or []), is_learner=bool(ra.get("isLearner")))
            attrs = self._value(f"{node}/attributes")
            if attrs is not None:
                a = json.loads(attrs)
                m.name = a.get("name", "")
                m.client_urls = list(a.get("clientURLs") or [])
            self._members[member_id] = m
        for node in self._children(REMOVED_PREFIX):
            self._removed.add(int(node.rsplit("/", 1)[1], 16))
        self.version = self._value(VERSION_KEY)

    # -- applying committed changes

    def apply_conf_change(self, cc: ConfChange) -> None:
        """A committed conf change (raft has applied it already)."""
        if cc.type in (ConfChangeAddNode, ConfChangeAddLearnerNode):
            m = Member.from_json(cc.context) if cc.context else Member(cc.node_id)
            m.id = cc.node_id
            existing = self._members.get(m.id)
            if existing is not None and existing.is_learner and cc.type == ConfChangeAddNode:
                existing.is_learner = False  # a promotion
                m = existing
            self._add(m)
        elif cc.type == ConfChangeRemoveNode:
            self._members.pop(cc.node_id, None)
            self._removed.add(cc.node_id)
            self._set(f"{REMOVED_PREFIX}/{cc.node_id:016x}", "removed")
            self._delete_dir(f"{MEMBERS_PREFIX}/{cc.node_id:016x}")
        elif cc.type == ConfChangeUpdateNode and cc.context:
            m = Member.from_json(cc.context)
            cur = self._members.get(cc.node_id)
            if cur is not None:
                cur.peer_urls = m.peer_urls
                self._save_raft_attributes(cur)

    def set_attributes(self, member_id: int, value: str) -> None:
        """A committed ``PUT /0/members/<id>/attributes`` (the member published its name and URLs)."""
        a = json.loads(value)
        m = self._members.get(member_id)
        if m is None:
            return  # etcd ignores attributes of a member that is gone
        m.name = a.get("name", "")
        m.client_urls = list(a.get("clientURLs") or [])
        self._set(f"{MEMBERS_PREFIX}/{member_id:016x}/attributes", _attributes_json(m))

    def set_version(self, version: str) -> None:
        """A committed ``PUT /0/version``: the cluster version (``"3.4.0"``)."""
        self.version = version
        self._set(VERSION_KEY, version)

    def _add(self, m: Member) -> None:
        self._members[m.id] = m
        self._save_raft_attributes(m)
        if m.name or m.client_urls:
            self._set(f"{MEMBERS_PREFIX}/{m.id:016x}/attributes", _attributes_json(m))

    def _save_raft_attributes(self, m: Member) -> None:
        ra: dict[str, object] = {"peerURLs": m.peer_urls}
        if m.is_learner:
            ra["isLearner"] = True
        self._set(f"{MEMBERS_PREFIX}/{m.id:016x}/raftAttributes", json.dumps(ra, separators=(",", ":")))

    # -- the store

    def _set(self, path: str, value: str) -> None:
        self.store.set(path, False, value, TTLOptionSet())

    def _delete_dir(self, path: str) -> None:
        try:
            self.store.delete(path, True, True)
        except V2Error:
            pass

    def _value(self, path: str) -> str | None:
        try:
            ev = self.store.get(path)
        except V2Error:
            return None
        return ev.node.value if ev.node is not None else None

    def _children(self, path: str) -> Iterable[str]:
        try:
            ev = self.store.get(path)
        except V2Error:
            return []
        node = ev.node
        if node is None or not node.nodes:
            return []
        return [n.key for n in node.nodes if n.dir]


def _attributes_json(m: Member) -> str:
    d: dict[str, object] = {"name": m.name}
    if m.client_urls:
        d["clientURLs"] = m.client_urls
    return json.dumps(d, separators=(",", ":"))
