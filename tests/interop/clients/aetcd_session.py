"""A python etcd v3 client (aetcd, on grpcio) driving a member: run as a program, prints a JSON transcript.

Usage: ``python aetcd_session.py session HOST:PORT`` (put, get, delete, txn, lease, watch, errors, status) or
``python aetcd_session.py load HOST:PORT PREFIX N`` (N puts of PREFIX<i> from 8 concurrent tasks, then reads
each back; prints how many matched).

It runs in its own process because aetcd registers etcd's .proto files (rpc.proto, kv.proto, auth.proto)
in protobuf's default descriptor pool under the same symbol names as our generated modules do, so the two
cannot be imported into one interpreter. Member and cluster ids and lease ids are masked in the output, so
two members that behave alike print the same transcript.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import aetcd
import grpc
from aetcd import rpc

TIMEOUT = 10  # seconds per call


def _kv(kv: Any) -> dict[str, Any] | None:
    if kv is None:
        return None
    return {
        "key": kv.key.decode(),
        "value": kv.value.decode(),
        "create_revision": kv.create_revision,
        "mod_revision": kv.mod_revision,
        "version": kv.version,
        "lease": "<LEASE>" if kv.lease else 0,
    }


async def _error(call: Any) -> dict[str, Any]:
    """The gRPC status of a call expected to fail (or its absence)."""
    try:
        await call
    except grpc.aio.AioRpcError as e:
        return {"code": e.code().name, "details": e.details()}
    return {"code": "OK"}


async def session(client: aetcd.Client) -> dict[str, Any]:
    out: dict[str, Any] = {}
    status = await client.status()
    out["status"] = {"version": status.version, "leader": status.leader.name if status.leader else None}
    members = [m async for m in client.members()]
    out["members"] = [[m.name, len(m.peer_urls), len(m.client_urls)] for m in members]

    put = await client.put(b"py/a", b"1")
    out["put"] = {"revision": put.header.revision, "raft_term": put.header.raft_term}
    again = await client.put(b"py/a", b"2", prev_kv=True)
    out["put_prev_kv"] = _kv(again.prev_kv)
    out["get"] = _kv(await client.get(b"py/a"))
    out["get_missing"] = await client.get(b"py/missing")
    await client.put(b"py/b", b"3")
    await client.put(b"py/c", b"4")
    prefix = await client.get_prefix(b"py/", sort_order="descend", sort_target="key")
    out["get_prefix"] = [_kv(kv) for kv in prefix]
    out["get_range"] = [_kv(kv) for kv in await client.get_range(b"py/a", b"py/c")]
    deleted = await client.delete(b"py/b", prev_kv=True)
    out["delete"] = {
        "deleted": deleted.deleted if deleted else None,
        "prev": _kv(deleted.prev_kv) if deleted else None,
    }

    tx = client.transactions
    ok, responses = await client.transaction(
        compare=[tx.value(b"py/a") == b"2", tx.version(b"py/a") > 0],
        success=[tx.put(b"py/t", b"yes"), tx.get(b"py/a")],
        failure=[tx.put(b"py/t", b"no")],
    )
    out["txn_success"] = {"succeeded": ok, "range": [[v.decode(), _kv(kv)] for v, kv in responses[1]]}
    ok, _ = await client.transaction(
        compare=[tx.value(b"py/a") == b"nope"], success=[tx.delete(b"py/a")], failure=[tx.put(b"py/t", b"no")]
    )
    out["txn_failure"] = {"succeeded": ok, "t": _kv(await client.get(b"py/t"))}

    lease = await client.lease(60)
    out["lease_ttl"] = lease.ttl
    await client.put(b"py/leased", b"x", lease=lease)
    info = await client.get_lease_info(lease.id, keys=True)
    out["lease_info"] = {
        "granted": info.grantedTTL,
        "ttl_ok": 55 <= info.TTL <= 60,
        "keys": sorted(k.decode() for k in info.keys),
    }
    refreshed = await client.refresh_lease(lease.id)
    out["lease_refresh_ttl"] = refreshed.TTL
    out["leased_key"] = _kv(await client.get(b"py/leased"))
    leases = await client.leasestub.LeaseLeases(rpc.LeaseLeasesRequest(), timeout=TIMEOUT)
    out["lease_count"] = len(leases.leases)
    await client.revoke_lease(lease.id)
    out["leased_key_after_revoke"] = _kv(await client.get(b"py/leased"))
    gone = await client.get_lease_info(lease.id)
    out["lease_after_revoke_ttl"] = gone.TTL

    start = (await client.put(b"py/w", b"0")).header.revision
    watch = await client.watch(b"py/w", start_revision=start, prev_kv=True)
    await client.put(b"py/w", b"1")
    await client.delete(b"py/w")
    events = []
    async with asyncio.timeout(5):
        async for event in watch:
            events.append({"kind": str(event.kind), "kv": _kv(event.kv), "prev": _kv(event.prev_kv)})
            if len(events) == 3:
                break
    await watch.cancel()
    out["watch"] = events

    kv = client.kvstub
    out["errors"] = {
        "future_rev": await _error(kv.Range(rpc.RangeRequest(key=b"py/a", revision=10_000), timeout=TIMEOUT)),
        "empty_key": await _error(kv.Put(rpc.PutRequest(key=b"", value=b"v"), timeout=TIMEOUT)),
        "dup_txn": await _error(
            kv.Txn(
                rpc.TxnRequest(
                    success=[
                        rpc.RequestOp(request_put=rpc.PutRequest(key=b"d", value=b"1")),
                        rpc.RequestOp(request_put=rpc.PutRequest(key=b"d", value=b"2")),
                    ]
                ),
                timeout=TIMEOUT,
            )
        ),
        "no_lease": await _error(kv.Put(rpc.PutRequest(key=b"k", value=b"v", lease=12345), timeout=TIMEOUT)),
        "revoke_missing": await _error(
            client.leasestub.LeaseRevoke(rpc.LeaseRevokeRequest(ID=12345), timeout=TIMEOUT)
        ),
    }
    rev = (await client.get(b"py/a")).mod_revision
    await client.compact(rev, physical=True)
    out["errors"]["compacted"] = await _error(
        kv.Range(rpc.RangeRequest(key=b"py/a", revision=rev - 1), timeout=TIMEOUT)
    )
    out["errors"]["compact_again"] = await _error(
        kv.Compact(rpc.CompactionRequest(revision=rev), timeout=TIMEOUT)
    )
    return out


async def load(client: aetcd.Client, prefix: str, n: int) -> dict[str, Any]:
    keys = asyncio.Queue[int]()
    for i in range(n):
        keys.put_nowait(i)

    async def worker() -> None:
        while not keys.empty():
            i = keys.get_nowait()
            await client.put(f"{prefix}{i}".encode(), f"v{i}".encode())

    await asyncio.gather(*(worker() for _ in range(8)))
    matched = 0
    for i in range(n):
        got = await client.get(f"{prefix}{i}".encode())
        matched += got is not None and got.value == f"v{i}".encode()
    return {"matched": matched}


async def main(argv: list[str]) -> None:
    mode, endpoint = argv[0], argv[1]
    host, port = endpoint.rsplit(":", 1)
    async with aetcd.Client(host=host, port=int(port), timeout=TIMEOUT) as client:
        result = await session(client) if mode == "session" else await load(client, argv[2], int(argv[3]))
    print(json.dumps(result, indent=1, sort_keys=True))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
