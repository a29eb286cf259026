"""Framing of raft messages on the wire, sans-IO (etcd's ``rafthttp/msg_codec.go``).

A stream (``/raft/stream/message/<id>``) and the head of a snapshot body (``/raft/snapshot``) carry
messages as an 8-byte big-endian length followed by the protobuf bytes. Idle streams carry the link
heartbeat, an empty ``MsgHeartbeat`` (from and to 0) that raft never sees. ``Decoder`` only buffers the
bytes it is fed and returns whole messages; it never reads a socket.
"""

from __future__ import annotations

import struct

from etcd.raft.raftpb import raft_pb2 as pb
from etcd.raft.raftpb.raft_pb2 import Message
from etcd.rafthttp.errors import ErrExceedSizeLimit

_LEN = struct.Struct(">Q")
LEN_SIZE = _LEN.size
# etcd 3.4 compat: rafthttp/msg_codec.go readBytesLimit: a stream refuses messages over 512 MiB.
MAX_MESSAGE_BYTES = 512 * 1024 * 1024


def link_heartbeat() -> Message:
    """etcd's ``linkHeartbeatMessage``: keeps an idle stream from hitting the reader's timeout."""
    return Message(type=pb.MsgHeartbeat)


def is_link_heartbeat(m: Message) -> bool:
    return m.type == pb.MsgHeartbeat and m.from_ == 0 and m.to == 0


def frame(payload: bytes) -> bytes:
    """The length prefix and ``payload`` (a serialised Message)."""
    return _LEN.pack(len(payload)) + payload


def encode(m: Message) -> bytes:
    return frame(m.SerializeToString())


# The link heartbeat's frame. (Not 8 zero bytes: an empty message is a MsgHup, which makes etcd campaign.)
LINK_HEARTBEAT = encode(link_heartbeat())


def parse_length(head: bytes, limit: int = MAX_MESSAGE_BYTES) -> int:
    """The length in an 8-byte prefix. Raises ErrExceedSizeLimit over ``limit``."""
    (n,) = _LEN.unpack(head)
    if n > limit:
        raise ErrExceedSizeLimit()
    return int(n)


class Decoder:
    """Cuts a byte stream into messages.

    ``feed(data)`` returns the payloads completed by ``data`` (possibly none), in order, link heartbeats
    included: the caller decodes them and skips what ``is_link_heartbeat`` (etcd 3.4 writes every field,
    so its heartbeat is not empty) and empty payloads (which would be a MsgHup). Raises
    ErrExceedSizeLimit when a prefix announces more than ``limit`` bytes; the stream is then unusable.
    """

    def __init__(self, limit: int = MAX_MESSAGE_BYTES) -> None:
        self._buf = bytearray()
        self._need = -1  # payload length being waited for, -1 while the prefix is incomplete
        self._limit = limit

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        out: list[bytes] = []
        buf = self._buf
        pos = 0
        end = len(buf)
        while True:
            if self._need < 0:
                if end - pos < LEN_SIZE:
                    break
                self._need = parse_length(bytes(buf[pos : pos + LEN_SIZE]), self._limit)
                pos += LEN_SIZE
            if end - pos < self._need:
                break
            out.append(bytes(buf[pos : pos + self._need]))
            pos += self._need
            self._need = -1
        if pos:
            del buf[:pos]
        return out
