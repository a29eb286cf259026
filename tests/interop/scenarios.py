"""The scripted sessions the interop tests run on the real etcd 3.4 and on ours, transcripts compared.

Each scenario starts on a fresh one-member cluster (so revisions and v2 indexes match between the two
members), names the flags it needs beyond the defaults, and lists strings the real etcd's transcript must
contain: they pin what the session is meant to show, so a scenario that stops testing anything fails.
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.interop.session import Step

# Values two correct members may differ in: database size (RocksDB is not bbolt), raft index (ours may
# append a different number of internal entries), hash of the backend.
DB_SIZE = (r'"dbSize(InUse)?":"?[0-9]+"?', r'"dbSize\1":<N>')
RAFT_INDEX = (r'"raft(Applied)?Index":"?[0-9]+"?', r'"raft\1Index":<N>')
STATUS_TABLE = (
    r"(<EP>, <MEMBER_ID>, [0-9.]+), [0-9.]+ [kMG]?B, (true|false), (true|false), ([0-9]+), [0-9]+, [0-9]+,",
    r"\1, <SIZE>, \2, \3, \4, <N>, <N>,",
)
REMAINING = (r"remaining\([0-9]+s\)", "remaining(<N>s)")
REMAINING_JSON = (r'"ttl":(9[0-9]|100),', '"ttl":<N>,')
LOCK_KEY = (r"(mylock|myelection)/[0-9a-f]+", r"\1/<LEASE>")
HEADER_DATE = (r"(?m)^Date: .*$", "Date: <DATE>")
# etcd hashes the key bucket with CRC-32C (Castagnoli); ours with zlib's CRC-32 (etcd/mvcc/kvstore.py
# hash_by_rev), so the numbers differ by design. The tests still show both answer, with the same fields.
HASH = (r'"hash":[0-9]+', '"hash":<HASH>')
GRPC_TOO_LARGE = (r"desc = (grpc|SERVER): [Rr]eceived message", "desc = <grpc>: received message")
# v2 TTL keys: the expiration time and the seconds left depend on when the step ran.
V2_EXPIRATION = (r'"expiration":"[^"]+"', '"expiration":"<T>"')
V2_TTL = (r'"ttl":(9[0-9]|1[0-9][0-9]|200)\b', '"ttl":<N>')
# A grant of a negative TTL is a lease of the minimum TTL, with an id only that member knows.
ANY_LEASE = (r"lease [0-9a-f]+ granted", "lease <ID> granted")
RAFT_HEADERS = (r"(?m)^X-Raft-Index: [0-9]+", "X-Raft-Index: <N>")


@dataclass(frozen=True)
class Scenario:
    steps: tuple[Step, ...]
    expect: tuple[str, ...]
    flags: tuple[str, ...] = ()


def _s(cmd: str, **kw: object) -> Step:
    return Step(cmd, **kw)  # type: ignore[arg-type]


KV = Scenario(
    steps=(
        _s("etcdctl put a 1 && etcdctl put b 2 && etcdctl put c 3 && etcdctl put a 11"),
        _s("etcdctl put -w json d 4"),
        _s("etcdctl put --prev-kv a 111"),
        _s("etcdctl get a"),
        _s("etcdctl get a -w json"),
        _s("etcdctl get missing; etcdctl get missing -w json"),
        _s("etcdctl get '' --prefix"),
        _s("etcdctl get a --prefix --limit 1 -w json"),
        _s("etcdctl get b --from-key --keys-only"),
        _s("etcdctl get a --rev=2"),
        _s("etcdctl get a --rev=3 -w json"),
        _s("etcdctl get a --rev=99"),
        _s("etcdctl get '' --prefix --sort-by=MODIFY --order=DESCEND --print-value-only"),
        _s("etcdctl get '' --prefix --sort-by=VERSION --order=ASCEND --keys-only"),
        _s("etcdctl get '' --prefix --sort-by=VALUE --order=DESCEND -w json"),
        _s("etcdctl get a c"),
        _s("etcdctl get a --consistency=s -w fields"),
        _s("etcdctl get '' --prefix -w simple --limit 2 --sort-by=CREATE"),
        _s("etcdctl del a --prev-kv"),
        _s("etcdctl del nothing"),
        _s("etcdctl del '' --prefix -w json"),
        _s("etcdctl put x y --ignore-value; etcdctl put x y --ignore-lease"),
        _s("etcdctl get '' --prefix -w json"),
    ),
    expect=(
        "OK",
        '"kvs":[{"key":"YQ==","create_revision":2,"mod_revision":7,"version":3,"value":"MTEx"}]',
        "a\n1\n",
        "Error: etcdserver: mvcc: required revision is a future revision",
        "111\n4\n3\n2\n",
        '"deleted":3',
    ),
)

TXN = Scenario(
    steps=(
        _s("etcdctl put k1 v1 && etcdctl put k2 v2"),
        _s("etcdctl txn -i", stdin='value("k1") = "v1"\n\nput k1 yes\nget k2\n\nput k1 no\n\n'),
        _s("etcdctl txn -i -w json", stdin='value("k1") = "v1"\n\nput k1 yes2\n\ndel k2\nget k1\n\n'),
        _s(
            "etcdctl txn -i",
            stdin='mod("k1") > "0"\nversion("k2") = "0"\ncreate("k1") < "3"\n\nput k3 a\n\n\n',
        ),
        _s("etcdctl txn -i", stdin="\nget k --prefix --keys-only\ndel k3 --prev-kv\n\n\n"),
        _s("etcdctl txn -i", stdin='value("k1") = "nope"\n\nput k1 a\n\nget k1\n\n'),
        _s("etcdctl txn -i", stdin="\n\nput k4 a\nput k4 b\n\n\n"),
        _s("etcdctl txn -i", stdin='value("k1") =\n\n\n\n'),
        _s("etcdctl get k --prefix"),
    ),
    expect=("SUCCESS", "FAILURE", "Error: etcdserver: duplicate key given in txn request"),
)

COMPACTION_AND_WATCH = Scenario(
    steps=(
        _s("for i in 1 2 3 4 5; do etcdctl put w$i v$i >/dev/null; done; etcdctl put other z"),
        _s("timeout 1 etcdctl watch --rev=2 w --prefix"),
        _s("timeout 1 etcdctl watch --rev=1 w1 -w json"),
        _s("timeout 1 etcdctl watch --rev=3 --prev-kv w1 w4"),
        _s(
            "(sleep 0.3; etcdctl put w2 live >/dev/null; etcdctl del w2 >/dev/null) & "
            "timeout 1.5 etcdctl watch --rev=8 w2 --prev-kv; wait"
        ),
        _s("etcdctl compaction 4"),
        _s("etcdctl compaction 4"),
        _s("etcdctl compaction 2"),
        _s("etcdctl compaction --physical 6"),
        _s("etcdctl get w1 --rev=3"),
        _s("etcdctl get w1 --rev=6 -w json"),
        _s("timeout 1 etcdctl watch --rev=2 w --prefix"),
        _s("etcdctl compaction 99"),
        _s("etcdctl endpoint hashkv -w json", masks=(HASH,)),
    ),
    expect=(
        "PUT\nw1\nv1\n",
        "compacted revision 4",
        "Error: etcdserver: mvcc: required revision has been compacted",
        "watch was canceled (etcdserver: mvcc: required revision has been compacted)",
        "Error: etcdserver: mvcc: required revision is a future revision",
    ),
)

LEASE = Scenario(
    steps=(
        _s("etcdctl lease grant 100", capture=(("LEASE", r"lease ([0-9a-f]+) granted"),)),
        # One key while the lease's keys are listed: etcd lists them in Go map order, which varies run to run.
        _s("etcdctl put --lease=$LEASE lk1 v"),
        _s("etcdctl lease timetolive $LEASE", masks=(REMAINING,)),
        _s("etcdctl lease timetolive --keys $LEASE", masks=(REMAINING,)),
        _s("etcdctl lease timetolive --keys -w json $LEASE", masks=(REMAINING_JSON,)),
        _s("etcdctl lease keep-alive --once $LEASE"),
        _s("etcdctl lease list"),
        _s("etcdctl lease list -w json"),
        _s("etcdctl put --lease=$LEASE lk2 v && etcdctl get lk1 -w json"),
        _s("etcdctl lease grant 1", capture=(("SHORT", r"lease ([0-9a-f]+) granted"),)),
        _s(
            "etcdctl put --lease=$SHORT short v && etcdctl get short --print-value-only && sleep 2.5 && "
            "etcdctl get short -w json && etcdctl lease timetolive $SHORT"
        ),
        _s("etcdctl lease revoke $LEASE"),
        _s("etcdctl get '' --prefix"),
        _s("etcdctl lease timetolive $LEASE"),
        _s("etcdctl lease revoke $LEASE"),
        _s("etcdctl lease keep-alive --once $LEASE"),
        _s("etcdctl put --lease=1234abcd k v"),
        _s("etcdctl lease grant 0", masks=((r"lease [0-9a-f]+ granted", "lease <ZERO> granted"),)),
    ),
    expect=(
        "granted with TTL(100s)",
        "attached keys([lk1])",
        "keepalived with TTL(100)",
        "found 1 leases",
        "revoked",
        "already expired",
        "Error: etcdserver: requested lease not found",
    ),
)

MAINTENANCE = Scenario(
    steps=(
        _s("etcdctl put m 1"),
        _s("etcdctl endpoint health", masks=()),
        _s("etcdctl endpoint health -w json"),
        _s("etcdctl endpoint status", masks=(STATUS_TABLE,)),
        _s("etcdctl endpoint status -w json", masks=(DB_SIZE, RAFT_INDEX)),
        _s("etcdctl endpoint hashkv -w json", masks=(HASH,)),
        _s("etcdctl endpoint hashkv --rev=1 -w json", masks=(HASH,)),
        _s("etcdctl member list"),
        _s("etcdctl member list -w json"),
        _s("etcdctl alarm list; echo rc=$?"),
        _s("etcdctl alarm disarm; echo rc=$?"),
        _s("etcdctl defrag"),
        _s(
            "etcdctl move-leader $(etcdctl endpoint status -w json | grep -o '\"leader\":[0-9]*' "
            "| cut -d: -f2 | xargs printf '%x')"
        ),
        _s("etcdctl snapshot save $TMP/snap.db; echo rc=$?; test -s $TMP/snap.db && echo saved"),
        _s("etcdctl check perf --load=s 2>/dev/null | head -0; etcdctl get m --print-value-only"),
        _s("etcdctl endpoint status -w json", masks=(DB_SIZE, RAFT_INDEX)),
    ),
    expect=(
        "<EP> is healthy: successfully committed proposal: took = <T>",
        '"version":"3.4.23"',
        "<MEMBER_ID>, started, m1, http://<PEER>, http://<EP>, false",
        "Finished defragmenting etcd member[<EP>]",
        "Snapshot saved at <TMP>/snap.db\nrc=0\nsaved",
    ),
)

LOCK_ELECT = Scenario(
    steps=(
        _s("etcdctl lock mylock echo hello; echo rc=$?"),
        _s("etcdctl lock mylock -- sh -c 'echo $ETCD_LOCK_KEY; exit 3'; echo rc=$?", masks=(LOCK_KEY,)),
        _s(
            "(timeout 2 etcdctl elect myelection p1 > $TMP/leader.out &) ; sleep 0.7; "
            "timeout 1 etcdctl elect -l myelection; cat $TMP/leader.out",
            masks=(LOCK_KEY,),
        ),
        _s("sleep 1.5; etcdctl get --prefix mylock --keys-only; etcdctl get --prefix myelection --keys-only"),
    ),
    expect=("hello\nrc=0", "myelection/<LEASE>\np1\n"),
)

V2_ETCDCTL = Scenario(
    steps=(
        _s("etcdctl2 set /dir/a 1; etcdctl2 set /dir/b 2"),
        _s("etcdctl2 get /dir/a; etcdctl2 -o json get /dir/a"),
        _s("etcdctl2 -o extended get /dir/b"),
        _s("etcdctl2 mk /dir/a 3; echo rc=$?"),
        _s("etcdctl2 mk /dir/c 3"),
        _s("etcdctl2 mkdir /emptydir && etcdctl2 mkdir /emptydir; echo rc=$?"),
        _s("etcdctl2 ls --sort; etcdctl2 ls --sort --recursive /dir; etcdctl2 ls --sort -p /"),
        _s("etcdctl2 update /dir/a 10 && etcdctl2 update /dir/zz 1; echo rc=$?"),
        _s(
            "etcdctl2 set --swap-with-value 10 /dir/a 11; "
            "etcdctl2 set --swap-with-value 10 /dir/a 12; echo rc=$?"
        ),
        _s("etcdctl2 rm /dir/b; etcdctl2 rm /dir/b; echo rc=$?"),
        _s("etcdctl2 rm /dir; echo rc=$?"),
        _s("etcdctl2 rmdir /emptydir"),
        _s("timeout 2 etcdctl2 watch /dir/a --after-index=0"),
        _s("timeout 2 etcdctl2 watch /dir/c --after-index=6"),
        _s(
            "idx=$(etcdctl2 -o extended get /dir/a | sed -n 's/^Index: //p'); "
            "(sleep 0.3; etcdctl2 set /dir/a live >/dev/null) & "
            "timeout 2 etcdctl2 watch --after-index=$idx /dir/a; wait"
        ),
        _s(
            "etcdctl2 set --ttl 100 /ttl x && etcdctl2 -o json get /ttl",
            masks=((r'"expiration":"[^"]+"', '"expiration":"<T>"'), (r'"ttl":(99|100)', '"ttl":<N>')),
        ),
        _s("etcdctl2 rm --recursive /dir && etcdctl2 ls /"),
    ),
    expect=("Error:  105: Key already exists (/dir/a)", "Error:  100: Key not found (/dir/zz)", "live"),
)

CURL_V2 = Scenario(
    steps=(
        _s("curl -sS -X PUT $URL/v2/keys/foo -d value=bar; echo"),
        _s("curlh $URL/v2/keys/foo", masks=(HEADER_DATE, RAFT_HEADERS)),
        _s('curl -sS -X PUT "$URL/v2/keys/foo?prevExist=false" -d value=x; echo'),
        _s("curl -sS -X PUT $URL/v2/keys/d/1 -d value=a; curl -sS -X POST $URL/v2/keys/q -d value=j; echo"),
        _s('curl -sS "$URL/v2/keys/?recursive=true&sorted=true"; echo'),
        _s('curl -sS "$URL/v2/keys/foo?wait=true&waitIndex=1"; echo'),
        _s('curl -sS -m 1 "$URL/v2/keys/foo?wait=true" 2>/dev/null; echo rc=$?'),
        _s('curl -sS -X DELETE "$URL/v2/keys/foo?prevValue=nope"; echo'),
        _s(
            "curl -sS -X DELETE $URL/v2/keys/foo; echo; curlh $URL/v2/keys/foo",
            masks=(HEADER_DATE, RAFT_HEADERS),
        ),
        _s("curl -sS $URL/v2/members; echo; curl -sS $URL/v2/machines; echo"),
        _s("curl -sS -X PUT $URL/v2/keys/bad?ttl=abc -d value=1; echo"),
    ),
    expect=('"action":"set"', '"errorCode":105', '"errorCode":100', "X-Etcd-Index:"),
)

CURL_HTTP = Scenario(
    steps=(
        _s("curl -sS $URL/version; echo; curl -sS $URL/health; echo"),
        _s("curl -sS -o /dev/null -w '%{http_code} %{content_type}\\n' $URL/health"),
        _s('curl -sS -X POST $URL/v3/kv/put -d \'{"key":"Zm9v","value":"YmFy"}\'; echo'),
        _s('curl -sS -X POST $URL/v3/kv/put -d \'{"key":"Zm9w","value":"eA==","prev_kv":true}\'; echo'),
        _s('curl -sS -X POST $URL/v3/kv/range -d \'{"key":"Zm9v"}\'; echo'),
        _s('curl -sS -X POST $URL/v3/kv/range -d \'{"key":"Zm8=","range_end":"Zm9="}\'; echo'),
        _s(
            "curl -sS -X POST $URL/v3beta/kv/range "
            '-d \'{"key":"AA==","range_end":"AA==","keys_only":true}\'; echo'
        ),
        _s('curl -sS -X POST $URL/v3/kv/range -d \'{"key":"bm9uZQ=="}\'; echo'),
        _s('curl -sS -X POST $URL/v3/kv/deleterange -d \'{"key":"Zm9w","prev_kv":true}\'; echo'),
        _s(
            'curl -sS -X POST $URL/v3/kv/txn -d \'{"compare":[{"key":"Zm9v","result":"EQUAL",'
            '"target":"VALUE","value":"YmFy"}],"success":[{"request_range":{"key":"Zm9v"}}]}\'; echo'
        ),
        _s('curl -sS -X POST $URL/v3/kv/compaction -d \'{"revision":"2"}\'; echo'),
        _s(
            "curl -sS -X POST $URL/v3/lease/grant -d '{\"TTL\":30}'; echo",
            capture=(("GW_LEASE", r'"ID":"([0-9]+)"'),),
            masks=((r'"ID":"[0-9]+"', '"ID":"<GW_LEASE>"'),),
        ),
        _s("curl -sS -X POST $URL/v3/maintenance/status -d '{}'; echo", masks=(DB_SIZE, RAFT_INDEX)),
        _s('curl -sS -X POST $URL/v3/maintenance/alarm -d \'{"action":"GET"}\'; echo'),
        _s('curl -sS -X POST $URL/v3/lease/grant -d \'{"TTL":30,"ID":77}\'; echo'),
        _s(
            'curl -sS -X POST $URL/v3/lease/timetolive -d \'{"ID":77,"keys":true}\'; echo',
            masks=((r'"TTL":"(29|30)"', '"TTL":"<N>"'),),
        ),
        _s(
            "curl -sS -X POST $URL/v3/lease/leases -d '{}'; echo",
            masks=((r'\{"ID":"<GW_LEASE>"\},\{"ID":"77"\}', '{"ID":"77"},{"ID":"<GW_LEASE>"}'),),
        ),
        _s("curl -sS -X POST $URL/v3/lease/keepalive -d '{\"ID\":77}'; echo"),
        _s(
            "curl -sS -X POST $URL/v3/kv/lease/revoke -d '{\"ID\":77}'; echo; "
            "curl -sS -X POST $URL/v3/lease/revoke -d '{\"ID\":77}'; echo"
        ),
        _s(
            "curl -sS $URL/v2/stats/store | python3 -c 'import json,sys; print(sorted(json.load(sys.stdin)))'"
        ),
        _s("curl -sS $URL/v2/stats/self | python3 -c 'import json,sys; print(sorted(json.load(sys.stdin)))'"),
        _s("curl -sS $URL/v2/stats/leader; echo"),
        _s('curl -sS "$URL/health?exclude=NOSPACE"; echo'),
        _s("curl -sS -X POST $URL/v3/cluster/member/list -d '{}'; echo"),
        _s(
            "curl -sS -m 1 -X POST $URL/v3/watch 2>/dev/null "
            '-d \'{"create_request":{"key":"Zm9v","start_revision":"2"}}\';'
            " echo rc=$?"
        ),
        _s(
            "curl -sS $URL/metrics | grep -E '^# TYPE (etcd_server_has_leader|etcd_server_is_leader|"
            "etcd_mvcc_db_total_size_in_bytes|etcd_debugging_mvcc_keys_total|etcd_server_proposals_committed_total|"
            "grpc_server_handled_total|etcd_server_version|etcd_cluster_version) ' | sort"
        ),
        # Go prints a gauge of 1 as "1", prometheus-client as "1.0": the same number to a scraper.
        _s(
            "curl -sS $URL/metrics | grep -E '^(etcd_server_has_leader|etcd_server_is_leader) ' "
            "| awk '{print $1, $2+0}'"
        ),
    ),
    expect=(
        '{"etcdserver":"3.4.23","etcdcluster":"3.4.0"}',
        '{"health":"true"}',
        '"value":"YmFy"',
        "# TYPE etcd_server_has_leader gauge",
    ),
)

BAD_INPUT = Scenario(
    flags=("--max-request-bytes=10000", "--max-txn-ops=8"),
    steps=(
        _s("head -c 20000 /dev/zero | tr '\\0' x | etcdctl put big"),
        _s("head -c 9000 /dev/zero | tr '\\0' x | etcdctl put fits"),
        # Past --max-request-bytes plus gRPC's 512 KiB allowance, grpc itself refuses the message: same code
        # and sizes, but grpc-go says "grpc: received", grpcio's core "SERVER: Received".
        _s("head -c 700000 /dev/zero | tr '\\0' x | etcdctl put huge", masks=(GRPC_TOO_LARGE,)),
        _s(
            "v=$(head -c 15000 /dev/zero | tr '\\0' x | base64 -w0); "
            'curl -sS -X POST $URL/v3/kv/put -d \'{"key":"Yg==","value":"\'$v\'"}\'; echo'
        ),
        _s("etcdctl txn -i", stdin="\n" + "".join(f"put t{i} v\n" for i in range(9)) + "\n\n"),
        _s("etcdctl txn -i", stdin="\n" + "".join(f"put t{i} v\n" for i in range(8)) + "\n\n"),
        _s("etcdctl txn -i", stdin="\nput dup 1\ndel dup\n\n\n"),
        _s("etcdctl txn -i", stdin="\nput dup 1\nget dup\n\n\n"),
        _s("etcdctl txn -i", stdin="\ndel a c\nput b 1\n\n\n"),
        _s("etcdctl put '' v"),
        _s("etcdctl del ''"),
        _s("etcdctl get z a"),
        _s("etcdctl get a --rev=-1"),
        _s("etcdctl get a --limit=-1 -w json"),
        _s("etcdctl lease grant -- -5", masks=(ANY_LEASE,)),
        _s("curl -sS -X POST $URL/v3/kv/range -d '{\"key\":'; echo"),
        _s("curl -sS -X POST $URL/v3/kv/range -d '{\"key\":1}'; echo"),
        _s("curl -sS -X POST $URL/v3/kv/range -d 'garbage'; echo"),
        _s('curl -sS -X POST $URL/v3/kv/put -d \'{"value":"eA=="}\'; echo'),
        _s('curl -sS -X POST $URL/v3/kv/range -d \'{"key":"AA==","revision":"99"}\'; echo'),
        _s("curl -sS -X POST $URL/v3/kv/nosuch -d '{}' -o /dev/null -w '%{http_code}\\n'"),
        _s("curl -sS -X PUT $URL/v2/keys/x?ttl=-1 -d value=1; echo"),
        _s("etcdctl endpoint health; curl -sS $URL/health; echo"),
    ),
    expect=(
        "Error: etcdserver: request is too large",
        "Error: etcdserver: too many operations in txn request",
        "Error: etcdserver: duplicate key given in txn request",
        "Error: etcdserver: key is not provided",
        '"code":3',
        "is healthy",
    ),
)

AUTH = Scenario(
    steps=(
        _s("etcdctl user add root:pw; etcdctl user add alice:a1; etcdctl user list"),
        _s(
            "etcdctl role add r1; etcdctl role grant-permission r1 readwrite foo; "
            "etcdctl role grant-permission --prefix r1 read bar/; etcdctl user grant-role alice r1"
        ),
        _s("etcdctl role get r1; etcdctl user get alice; etcdctl role list; etcdctl user get nobody"),
        _s("etcdctl auth enable"),
        _s("etcdctl put a 1"),
        _s("etcdctl --user root:pw put a 1"),
        _s("etcdctl --user alice:a1 put foo 1; etcdctl --user alice:a1 get foo --print-value-only"),
        _s("etcdctl --user alice:a1 put bar/x 1"),
        _s("etcdctl --user alice:wrong get foo"),
        _s("etcdctl --user root:pw user revoke-role root root"),
        _s("etcdctl --user root:pw auth disable; etcdctl put a 2"),
        _s("etcdctl user delete alice; etcdctl user get alice; etcdctl role delete r1; etcdctl role list"),
    ),
    expect=(
        "Authentication Enabled",
        "Error: etcdserver: user name is empty",
        "Error: etcdserver: permission denied",
        "Error: etcdserver: authentication failed, invalid user ID or password",
        "Error: etcdserver: invalid auth management",
        "[bar/, bar0) (prefix bar/)",
    ),
)

NOSPACE = Scenario(
    # The backends differ in how many 20 kB values fill 300 kB (bbolt pages, RocksDB files): the session
    # shows what happens once it is full, not when.
    flags=("--quota-backend-bytes=300000",),
    steps=(
        _s(
            "v=$(head -c 20000 /dev/zero | tr '\\0' x); for i in $(seq 1 60); do "
            "etcdctl put k$i $v >/dev/null 2>$TMP/err || { echo full; grep -v level $TMP/err; break; }; done"
        ),
        _s("etcdctl alarm list; etcdctl put small 1; curl -sS $URL/health; echo"),
        _s("etcdctl get small; etcdctl del --prefix k >/dev/null && echo deleted"),
        _s(
            "etcdctl compaction "
            "$(etcdctl endpoint status -w json | grep -o '\"revision\":[0-9]*' | cut -d: -f2)",
            masks=((r"compacted revision [0-9]+", "compacted revision <N>"),),
        ),
        _s(
            "etcdctl defrag; etcdctl alarm disarm; etcdctl alarm list; etcdctl put small 2; "
            "curl -sS $URL/health"
        ),
    ),
    expect=(
        "full\nError: etcdserver: mvcc: database space exceeded",
        "memberID:<MEMBER_ID> alarm:NOSPACE",
        '{"health":"false"}',
        'OK\n{"health":"true"}',
    ),
)

CURL_V2_MORE = Scenario(
    steps=(
        _s(
            'curl -sS -X PUT "$URL/v2/keys/exp?ttl=1" -d value=x; '
            "echo; sleep 2.2; curl -sS $URL/v2/keys/exp; echo",
            masks=(V2_EXPIRATION,),
        ),
        _s('curl -sS "$URL/v2/keys/exp?wait=true&waitIndex=5"; echo', masks=(V2_EXPIRATION,)),
        _s('curl -sS -X PUT "$URL/v2/keys/r?ttl=100" -d value=a; echo', masks=(V2_EXPIRATION, V2_TTL)),
        _s(
            'curl -sS -X PUT "$URL/v2/keys/r?ttl=200&refresh=true&prevExist=true"; echo',
            masks=(V2_EXPIRATION, V2_TTL),
        ),
        _s('curl -sS -X PUT "$URL/v2/keys/r?refresh=true" -d value=b; echo'),
        _s('curl -sS -X PUT "$URL/v2/keys/r?prevIndex=1" -d value=c; echo'),
        _s(
            'curl -sS -X PUT "$URL/v2/keys/r?prevIndex=7&prevValue=a" -d value=c; echo',
            masks=(V2_EXPIRATION, V2_TTL),
        ),
        _s(
            'curl -sS -X PUT "$URL/v2/keys/dd?dir=true"; echo; '
            'curl -sS -X PUT "$URL/v2/keys/dd" -d value=1; echo'
        ),
        _s(
            'curl -sS -X PUT "$URL/v2/keys/_hidden" -d value=h; '
            'echo; curl -sS "$URL/v2/keys/?sorted=true"; echo',
            masks=(V2_EXPIRATION, V2_TTL),
        ),
        _s('curl -sS -X DELETE "$URL/v2/keys/dd"; echo; curl -sS -X DELETE "$URL/v2/keys/dd?dir=true"; echo'),
        _s('curl -sS "$URL/v2/keys/r?quorum=true"; echo; curl -sS "$URL/v2/keys/nope?quorum=true"; echo'),
        _s(
            'curl -sS -X PUT "$URL/v2/keys/a/b/c" -d value=1 >/dev/null; '
            'curl -sS -X DELETE "$URL/v2/keys/a"; echo; '
            'curl -sS -X DELETE "$URL/v2/keys/a?recursive=true"; echo'
        ),
        _s(
            'curl -sS -X POST "$URL/v2/keys/q?ttl=abc" -d value=1; '
            'echo; curl -sS "$URL/v2/keys/x?wait=true&waitIndex=x"; echo'
        ),
        _s('curlh -X OPTIONS -H "Origin: http://x" $URL/v2/keys/r', masks=(HEADER_DATE,)),
        _s("curl -sS -o /dev/null -w '%{http_code}\\n' -X PATCH $URL/v2/keys/r"),
        _s("curl -sS -o /dev/null -w '%{http_code}\\n' $URL/v3/kv/range"),
    ),
    expect=(
        '"action":"expire"',
        '"errorCode":211',
        '"errorCode":101',
        '"errorCode":102',
        '"errorCode":203',
        "405",
    ),
)

GATEWAY_MORE = Scenario(
    steps=(
        _s(
            'curl -sS -X POST $URL/v3/kv/txn -d \'{"success":[{"request_txn":{"success":'
            '[{"request_put":{"key":"bg==","value":"MQ=="}}]}}]}\'; echo'
        ),
        _s(
            'curl -sS -X POST $URL/v3/kv/range -d \'{"key":"AA==","range_end":"AA==",'
            '"count_only":true,"serializable":true}\'; echo'
        ),
        _s(
            "for k in YQ== Yg== Yw==; "
            'do curl -sS -X POST $URL/v3/kv/put -d \'{"key":"\'$k\'","value":"eA=="}\' '
            ">/dev/null; done; curl -sS -X POST $URL/v3/kv/range "
            '-d \'{"key":"AA==","range_end":"AA==","limit":2,"min_mod_revision":"3"}\'; echo'
        ),
        _s(
            'curl -sS -X POST $URL/v3/kv/range -d \'{"key":"AA==","range_end":"AA==",'
            '"sort_order":"DESCEND","sort_target":"MOD","keys_only":true,"max_create_revision":"4"}\'; echo'
        ),
        _s(
            'curl -sS -X POST $URL/v3/kv/put -d \'{"key":"bg==","ignore_value":true,"prev_kv":true}\'; echo; '
            'curl -sS -X POST $URL/v3/kv/put -d \'{"key":"bm8=","ignore_value":true}\'; echo'
        ),
        _s('curl -sS -X POST $URL/v3/kv/deleterange -d \'{"key":"YQ==","range_end":"Yw=="}\'; echo'),
        _s(
            'curl -sS -X POST $URL/v3/kv/txn -d \'{"compare":[{"key":"Yw==","target":"VERSION",'
            '"result":"GREATER","version":"5"}],"failure":[{"request_delete_range":'
            '{"key":"Yw==","prev_kv":true}}]}\'; echo'
        ),
        _s(
            'curl -sS -m 1.5 -X POST $URL/v3/watch 2>/dev/null -d \'{"create_request":{"key":"AA==",'
            '"range_end":"AA==","start_revision":"1","prev_kv":true,"filters":["NODELETE"]}}\'; '
            "echo rc=$?"
        ),
        _s(
            'curl -sS -X POST $URL/v3/kv/compaction -d \'{"revision":"3","physical":true}\'; echo; '
            "curl -sS -m 1.5 -X POST $URL/v3/watch 2>/dev/null "
            '-d \'{"create_request":{"key":"AA==","start_revision":"1"}}\'; echo rc=$?'
        ),
        _s("curl -sS -X POST $URL/v3/maintenance/hash -d '{}' | grep -o '\"header\":{[^}]*}'"),
        _s("curl -sS -X POST $URL/v3/maintenance/defragment -d '{}'; echo"),
    ),
    expect=('"response_txn"', '"count":"1"', '"compact_revision":"3"', '"canceled":true', '"prev_kvs"'),
)

BIG = Scenario(
    steps=(
        # One 1 MB value (under the default 1.5 MiB --max-request-bytes) through etcdctl and the gateway.
        _s(
            "head -c 1000000 /dev/urandom | base64 -w0 | head -c 1000000 > $TMP/v; etcdctl put big < $TMP/v; "
            "etcdctl get big --print-value-only | head -c 1000000 | cmp - $TMP/v && echo same"
        ),
        _s(
            'curl -sS -X POST $URL/v3/kv/range -d \'{"key":"Ymln"}\' | grep -o \'"value":"[^"]*"\' '
            "| cut -d'\"' -f4 | base64 -d | cmp - $TMP/v && echo same"
        ),
        # 2048 keys in 16 transactions of 128 puts (the default --max-txn-ops), then ranges over all of them.
        _s(
            "for t in $(seq 0 15); do for i in $(seq 0 127); do echo put k/$((t * 128 + i)) v$i; done "
            "| (echo; cat; echo; echo) | etcdctl txn -i >/dev/null || exit 1; done; "
            "etcdctl get k/ --prefix --keys-only | grep -c k/"
        ),
        _s(
            "etcdctl get k/ --prefix -w json | sed 's/\"header\":{[^}]*}//' | md5sum; "
            "etcdctl get k/ --prefix --limit 3 -w json | grep -o '\"more\":true'"
        ),
        _s("etcdctl get k/1000 --from-key --keys-only --limit 5"),
        _s("etcdctl del k/ --prefix; etcdctl get k/ --prefix --keys-only | wc -l"),
    ),
    expect=("same\n[exit 0]\n$ curl", "2048", '"more":true', "2048\n[exit 0]"),
)

ALL: dict[str, Scenario] = {
    "kv": KV,
    "txn": TXN,
    "compaction_watch": COMPACTION_AND_WATCH,
    "lease": LEASE,
    "maintenance": MAINTENANCE,
    "lock_elect": LOCK_ELECT,
    "v2_etcdctl": V2_ETCDCTL,
    "curl_v2": CURL_V2,
    "curl_http": CURL_HTTP,
    "bad_input": BAD_INPUT,
    "auth": AUTH,
    "nospace": NOSPACE,
    "curl_v2_more": CURL_V2_MORE,
    "gateway_more": GATEWAY_MORE,
    "big": BIG,
}
