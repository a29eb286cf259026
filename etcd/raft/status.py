"""A snapshot of a node's state for observers (etcd's ``status.go``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from etcd.raft.raft import Raft, SoftState, StateType
from etcd.raft.raftpb.raft_pb2 import HardState
from etcd.raft.tracker.progress import Progress


@dataclass(frozen=True)
class Status:
    """Who we are, our persistent and volatile state, and (on a leader) every member's progress.

    ``progress`` holds copies, empty unless this node is the leader.
    """

    id: int
    hard_state: HardState
    soft_state: SoftState
    applied: int
    lead_transferee: int
    progress: Mapping[int, Progress] = field(default_factory=dict)

    @property
    def lead(self) -> int:
        return self.soft_state.lead

    @property
    def raft_state(self) -> StateType:
        return self.soft_state.raft_state


def get_status(r: Raft) -> Status:
    progress: dict[int, Progress] = {}
    if r.state == StateType.LEADER:
        progress = {i: pr.clone() for i, pr in r.prs.progress.items()}
    return Status(
        id=r.id,
        hard_state=r.hard_state(),
        soft_state=r.soft_state(),
        applied=r.raft_log.applied,
        lead_transferee=r.lead_transferee,
        progress=progress,
    )
