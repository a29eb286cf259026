"""Quorum arithmetic: which index a majority has acknowledged, and who won a vote."""

from etcd.raft.quorum.majority import MajorityConfig
from etcd.raft.quorum.quorum import VoteResult

__all__ = ["MajorityConfig", "VoteResult"]
