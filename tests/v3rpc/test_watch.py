"""The Watch stream over a real gRPC connection: created replies, events, filters, prev_kv, cancel,
progress (requested and periodic), compaction, client-chosen ids and fragments."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest

from etcd.api.etcdserverpb import rpc_pb2 as pb
from etcd.api.etcdserverpb import rpc_pb2_grpc as pb_grpc
from etcd.mvcc.mvccpb.kv_pb2 import Event
from tests.v3rpc.conftest import Served, stub

T = 5.0


@pytest.fixture
def member_overrides() -> dict[str, Any]:
    return {"experimental_watch_progress_notify_interval": 0.3, "max_request_bytes": 64 * 1024}


class WatchClient:
    def __init__(self, served: Served) -> None:
        self.call = stub(pb_grpc.WatchStub, served.channel).Watch()
        self.kv = stub(pb_grpc.KVStub, served.channel)

    async def create(self, **kw: Any) -> pb.WatchResponse:
        await self.call.write(pb.WatchRequest(create_request=pb.WatchCreateRequest(**kw)))
        return await self.read()

    async def read(self) -> pb.WatchResponse:
        resp = await asyncio.wait_for(self.call.read(), T)
        assert isinstance(resp, pb.WatchResponse)
        return resp

    async def put(self, key: bytes, value: bytes) -> int:
        return int((await self.kv.Put(pb.PutRequest(key=key, value=value), timeout=T)).header.revision)


@pytest.fixture
async def wc(served: Served) -> Any:
    c = WatchClient(served)
    yield c
    c.call.cancel()


async def test_created_then_events_with_headers(wc: WatchClient, served: Served) -> None:
    created = await wc.create(key=b"a", range_end=b"b")
    assert created.created and not created.canceled
    assert created.watch_id == 0
    assert created.header.member_id == served.srv.id
    rev = await wc.put(b"a1", b"v1")
    await wc.put(b"zz", b"ignored")
    resp = await wc.read()
    assert resp.watch_id == 0
    assert resp.header.revision == rev
    assert [(e.type, e.kv.key, e.kv.value) for e in resp.events] == [(Event.PUT, b"a1", b"v1")]
    await wc.kv.DeleteRange(pb.DeleteRangeRequest(key=b"a1"), timeout=T)
    resp = await wc.read()
    assert [(e.type, e.kv.key, e.kv.mod_revision) for e in resp.events] == [(Event.DELETE, b"a1", rev + 2)]


async def test_start_revision_prev_kv_and_filters(wc: WatchClient) -> None:
    r1 = await wc.put(b"k", b"1")
    await wc.put(b"k", b"2")
    await wc.kv.DeleteRange(pb.DeleteRangeRequest(key=b"k"), timeout=T)
    created = await wc.create(
        key=b"k", start_revision=r1, prev_kv=True, filters=[pb.WatchCreateRequest.NODELETE]
    )
    assert created.created
    seen: list[tuple[int, bytes, bytes]] = []
    while len(seen) < 2:
        for e in (await wc.read()).events:
            seen.append((e.type, e.kv.value, e.prev_kv.value))
    assert seen == [(Event.PUT, b"1", b""), (Event.PUT, b"2", b"1")]


async def test_cancel_and_client_chosen_ids(wc: WatchClient) -> None:
    created = await wc.create(key=b"x", watch_id=7)
    assert (created.watch_id, created.created) == (7, True)
    dup = await wc.create(key=b"y", watch_id=7)
    assert (dup.watch_id, dup.created, dup.canceled) == (-1, True, True)
    assert dup.cancel_reason == "mvcc: duplicate watch ID provided on the WatchStream"
    await wc.call.write(pb.WatchRequest(cancel_request=pb.WatchCancelRequest(watch_id=7)))
    canceled = await wc.read()
    assert (canceled.watch_id, canceled.canceled) == (7, True)
    # Canceling an unknown watcher answers nothing; the next reply is the next create's.
    await wc.call.write(pb.WatchRequest(cancel_request=pb.WatchCancelRequest(watch_id=99)))
    again = await wc.create(key=b"x")
    assert again.created and not again.canceled


async def test_progress_request_and_periodic_progress(wc: WatchClient) -> None:
    rev = await wc.put(b"p", b"1")
    await wc.create(key=b"p", progress_notify=True)
    await wc.call.write(pb.WatchRequest(progress_request=pb.WatchProgressRequest()))
    resp = await wc.read()
    assert (resp.watch_id, resp.header.revision, list(resp.events)) == (-1, rev, [])
    # The notify interval is 0.3 s here: an idle watcher gets an empty reply at the current revision.
    resp = await wc.read()
    assert (resp.watch_id, resp.header.revision, list(resp.events)) == (0, rev, [])


async def test_compacted_start_revision_cancels(wc: WatchClient) -> None:
    r1 = await wc.put(b"c", b"1")
    r2 = await wc.put(b"c", b"2")
    await wc.kv.Compact(pb.CompactionRequest(revision=r2, physical=True), timeout=T)
    created = await wc.create(key=b"c", start_revision=r1)
    assert created.created
    resp = await wc.read()
    assert (resp.canceled, resp.compact_revision) == (True, r2)
    assert resp.header.revision == 0 and resp.header.member_id != 0  # etcd: no revision on this cancel


async def test_fragment_splits_a_large_revision(wc: WatchClient) -> None:
    # The member's max request bytes is 64 KiB. A txn of 8 x 6000 bytes fits; with prev_kv its watch reply
    # is twice that, so it goes out as 5 events (60 KB) and then 3.
    big = b"x" * 6000
    for i in range(8):
        await wc.put(b"f%d" % i, big)
    await wc.create(key=b"f", range_end=b"g", fragment=True, prev_kv=True)
    ops = [pb.RequestOp(request_put=pb.PutRequest(key=b"f%d" % i, value=big.upper())) for i in range(8)]
    rev = (await wc.kv.Txn(pb.TxnRequest(success=ops), timeout=T)).header.revision
    pieces: list[pb.WatchResponse] = []
    while not pieces or pieces[-1].fragment:
        pieces.append(await wc.read())
    assert [(len(p.events), p.fragment, p.header.revision) for p in pieces] == [
        (5, True, rev),
        (3, False, rev),
    ]
    assert [e.kv.key for p in pieces for e in p.events] == [b"f%d" % i for i in range(8)]
    assert all(e.prev_kv.value == big for p in pieces for e in p.events)


async def test_hasleader_metadata_is_accepted_with_a_leader(served: Served) -> None:
    call = stub(pb_grpc.WatchStub, served.channel).Watch(metadata=(("hasleader", "true"),))
    await call.write(pb.WatchRequest(create_request=pb.WatchCreateRequest(key=b"h")))
    resp = await asyncio.wait_for(call.read(), T)
    assert resp.created
    call.cancel()
    assert await asyncio.wait_for(call.code(), T) == grpc.StatusCode.CANCELLED


async def test_a_cancelled_stream_removes_its_watchers(served: Served) -> None:
    c = WatchClient(served)
    for key in (b"r1", b"r2", b"r3"):
        assert (await c.create(key=key)).created
    assert served.srv.kv.watcher_count() == 3
    c.call.cancel()
    for _ in range(100):  # the server notices the cancellation on its next loop turns
        if served.srv.kv.watcher_count() == 0:
            break
        await asyncio.sleep(0.02)
    assert served.srv.kv.watcher_count() == 0


async def test_many_revisions_arrive_in_order_without_loss(wc: WatchClient) -> None:
    await wc.create(key=b"n", range_end=b"o")
    revs = [await wc.put(b"n%d" % (i % 7), b"%d" % i) for i in range(300)]
    seen: list[int] = []
    while len(seen) < len(revs):
        seen.extend(e.kv.mod_revision for e in (await wc.read()).events)
    assert seen == revs


async def test_a_slow_reader_loses_nothing(wc: WatchClient) -> None:
    # 400 writes land while the client reads nothing: more than the stream's buffer of 128 replies, so
    # watchers turn victims and catch up later; every revision still arrives, once, in order.
    await wc.create(key=b"s", range_end=b"t")
    revs = sorted(await asyncio.gather(*(wc.put(b"s%d" % (i % 5), b"v") for i in range(400))))
    seen: list[int] = []
    while len(seen) < len(revs):
        seen.extend(e.kv.mod_revision for e in (await wc.read()).events)
    assert seen == revs
