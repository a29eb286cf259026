"""The transport between two endpoints on real 127.0.0.1 sockets, with a recording raft on each side:
which channel carries what, the bounded queue, snapshots streamed to a file, and etcd's refusals."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import tracemalloc
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest
from prometheus_client import REGISTRY

from etcd.raft.raftpb import raft_pb2 as pb
from etcd.raft.raftpb.raft_pb2 import Entry, Message
from etcd.rafthttp import ErrClusterIDMismatch, ErrMemberRemoved, Transport, compat
from etcd.rafthttp.stream import STREAM_BUF_SIZE
from tests.rafthttp.peers import Inbox, Pair, start_pair, url
from tests.real_etcd import free_ports

pytestmark = pytest.mark.timeout(30)


async def wait_until(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not cond():
            await asyncio.sleep(0.01)


def app(i: int, to: int = 2, frm: int = 1, size: int = 10) -> Message:
    """A MsgApp whose one entry holds str(i) repeated ``size`` times."""
    return Message(
        type=pb.MsgApp, to=to, from_=frm, term=3, index=i, entries=[Entry(index=i + 1, data=b"%d" % i * size)]
    )


def metric(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
async def pair() -> AsyncIterator[Pair]:
    p = await start_pair(free_ports(2))
    try:
        yield p
    finally:
        await p.close()


async def test_stream_carries_messages_in_order_in_batches(pair: Pair) -> None:
    writer = pair.a.tr.peer(2).writer  # type: ignore[union-attr]
    await wait_until(lambda: writer.working)
    assert pair.a.tr.active_since(2) is not None
    sent_before = metric("etcd_network_peer_sent_bytes_total", {"To": "2"})
    recv_before = metric("etcd_network_peer_received_bytes_total", {"From": "1"})
    msgs = [app(i) for i in range(2000)]
    pair.a.tr.send(msgs)
    await pair.ib.wait_for(2000)
    assert [m.index for m in pair.ib.messages] == list(range(2000))
    assert pair.ib.messages[7] == msgs[7]
    # Everything queued by one send() went out in a handful of writes, not one per message.
    assert writer.frames == 2000
    assert writer.batches <= 5
    assert pair.a.tr.peer(2).pipeline.posted == 0  # type: ignore[union-attr]
    payload = sum(m.ByteSize() for m in msgs)
    assert metric("etcd_network_peer_sent_bytes_total", {"To": "2"}) - sent_before == payload + 8 * 2000
    assert metric("etcd_network_peer_received_bytes_total", {"From": "1"}) - recv_before == payload
    assert pair.ia.unreachable == []


async def test_full_stream_queue_drops_and_reports_unreachable(pair: Pair) -> None:
    writer = pair.a.tr.peer(2).writer  # type: ignore[union-attr]
    await wait_until(lambda: writer.working)
    failures = metric("etcd_network_peer_sent_failures_total", {"To": "2"})
    # One synchronous send() fills the queue before the writer task can run: the excess is dropped.
    pair.a.tr.send([app(i) for i in range(STREAM_BUF_SIZE + 10)])
    assert pair.ia.unreachable == [2] * 10
    assert metric("etcd_network_peer_sent_failures_total", {"To": "2"}) - failures == 10
    await pair.ib.wait_for(STREAM_BUF_SIZE)
    await asyncio.sleep(0.05)
    assert [m.index for m in pair.ib.messages] == list(range(STREAM_BUF_SIZE))


async def test_pipeline_carries_messages_while_no_stream_is_up() -> None:
    # B does not know A, so it never dials A: A has no stream to send on and posts each message.
    p = await start_pair(free_ports(2), b_knows_a=False)
    try:
        peer = p.a.tr.peer(2)
        assert peer is not None
        p.a.tr.send([app(i) for i in range(20)])
        await p.ib.wait_for(20)
        assert sorted(m.index for m in p.ib.messages) == list(range(20))
        await wait_until(lambda: peer.pipeline.posted == 20)
        assert not peer.writer.working
        assert p.a.tr.active_since(2) is not None
        # B learnt A's URLs from X-PeerURLs and can answer by pipeline (etcd's remote).
        p.b.tr.send([app(0, to=1, frm=2)])
        await p.ia.wait_for(1)
        assert p.ia.messages[0].from_ == 2
    finally:
        await p.close()


async def test_message_to_a_dead_peer_is_reported_unreachable() -> None:
    pa, dead = free_ports(2)
    p = await start_pair([pa, dead], b_knows_a=False)
    await p.b.close()  # nobody listens on B's port any more
    try:
        p.a.tr.send([app(1), Message(type=pb.MsgSnap, to=2, from_=1, term=3)])
        await wait_until(lambda: len(p.ia.snapshots) == 1 and len(p.ia.unreachable) >= 2)
        assert p.ia.snapshots == [(2, False)]
        assert p.a.tr.active_since(2) is None
    finally:
        await p.a.close()


async def test_snapshot_data_is_streamed_to_a_file_before_raft_sees_the_message(tmp_path: Path) -> None:
    chunk = os.urandom(1 << 16)
    total_chunks = 80  # 5 MiB
    expected = hashlib.sha256(chunk * total_chunks).hexdigest()
    pulled: list[int] = []

    async def source(m: Message) -> AsyncIterator[bytes]:
        assert m.snapshot.metadata.index == 42
        for i in range(total_chunks):
            pulled.append(i)
            yield chunk

    saved: list[tuple[int, str, int, int]] = []
    inbox_len: list[int] = []

    async def on_snapshot(m: Message, path: str) -> None:
        with open(path, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        saved.append((m.snapshot.metadata.index, digest, os.path.getsize(path), m.from_))
        inbox_len.append(len(p.ib.messages))
        os.rename(path, str(tmp_path / "kept.snap.db"))

    p = await start_pair(
        free_ports(2),
        a_kw={"snapshot_source": source},
        b_kw={"snapshot_dir": str(tmp_path), "on_snapshot": on_snapshot},
    )
    try:
        snap = Message(type=pb.MsgSnap, to=2, from_=1, term=3)
        snap.snapshot.metadata.index = 42
        snap.snapshot.metadata.term = 3
        snap.snapshot.data = b"v2 store"
        p.a.tr.send([snap])
        await wait_until(lambda: p.ia.snapshots == [(2, True)], 10)
        assert saved == [(42, expected, len(chunk) * total_chunks, 1)]
        assert inbox_len == [0]  # raft got the message only after the data was taken
        assert p.ib.messages[-1].type == pb.MsgSnap
        assert p.ib.messages[-1].snapshot.data == b"v2 store"
        assert pulled == list(range(total_chunks))
        assert sorted(os.listdir(tmp_path)) == ["kept.snap.db"]  # the temporary file is gone
        assert metric("etcd_network_snapshot_send_success", {"To": "2"}) >= 1
        assert metric("etcd_network_snapshot_receive_success", {"From": "1"}) >= 1
    finally:
        await p.close()


async def test_snapshot_save_failure_is_a_500_and_a_failed_report(tmp_path: Path) -> None:
    async def source(m: Message) -> AsyncIterator[bytes]:
        yield b"x" * 1000

    async def on_snapshot(m: Message, path: str) -> None:
        raise OSError("disk full")

    p = await start_pair(
        free_ports(2),
        a_kw={"snapshot_source": source},
        b_kw={"snapshot_dir": str(tmp_path), "on_snapshot": on_snapshot},
    )
    try:
        p.a.tr.send([Message(type=pb.MsgSnap, to=2, from_=1, term=3)])
        await wait_until(lambda: p.ia.snapshots == [(2, False)])
        assert p.ib.messages == []
        assert os.listdir(tmp_path) == []
    finally:
        await p.close()


def headers(local: int = 9, cluster: int = 0xC1, extra: dict[str, str] | None = None) -> dict[str, str]:
    h = compat.request_headers(local, cluster, ["http://127.0.0.1:1"])
    h.update(extra or {})
    return h


async def test_refusals_as_etcd(pair: Pair) -> None:
    base = url(pair.b.port)
    body = app(1, frm=1).SerializeToString()
    async with aiohttp.ClientSession() as s:

        async def call(method: str, path: str, h: dict[str, str], data: bytes = b"") -> tuple[int, str]:
            async with s.request(method, base + path, headers=h, data=data) as r:
                return r.status, await r.text()

        assert await call("POST", "/raft", headers(cluster=0xBAD), body) == (412, "cluster ID mismatch\n")
        h = headers()
        del h["X-Server-Version"]  # etcd takes a missing version for 2.0.0: too old
        assert await call("POST", "/raft", h, body) == (412, "incompatible version\n")
        assert await call("POST", "/raft", headers(extra={"X-Min-Cluster-Version": "3.5.0"}), body) == (
            412,
            "incompatible version\n",
        )
        assert await call("GET", "/raft", headers()) == (405, "Method Not Allowed\n")
        assert await call("POST", "/raft", headers(), b"\xff\xff") == (
            400,
            "error unmarshalling raft message\n",
        )
        assert await call("GET", "/raft/stream/message/9", headers(cluster=0xBAD)) == (
            412,
            "cluster ID mismatch\n",
        )
        assert await call("GET", "/raft/stream/message/9", headers()) == (404, "error sender not found\n")
        assert await call("GET", "/raft/stream/other/1", headers()) == (404, "invalid path\n")
        assert await call("GET", "/raft/stream/message/xyz", headers()) == (404, "invalid from\n")
        to_wrong = headers(extra={"X-Raft-To": "5"})
        assert await call("GET", "/raft/stream/message/1", to_wrong) == (412, "to field mismatch\n")
        assert await call("POST", "/raft/snapshot", headers(), b"\x00" * 8) == (
            400,
            "wrong raft message type\n",
        )
        assert await call("GET", "/raft/nothing", headers()) == (404, "404 page not found\n")
        async with s.get(base + "/raft/probing") as r:
            doc = json.loads(await r.read())
        assert r.status == 200 and doc["OK"] is True and doc["Now"].endswith("Z")
        async with s.post(base + "/raft", headers=headers(), data=body) as r:
            assert r.status == 204
            assert r.headers["X-Etcd-Cluster-ID"] == "c1"


async def test_cluster_id_mismatch_keeps_the_stream_down() -> None:
    p = await start_pair(free_ports(2), cluster_ids=(0xC1, 0xC2))
    try:
        reader = p.a.tr.peer(2).reader  # type: ignore[union-attr]
        await wait_until(lambda: isinstance(reader.last_error, ErrClusterIDMismatch))
        assert reader.connects == 0
        p.a.tr.send([app(1)])
        await wait_until(lambda: 2 in p.ia.unreachable)  # the pipeline post got 412 as well
        assert p.ib.messages == []
    finally:
        await p.close()


async def test_removed_member_is_refused_410_on_stream_and_403_on_pipeline() -> None:
    critical: list[Exception] = []
    p = await start_pair(
        free_ports(2), a_kw={"on_critical": critical.append}, b_kw={"is_id_removed": lambda i: i == 1}
    )
    try:
        # A dials B's stream and hears 410: A was removed, a critical error for A's server.
        await wait_until(lambda: any(isinstance(e, ErrMemberRemoved) for e in critical))
        async with aiohttp.ClientSession() as s:
            async with s.get(
                url(p.b.port) + "/raft/stream/message/1", headers=headers(local=1, extra={"X-Raft-To": "2"})
            ) as r:
                assert (r.status, await r.text()) == (410, "removed member\n")
            async with s.post(
                url(p.b.port) + "/raft", headers=headers(local=1), data=app(1).SerializeToString()
            ) as r:
                assert r.status == 403
                assert r.headers["Content-Type"] == "application/json"
                assert json.loads(await r.read()) == {"message": "cannot process message from removed member"}
        assert p.ib.messages == []
    finally:
        await p.close()


async def test_probe_measures_the_round_trip(pair: Pair) -> None:
    prober = pair.a.tr.peer(2).prober  # type: ignore[union-attr]
    await wait_until(lambda: prober.probes >= 1)
    before = metric("etcd_network_peer_round_trip_time_seconds_count", {"To": "2"})
    rtt = await prober.probe_once()
    assert rtt is not None and 0 < rtt < 1
    assert metric("etcd_network_peer_round_trip_time_seconds_count", {"To": "2"}) == before + 1


async def test_faults_drop_both_ways_until_healed(pair: Pair) -> None:
    await wait_until(lambda: pair.a.tr.peer(2).writer.working and pair.b.tr.peer(1).writer.working)  # type: ignore[union-attr]
    pair.a.tr.faults.isolate([2])
    pair.a.tr.send([app(1)])
    pair.b.tr.send([app(1, to=1, frm=2)])
    await asyncio.sleep(0.2)
    assert pair.ib.messages == [] and pair.ia.messages == []
    assert pair.a.tr.faults.dropped == 2
    pair.a.tr.faults.heal()
    pair.a.tr.send([app(2)])
    pair.b.tr.send([app(2, to=1, frm=2)])
    await pair.ib.wait_for(1)
    await pair.ia.wait_for(1)
    assert pair.ib.messages[0].index == 2 and pair.ia.messages[0].index == 2


async def test_stream_reconnects_after_the_peer_restarts() -> None:
    pa, pb_ = free_ports(2)
    p = await start_pair([pa, pb_])
    try:
        a_peer = p.a.tr.peer(2)
        assert a_peer is not None
        await wait_until(lambda: a_peer.writer.working and a_peer.reader.connects == 1)
        await p.b.close()
        await wait_until(lambda: p.a.tr.active_since(2) is None)
        p2 = await start_pair([0, pb_], a_knows_b=False, b_knows_a=False)  # a fresh B on the same port
        await p2.a.close()
        p2.b.tr.add_peer(1, [url(pa)])
        await wait_until(lambda: a_peer.writer.working and a_peer.reader.connects == 2, 10)
        assert p.a.tr.active_since(2) is not None
        p.a.tr.send([app(5)])
        await p2.ib.wait_for(1)
        assert p2.ib.messages[0].index == 5
        await p2.b.close()
    finally:
        await p.a.close()


async def test_removed_peer_gets_nothing_and_its_streams_close(pair: Pair) -> None:
    a_peer = pair.a.tr.peer(2)
    b_peer = pair.b.tr.peer(1)
    assert a_peer is not None and b_peer is not None
    await wait_until(lambda: a_peer.writer.working and b_peer.writer.working)
    pair.a.tr.remove_peer(2)
    assert pair.a.tr.peer(2) is None and pair.a.tr.peer_ids == []
    assert pair.a.tr.active_since(2) is None
    pair.a.tr.send([app(1)])  # to nobody now: dropped, not reported
    # B's stream to A (served by A) closed with the peer; B notices and its writer stops.
    await wait_until(lambda: not b_peer.writer.working)
    await asyncio.sleep(0.1)
    assert pair.ib.messages == []
    assert pair.ia.unreachable == []


async def test_update_peer_moves_to_the_new_url() -> None:
    pa, pb_, dead = free_ports(3)
    p = await start_pair([pa, pb_], a_knows_b=False)
    try:
        p.a.tr.add_peer(2, [url(dead)])  # a wrong address first: the stream cannot come up
        peer = p.a.tr.peer(2)
        assert peer is not None
        await wait_until(lambda: peer.reader.last_error is not None)
        assert peer.reader.connects == 0
        p.a.tr.update_peer(2, [url(pb_)])
        await wait_until(lambda: peer.reader.connects == 1 and peer.writer.working)
        p.a.tr.send([app(3)])
        await p.ib.wait_for(1)
        assert p.ib.messages[0].index == 3
    finally:
        await p.close()


async def test_picker_tries_the_next_url_when_one_fails() -> None:
    pa, pb_, dead = free_ports(3)
    p = await start_pair([pa, pb_], a_knows_b=False)
    try:
        p.a.tr.add_peer(2, [url(dead), url(pb_)])
        peer = p.a.tr.peer(2)
        assert peer is not None
        await wait_until(lambda: peer.reader.connects == 1 and peer.writer.working)
        assert peer.picker.pick() == url(pb_)
    finally:
        await p.close()


async def test_ids_can_come_from_the_raft_node_at_start() -> None:
    class Node(Inbox):
        id = 0xA1
        cluster_id = 0xC1

    tr = Transport(urls=["http://127.0.0.1:1"])
    with pytest.raises(RuntimeError):
        tr.add_peer(2, ["http://127.0.0.1:2"])
    tr.start(Node())
    try:
        assert (tr.id, tr.cluster_id) == (0xA1, 0xC1)
        tr.add_peer(2, ["http://127.0.0.1:2"])
        assert tr.peer_ids == [2]
    finally:
        await tr.close()
    with pytest.raises(ValueError):
        Transport().start(Inbox())


async def test_a_large_snapshot_is_never_held_whole_in_memory(tmp_path: Path) -> None:
    chunk = os.urandom(1 << 16)
    n_chunks = 512  # 32 MiB through the socket

    async def source(m: Message) -> AsyncIterator[bytes]:
        for _ in range(n_chunks):
            yield chunk

    sizes: list[int] = []

    async def on_snapshot(m: Message, path: str) -> None:
        sizes.append(os.path.getsize(path))

    p = await start_pair(
        free_ports(2),
        a_kw={"snapshot_source": source},
        b_kw={"snapshot_dir": str(tmp_path), "on_snapshot": on_snapshot},
    )
    tracemalloc.start()
    try:
        p.a.tr.send([Message(type=pb.MsgSnap, to=2, from_=1, term=3)])
        await wait_until(lambda: p.ia.snapshots == [(2, True)], 30)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        await p.close()
    assert sizes == [len(chunk) * n_chunks]
    assert peak < 8 << 20, f"peak {peak} bytes while sending and receiving 32 MiB"


async def test_large_appends_are_written_in_bounded_batches(pair: Pair) -> None:
    writer = pair.a.tr.peer(2).writer  # type: ignore[union-attr]
    await wait_until(lambda: writer.working)
    big = [app(i, size=1 << 20) for i in range(12)]  # about 1 MiB of entry data each
    pair.a.tr.send(big)
    await pair.ib.wait_for(12, 20)
    assert [m.index for m in pair.ib.messages] == list(range(12))
    assert pair.ib.messages[11].entries[0].data == big[11].entries[0].data
    assert writer.batches >= 3  # at most about 4 MiB per write


async def test_link_heartbeats_keep_an_idle_stream_open() -> None:
    fast = {"read_timeout": 0.6}  # heartbeats every 0.2 s; a reader gives up after 0.6 s of silence
    p = await start_pair(free_ports(2), a_kw=fast, b_kw=fast)
    try:
        reader = p.b.tr.peer(1).reader  # type: ignore[union-attr]
        writer = p.a.tr.peer(2).writer  # type: ignore[union-attr]
        await wait_until(lambda: reader.connects == 1 and writer.working)
        await asyncio.sleep(2.0)  # idle: only heartbeats cross
        assert reader.connects == 1 and writer.working
        assert p.ib.messages == []  # heartbeats never reach raft
        p.a.tr.send([app(1)])
        await p.ib.wait_for(1)
    finally:
        await p.close()
