"""The replication states of a follower's progress (etcd's ``tracker/state.go``)."""

from __future__ import annotations

import enum


class StateType(enum.Enum):
    """How the leader sends appends to one follower (see ``raft/design.md`` in etcd)."""

    PROBE = 0  # one append per heartbeat until the follower's match is known
    REPLICATE = 1  # optimistic pipelining, bounded by the inflights window
    SNAPSHOT = 2  # a snapshot is on its way; no appends until it is reported

    def __str__(self) -> str:
        return "State" + self.name.capitalize()
