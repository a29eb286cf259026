"""In-memory harnesses for testing and benchmarking raft (etcd's ``rafttest`` and ``raft_test.go``)."""

from etcd.raft.rafttest.cluster import Cluster, ClusterNode
from etcd.raft.rafttest.network import BLACK_HOLE, Network, new_test_config, new_test_raft

__all__ = ["BLACK_HOLE", "Cluster", "ClusterNode", "Network", "new_test_config", "new_test_raft"]
