"""The v3 applier over a real Backend, KVStore and Lessor on tmp_path: responses field by field as etcd 3.4
answers, errors as results, alarms persisted, and replay after a crash made idempotent by the consistent
index (the crash is a real one: a child process applies, then exits without committing)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from etcd.api.etcdserverpb import rpc_pb2 as pb
from etcd.api.etcdserverpb.raft_internal_pb2 import InternalRaftRequest
from etcd.api.v3rpc import rpctypes
from etcd.api.v3rpc.errors import to_grpc_error
from etcd.backend import buckets
from etcd.backend.backend import Backend
from etcd.backend.quota import BackendQuota, ErrNoSpace
from etcd.lease.lessor import ErrLeaseExists, ErrLeaseNotFound, Lessor
from etcd.mvcc.errors import ErrCompacted, ErrFutureRev, ErrKeyNotFound
from etcd.mvcc.kvstore import KVStore
from etcd.server.apply import ApplierV3, ErrCorrupt, Result

CLUSTER, MEMBER, TERM = 0xC1, 0xA1, 7
REPO = Path(__file__).resolve().parents[2]


@dataclass
class Member:
    be: Backend
    lessor: Lessor
    kv: KVStore
    applier: ApplierV3

    def close(self) -> None:
        self.kv.close()
        self.be.close()


def open_member(path: Path) -> Member:
    # No commit timer and no batch limit: only compaction, close and the test commit.
    be = Backend(str(path), batch_interval=0, batch_limit=1 << 30)
    lessor = Lessor(be, clock=lambda: 0)
    kv = KVStore(be, lessor, compaction_pause=0)
    lessor.set_range_deleter(kv.write)
    applier = ApplierV3(kv, lessor, be, cluster_id=CLUSTER, member_id=MEMBER, raft_term=lambda: TERM)
    kv.consistent_index_getter = applier.consistent_index
    return Member(be, lessor, kv, applier)


@pytest.fixture
def m(tmp_path: Path) -> Iterator[Member]:
    member = open_member(tmp_path / "db")
    yield member
    member.close()


def hdr(rev: int) -> pb.ResponseHeader:
    return pb.ResponseHeader(cluster_id=CLUSTER, member_id=MEMBER, revision=rev, raft_term=TERM)


def ok(res: Result):  # type: ignore[no-untyped-def]
    assert res.err is None, res.err
    return res.resp


def put(key: bytes, value: bytes, **kw: object) -> InternalRaftRequest:
    return InternalRaftRequest(put=pb.PutRequest(key=key, value=value, **kw))  # type: ignore[arg-type]


def rng(key: bytes, **kw: object) -> InternalRaftRequest:
    return InternalRaftRequest(range=pb.RangeRequest(key=key, **kw))  # type: ignore[arg-type]


def test_put_range_delete_responses(m: Member) -> None:
    a = m.applier
    assert ok(a.apply(put(b"a", b"1"))) == pb.PutResponse(header=hdr(2))
    r = ok(a.apply(put(b"a", b"2", prev_kv=True)))
    assert r.header == hdr(3)
    assert (r.prev_kv.key, r.prev_kv.value, r.prev_kv.mod_revision, r.prev_kv.version) == (b"a", b"1", 2, 1)
    ok(a.apply(put(b"b", b"3")))
    got = ok(a.apply(rng(b"a", range_end=b"c", limit=1)))
    assert got.header == hdr(4)
    assert (got.count, got.more, [kv.value for kv in got.kvs]) == (2, True, [b"2"])
    # A read of an old revision still carries the current revision in its header.
    old = ok(a.apply(rng(b"a", revision=2)))
    assert old.header == hdr(4) and old.kvs[0].value == b"1"
    nothing = ok(a.apply(InternalRaftRequest(delete_range=pb.DeleteRangeRequest(key=b"zz"))))
    assert nothing == pb.DeleteRangeResponse(header=hdr(4), deleted=0)
    d = ok(
        a.apply(
            InternalRaftRequest(delete_range=pb.DeleteRangeRequest(key=b"a", range_end=b"c", prev_kv=True))
        )
    )
    assert d.header == hdr(5) and d.deleted == 2
    assert [(kv.key, kv.value) for kv in d.prev_kvs] == [(b"a", b"2"), (b"b", b"3")]
    assert m.kv.rev() == 5


def test_txn_headers_as_etcd(m: Member) -> None:
    a = m.applier
    ok(a.apply(put(b"x", b"1")))  # rev 2
    C = pb.Compare
    nested = pb.TxnRequest(
        compare=[C(key=b"nope", target=C.VALUE, result=C.EQUAL, value=b"?")],
        failure=[pb.RequestOp(request_range=pb.RangeRequest(key=b"x"))],
    )
    req = pb.TxnRequest(
        compare=[C(key=b"x", target=C.VALUE, result=C.EQUAL, value=b"1")],
        success=[
            pb.RequestOp(request_range=pb.RangeRequest(key=b"x")),
            pb.RequestOp(request_delete_range=pb.DeleteRangeRequest(key=b"none")),
            pb.RequestOp(request_put=pb.PutRequest(key=b"y", value=b"2")),
            pb.RequestOp(request_delete_range=pb.DeleteRangeRequest(key=b"none")),
            pb.RequestOp(request_txn=nested),
        ],
    )
    r = ok(a.apply(InternalRaftRequest(txn=req)))
    assert r.succeeded and r.header == hdr(3)
    ops = r.responses
    # Before the txn's first write an op sees the old revision; from it on, the txn's.
    assert ops[0].response_range.header == pb.ResponseHeader(revision=2)
    assert ops[0].response_range.kvs[0].value == b"1"
    assert ops[1].response_delete_range == pb.DeleteRangeResponse(header=pb.ResponseHeader(revision=2))
    assert ops[2].response_put == pb.PutResponse(header=pb.ResponseHeader(revision=3))
    assert ops[3].response_delete_range == pb.DeleteRangeResponse(header=pb.ResponseHeader(revision=3))
    inner = ops[4].response_txn
    assert inner.HasField("header") and inner.header == pb.ResponseHeader() and not inner.succeeded
    assert inner.responses[0].response_range.header == pb.ResponseHeader(revision=3)

    # A read-only txn leaves the revision alone; a failing compare runs the failure branch.
    ro = ok(
        a.apply(InternalRaftRequest(txn=pb.TxnRequest(compare=[C(key=b"x", target=C.VERSION, version=9)])))
    )
    assert ro == pb.TxnResponse(header=hdr(3), succeeded=False)


def test_kv_errors_are_results(m: Member) -> None:
    a = m.applier
    ok(a.apply(put(b"k", b"v")))
    res = a.apply(put(b"missing", b"", ignore_value=True))
    assert isinstance(res.err, ErrKeyNotFound) and res.resp is None
    assert to_grpc_error(res.err) == rpctypes.ErrGRPCKeyNotFound
    assert isinstance(a.apply(put(b"k", b"v", lease=42)).err, ErrLeaseNotFound)
    assert isinstance(a.apply(rng(b"k", revision=99)).err, ErrFutureRev)
    # A txn whose second op fails writes nothing.
    bad = pb.TxnRequest(
        success=[
            pb.RequestOp(request_put=pb.PutRequest(key=b"t", value=b"1")),
            pb.RequestOp(request_put=pb.PutRequest(key=b"u", ignore_lease=True)),
        ]
    )
    assert isinstance(a.apply(InternalRaftRequest(txn=bad)).err, ErrKeyNotFound)
    assert m.kv.rev() == 2
    with pytest.raises(ValueError):
        a.apply(InternalRaftRequest(auth_enable=pb.AuthEnableRequest()))


def test_compaction(m: Member) -> None:
    a = m.applier
    for i in range(4):
        ok(a.apply(put(b"c", b"%d" % i)))  # revs 2..5
    res = a.apply(InternalRaftRequest(compaction=pb.CompactionRequest(revision=4, physical=True)))
    assert ok(res) == pb.CompactionResponse(header=hdr(5))
    assert res.physc is not None and res.physc.result(timeout=10) is True
    again = a.apply(InternalRaftRequest(compaction=pb.CompactionRequest(revision=3)))
    assert isinstance(again.err, ErrCompacted) and again.physc is None
    assert isinstance(
        a.apply(InternalRaftRequest(compaction=pb.CompactionRequest(revision=6))).err, ErrFutureRev
    )
    assert isinstance(a.apply(rng(b"c", revision=3)).err, ErrCompacted)


def test_leases(m: Member) -> None:
    a = m.applier
    g = ok(a.apply(InternalRaftRequest(lease_grant=pb.LeaseGrantRequest(ID=100, TTL=30))))
    assert g == pb.LeaseGrantResponse(header=hdr(1), ID=100, TTL=30)
    assert isinstance(
        a.apply(InternalRaftRequest(lease_grant=pb.LeaseGrantRequest(ID=100, TTL=5))).err, ErrLeaseExists
    )
    ok(a.apply(put(b"l1", b"v", lease=100)))
    ok(a.apply(put(b"l2", b"v", lease=100)))
    cp = pb.LeaseCheckpointRequest(checkpoints=[pb.LeaseCheckpoint(ID=100, remaining_TTL=12)])
    assert ok(a.apply(InternalRaftRequest(lease_checkpoint=cp))) == pb.LeaseCheckpointResponse(header=hdr(3))
    lease = m.lessor.lookup(100)
    assert lease is not None and lease.remaining_ttl() == 12
    rv = ok(a.apply(InternalRaftRequest(lease_revoke=pb.LeaseRevokeRequest(ID=100))))
    assert rv == pb.LeaseRevokeResponse(header=hdr(4))  # both keys deleted in one revision
    assert ok(a.apply(rng(b"l", range_end=b"m"))).count == 0
    gone = a.apply(InternalRaftRequest(lease_revoke=pb.LeaseRevokeRequest(ID=100)))
    assert isinstance(gone.err, ErrLeaseNotFound)
    assert to_grpc_error(gone.err) == rpctypes.ErrGRPCLeaseNotFound


def alarm(action: int, member: int = 0, kind: int = pb.NONE) -> InternalRaftRequest:
    return InternalRaftRequest(alarm=pb.AlarmRequest(action=action, memberID=member, alarm=kind))  # type: ignore[arg-type]


def test_alarms_gate_requests_and_persist(tmp_path: Path) -> None:
    A = pb.AlarmRequest
    m = open_member(tmp_path / "db")
    try:
        a = m.applier
        ok(a.apply(put(b"k", b"v")))
        on = ok(a.apply(alarm(A.ACTIVATE, 5, pb.NOSPACE)))
        assert on == pb.AlarmResponse(alarms=[pb.AlarmMember(memberID=5, alarm=pb.NOSPACE)])
        assert ok(a.apply(alarm(A.ACTIVATE, 5, pb.NOSPACE))).alarms == on.alarms  # already active
        assert isinstance(a.apply(put(b"k", b"w")).err, ErrNoSpace)
        assert isinstance(
            a.apply(InternalRaftRequest(lease_grant=pb.LeaseGrantRequest(ID=1, TTL=5))).err, ErrNoSpace
        )
        # Deletes and reads still work; a txn with a put on either branch does not.
        ok(a.apply(rng(b"k")))
        assert ok(a.apply(InternalRaftRequest(delete_range=pb.DeleteRangeRequest(key=b"k")))).deleted == 1
        txn = pb.TxnRequest(failure=[pb.RequestOp(request_put=pb.PutRequest(key=b"k", value=b"x"))])
        assert isinstance(a.apply(InternalRaftRequest(txn=txn)).err, ErrNoSpace)
        ok(a.apply(alarm(A.ACTIVATE, 9, pb.CORRUPT)))
        res = a.apply(rng(b"k"))
        assert isinstance(res.err, ErrCorrupt) and str(res.err) == "etcdserver: corrupt cluster"
        m.be.force_commit()
    finally:
        m.close()

    m = open_member(tmp_path / "db")
    try:
        a = m.applier
        got = ok(a.apply(alarm(A.GET)))
        assert not got.HasField("header")  # etcd 3.4 compat: v3rpc/maintenance.go passes it on bare
        assert got == pb.AlarmResponse(
            alarms=[
                pb.AlarmMember(memberID=5, alarm=pb.NOSPACE),
                pb.AlarmMember(memberID=9, alarm=pb.CORRUPT),
            ],
        )
        # etcd's key: the marshalled AlarmMember, with an empty value.
        with m.be.read_tx() as tx:
            rows = list(tx.unsafe_iter(buckets.ALARM, b"", None))
        assert sorted(rows) == sorted(
            [
                (pb.AlarmMember(memberID=5, alarm=pb.NOSPACE).SerializeToString(), b""),
                (pb.AlarmMember(memberID=9, alarm=pb.CORRUPT).SerializeToString(), b""),
            ]
        )
        assert isinstance(a.apply(rng(b"k")).err, ErrCorrupt)
        off = ok(a.apply(alarm(A.DEACTIVATE, 9, pb.CORRUPT)))
        assert off.alarms == [pb.AlarmMember(memberID=9, alarm=pb.CORRUPT)]
        assert ok(a.apply(alarm(A.DEACTIVATE, 9, pb.CORRUPT))).alarms == []  # not active: nothing
        assert isinstance(a.apply(put(b"k", b"w")).err, ErrNoSpace)  # NOSPACE still holds
        ok(a.apply(alarm(A.DEACTIVATE, 5, pb.NOSPACE)))
        assert ok(a.apply(put(b"k", b"w"))).header == hdr(4)
        assert ok(a.apply(alarm(A.GET))).alarms == []
    finally:
        m.close()


def test_recover_reloads_alarms_from_the_new_backend(tmp_path: Path) -> None:
    A = pb.AlarmRequest
    src, dst = open_member(tmp_path / "src"), open_member(tmp_path / "dst")
    try:
        ok(src.applier.apply(alarm(A.ACTIVATE, 3, pb.NOSPACE)))
        assert ok(dst.applier.apply(alarm(A.GET))).alarms == []
        dst.applier.recover(src.be)
        assert dst.applier.backend is src.be
        assert ok(dst.applier.apply(alarm(A.GET))).alarms == [pb.AlarmMember(memberID=3, alarm=pb.NOSPACE)]
        assert isinstance(dst.applier.apply(put(b"k", b"v")).err, ErrNoSpace)
    finally:
        dst.close()
        src.close()


def test_over_quota_writes_apply_but_answer_nospace(m: Member) -> None:
    a = ApplierV3(
        m.kv,
        m.lessor,
        m.be,
        cluster_id=CLUSTER,
        member_id=MEMBER,
        raft_term=lambda: TERM,
        quota=BackendQuota(m.be, quota_bytes=1),  # nothing fits
    )
    res = a.apply(put(b"q", b"v"))
    assert isinstance(res.err, ErrNoSpace) and res.resp is None
    assert to_grpc_error(res.err) == rpctypes.ErrGRPCNoSpace
    assert m.kv.range(b"q").kvs[0].value == b"v"  # etcd 3.4's quotaApplierV3: written all the same
    grant = a.apply(InternalRaftRequest(lease_grant=pb.LeaseGrantRequest(ID=3, TTL=10)))
    assert isinstance(grant.err, ErrNoSpace) and m.lessor.lookup(3) is not None
    txn = pb.TxnRequest(success=[pb.RequestOp(request_delete_range=pb.DeleteRangeRequest(key=b"q"))])
    # Even a txn that costs nothing answers so while the backend is over quota (etcd's Available is
    # size + cost < quota); a plain DeleteRange is never checked.
    assert isinstance(a.apply(InternalRaftRequest(txn=txn)).err, ErrNoSpace)
    assert ok(a.apply(rng(b"q"))).count == 0
    gone = ok(a.apply(InternalRaftRequest(delete_range=pb.DeleteRangeRequest(key=b"q"))))
    assert gone == pb.DeleteRangeResponse(header=hdr(3), deleted=0)


def test_imports_no_event_loop_or_grpc() -> None:
    # etcd/server/__init__.py brings in the asyncio raft driver, so load the module without it.
    code = (
        "import sys, types; pkg = types.ModuleType('etcd.server'); pkg.__path__ = ['etcd/server']; "
        "sys.modules['etcd.server'] = pkg; import etcd.server.apply; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('asyncio', 'grpc', 'aiohttp', 'uvloop')))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert (out.returncode, out.stdout.strip()) == (0, "[]"), out.stderr


# -- batches and the consistent index -------------------------------------------------------------------


def test_batch_with_an_unhandled_request_applies_nothing(m: Member) -> None:
    batch = [(2, put(b"k", b"v")), (3, InternalRaftRequest(auth_enable=pb.AuthEnableRequest()))]
    with pytest.raises(ValueError):
        m.applier.apply_batch(batch, 3)
    assert (m.kv.rev(), m.kv.consistent_index()) == (1, 0)
    # Once applied, an entry's kind no longer matters: replay skips it unread.
    assert ok(m.applier.apply_batch(batch[:1], 3)[0]).header == hdr(2)  # type: ignore[arg-type]
    assert m.applier.apply_batch(batch, 3) == [None, None]


BATCH_1 = [
    (3, InternalRaftRequest(lease_grant=pb.LeaseGrantRequest(ID=7, TTL=60))),
    (4, InternalRaftRequest(put=pb.PutRequest(key=b"a", value=b"1", lease=7))),
    (5, InternalRaftRequest(put=pb.PutRequest(key=b"b", value=b"1"))),
]
BATCH_2 = [
    (6, InternalRaftRequest(put=pb.PutRequest(key=b"a", value=b"2", lease=7))),
    (8, InternalRaftRequest(lease_grant=pb.LeaseGrantRequest(ID=8, TTL=60))),
    (9, InternalRaftRequest(delete_range=pb.DeleteRangeRequest(key=b"b"))),
    (
        10,
        InternalRaftRequest(
            alarm=pb.AlarmRequest(action=pb.AlarmRequest.ACTIVATE, memberID=1, alarm=pb.NOSPACE)
        ),
    ),
]

CRASH = """
import os, sys
sys.path.insert(0, {repo!r})
from pathlib import Path
from tests.server.test_apply import BATCH_1, BATCH_2, open_member
m = open_member(Path({path!r}))
m.applier.apply_batch(BATCH_1, 5)
m.be.force_commit()
m.applier.apply_batch(BATCH_2, 11)
os._exit(0)  # the second batch was never committed
"""


def state(m: Member) -> tuple[object, ...]:
    with m.be.read_tx() as tx:
        ci = m.kv.consistent_index()
        alarms = list(tx.unsafe_iter(buckets.ALARM, b"", None))
        leases = list(tx.unsafe_iter(buckets.LEASE, b"", None))
    kvs = m.kv.range(b"", b"\0").kvs
    return (ci, m.kv.rev(), [(kv.key, kv.value, kv.mod_revision, kv.lease) for kv in kvs], alarms, leases)


def test_batch_replay_after_crash_is_idempotent(tmp_path: Path) -> None:
    ref = open_member(tmp_path / "ref")
    try:
        first = ref.applier.apply_batch(BATCH_1, 5)
        second = ref.applier.apply_batch(BATCH_2, 11)
        assert [ok(r).header.revision for r in first if r] == [1, 2, 3]
        assert [ok(r).header.revision for r in second if r] == [4, 4, 5, 0]  # an alarm has no header
        want = state(ref)
        assert want[:3] == (11, 5, [(b"a", b"2", 4, 7)])
    finally:
        ref.close()

    path = tmp_path / "crashed"
    script = CRASH.format(repo=str(REPO), path=str(path))
    subprocess.run([sys.executable, "-c", textwrap.dedent(script)], check=True, timeout=60, env=os.environ)
    m = open_member(path)
    try:
        assert state(m)[:3] == (5, 3, [(b"a", b"1", 2, 7), (b"b", b"1", 3, 0)])
        assert m.lessor.lookup(7) is not None and m.lessor.lookup(8) is None
        # Raft hands both batches over again: the first is skipped entry by entry, the second applied.
        assert m.applier.apply_batch(BATCH_1, 5) == [None, None, None]
        again = m.applier.apply_batch(BATCH_2, 11)
        assert [ok(r).header.revision for r in again if r] == [4, 4, 5, 0]
        assert state(m) == want
        # A batch straddling the stored index applies only what is new.
        # (NOSPACE is active since entry 10, so the new entry is a delete.)
        delete = InternalRaftRequest(delete_range=pb.DeleteRangeRequest(key=b"a"))
        mixed = m.applier.apply_batch([(10, BATCH_2[3][1]), (12, delete)], 12)
        assert mixed[0] is None and mixed[1] is not None and ok(mixed[1]).header.revision == 6
        assert m.kv.consistent_index() == 12
    finally:
        m.close()
