"""The ResponseHeader every v3 reply carries (etcd's ``v3rpc/header.go``): cluster id, member id, raft
term, and the store's current revision unless the reply already set one."""

from __future__ import annotations

from etcd.api.etcdserverpb import rpc_pb2 as pb
from etcd.api.v3rpc.server_api import V3Server


class Header:
    """Fills headers from one member."""

    def __init__(self, server: V3Server) -> None:
        self._server = server

    def fill(self, h: pb.ResponseHeader) -> pb.ResponseHeader:
        """Sets ``h``'s cluster id, member id and raft term, and its revision if 0; returns ``h``."""
        s = self._server
        h.cluster_id = s.cluster_id
        h.member_id = s.id
        h.raft_term = s.term()
        if h.revision == 0:
            h.revision = s.kv.rev()
        return h

    def new(self, revision: int = 0) -> pb.ResponseHeader:
        """A filled header at ``revision`` (0: the current one)."""
        return self.fill(pb.ResponseHeader(revision=revision))

    def exact(self, revision: int) -> pb.ResponseHeader:
        """A header at exactly ``revision``, 0 left as 0 (etcd's watch ``newResponseHeader``: a compacted
        watch's cancel reply has no revision)."""
        s = self._server
        return pb.ResponseHeader(
            cluster_id=s.cluster_id, member_id=s.id, revision=revision, raft_term=s.term()
        )
