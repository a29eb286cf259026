"""Data-corruption checks between members (etcd 3.4's ``etcdserver/corrupt.go``).

- ``check_initial_hash_kv`` (``--experimental-initial-corrupt-check``, an already initialized member, before
  it serves): hash the local store, ask every peer for its hash at the same revision; a peer with the same
  compact revision but another hash means this member's data differs, and it must not start.
- ``check_hash_kv`` (``--experimental-corrupt-check-time``, leader only, periodic): hash, ask the peers,
  hash again; the leader's own hash changing at the same revision, a follower ahead of the leader, or a
  follower with the leader's compact revision but another hash raises the CORRUPT alarm for the whole
  cluster (member id 0), after which the applier refuses KV requests with ``etcdserver: corrupt cluster``.

Peers answer ``GET <peer URL>/members/hashkv`` with a JSON ``HashKVRequest`` body (``hash_kv_handler``
here; ``fetch_peer_hash`` asks it). A peer that cannot answer, or that answers that the revision is
compacted or in its future, is only logged.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import aiohttp
from google.protobuf import json_format

from etcd.api.etcdserverpb import rpc_pb2 as pb
from etcd.api.etcdserverpb.raft_internal_pb2 import InternalRaftRequest
from etcd.mvcc.errors import ErrCompacted, ErrFutureRev
from etcd.server.membership import Member

if TYPE_CHECKING:
    from etcd.server.etcdserver import EtcdServer

logger = logging.getLogger("etcd.server.corrupt")

HASHKV_PATH = "/members/hashkv"
PEER_TIMEOUT = 5.0  # seconds per peer, etcd's peer request timeout

# Asks one peer for its HashKV at a revision; raises on any failure.
PeerHashFetcher = Callable[[Member, int], Awaitable[pb.HashKVResponse]]


class CorruptionError(Exception):
    """This member's data differs from a peer's (the member must not start)."""


async def check_initial_hash_kv(
    server: EtcdServer, fetch: PeerHashFetcher | None = None, peers: list[Member] | None = None
) -> None:
    """Compares the local store's hash with every peer's (``peers``: the other members by default);
    raises CorruptionError on a mismatch."""
    fetch = fetch or fetch_peer_hash
    logger.info("starting initial corruption check", extra={"local-member-id": f"{server.id:x}"})
    local = await _hash(server, 0)
    mismatch = False
    for member, resp in await _peer_hashes(server, fetch, local.header.revision, peers):
        if resp is None:
            continue
        if resp.compact_revision == local.compact_revision and resp.hash != local.hash:
            logger.error(
                "found different hash values from remote peer",
                extra={
                    "remote-peer-id": f"{member.id:x}",
                    "local-hash": local.hash,
                    "remote-hash": resp.hash,
                },
            )
            mismatch = True
    if mismatch:
        raise CorruptionError(f"{server.id:x} found data inconsistency with peers")
    logger.info(
        "initial corruption checking passed; no corruption", extra={"local-member-id": f"{server.id:x}"}
    )


async def check_hash_kv(
    server: EtcdServer, fetch: PeerHashFetcher | None = None, peers: list[Member] | None = None
) -> bool:
    """One periodic check on the leader; returns whether corruption was found (and the alarm raised)."""
    fetch = fetch or fetch_peer_hash
    first = await _hash(server, 0)
    answers = await _peer_hashes(server, fetch, first.header.revision, peers)
    await server.linearizable_read()
    second = await _hash(server, 0)
    corrupt = False
    if first.header.revision == second.header.revision and first.hash != second.hash:
        logger.warning("found hash mismatch of the leader's own store at the same revision")
        corrupt = True
    for member, resp in answers:
        if resp is None:
            continue
        peer_rev = resp.header.revision
        if peer_rev > second.header.revision:
            logger.warning(
                "revision from follower must be less than or equal to leader's",
                extra={"follower": f"{member.id:x}"},
            )
            corrupt = True
        if resp.compact_revision > second.compact_revision:
            logger.warning(
                "compact revision from follower must be less than or equal to leader's",
                extra={"follower": f"{member.id:x}"},
            )
            corrupt = True
        if resp.compact_revision == first.compact_revision and resp.hash != first.hash:
            logger.warning(
                "same compact revision then hashes must match", extra={"follower": f"{member.id:x}"}
            )
            corrupt = True
    if corrupt:
        alarm = pb.AlarmRequest(action=pb.AlarmRequest.ACTIVATE, memberID=0, alarm=pb.CORRUPT)
        await server._propose(InternalRaftRequest(alarm=alarm))
    logger.info("finished peer corruption check", extra={"number-of-peers-checked": len(answers)})
    return corrupt


async def monitor_kv_hash(server: EtcdServer, interval: float, fetch: PeerHashFetcher | None = None) -> None:
    """Runs ``check_hash_kv`` every ``interval`` seconds while this member leads."""
    while True:
        await asyncio.sleep(interval)
        if not server.is_leader():
            continue
        try:
            await check_hash_kv(server, fetch)
        except Exception as e:
            logger.warning("failed to check hash KV", extra={"error": str(e)})


async def _hash(server: EtcdServer, revision: int) -> pb.HashKVResponse:
    return await server.hash_kv(revision)


async def _peer_hashes(
    server: EtcdServer, fetch: PeerHashFetcher, revision: int, peers: list[Member] | None = None
) -> list[tuple[Member, pb.HashKVResponse | None]]:
    if peers is None:
        peers = [m for m in server.cluster.members() if m.id != server.id]

    async def one(m: Member) -> tuple[Member, pb.HashKVResponse | None]:
        try:
            async with asyncio.timeout(PEER_TIMEOUT):
                return m, await fetch(m, revision)
        except Exception as e:
            logger.warning("failed hash kv request", extra={"remote-peer-id": f"{m.id:x}", "error": str(e)})
            return m, None

    return list(await asyncio.gather(*(one(m) for m in peers)))


async def fetch_peer_hash(member: Member, revision: int) -> pb.HashKVResponse:
    """Asks ``member`` over its peer URLs (the first that answers)."""
    body = json.dumps({"revision": revision})
    last: Exception = ConnectionError(f"member {member.id:x} has no peer URLs")
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=PEER_TIMEOUT)) as session:
        for url in member.peer_urls:
            try:
                async with session.get(url.rstrip("/") + HASHKV_PATH, data=body) as resp:
                    text = await resp.text()
                    if resp.status != 200:
                        raise ConnectionError(f"{resp.status}: {text.strip()}")
                    parsed = pb.HashKVResponse()
                    json_format.Parse(text, parsed, ignore_unknown_fields=True)
                    return parsed
            except (aiohttp.ClientError, ConnectionError, json_format.ParseError) as e:
                last = e
    raise last


async def hash_kv_handler(server: EtcdServer, body: bytes) -> tuple[int, bytes]:
    """The peer port's ``/members/hashkv``: (HTTP status, body) for a JSON ``HashKVRequest``."""
    try:
        req: dict[str, Any] = json.loads(body or b"{}")
        revision = int(req.get("revision", 0))
    except (ValueError, TypeError):
        return 400, b"bad hashkv request\n"
    try:
        resp = await server.hash_kv(revision)
    except (ErrCompacted, ErrFutureRev) as e:
        return 400, f"{e}\n".encode()
    return 200, json_format.MessageToJson(resp, preserving_proto_field_name=True, indent=None).encode()
