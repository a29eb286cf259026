"""The leader's bookkeeping of members: progress, inflight windows, votes."""

from etcd.raft.tracker.inflights import Inflights
from etcd.raft.tracker.progress import Progress
from etcd.raft.tracker.state import StateType
from etcd.raft.tracker.tracker import ProgressTracker

__all__ = ["Inflights", "Progress", "ProgressTracker", "StateType"]
