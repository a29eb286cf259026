"""Our v3 API .proto files against etcd 3.4.23's schema, and the gateway route table against both.

``etcd_3_4_23_schema.txt`` lists every field number, name and type, enum value and RPC of etcd
v3.4.23's own .proto files (see its header). Rendering our generated descriptors the same way must
give the same text: this catches what a live test cannot see, such as two fields swapped whose
values happen to be equal, or a message no test sends.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.descriptor import FileDescriptor

from etcd.api import gateway_routes
from etcd.api.etcdserverpb import etcdserver_pb2, raft_internal_pb2, rpc_pb2
from etcd.api.healthpb import health_pb2
from etcd.api.v3electionpb import v3election_pb2
from etcd.api.v3lockpb import v3lock_pb2
from etcd.auth.authpb import auth_pb2
from etcd.mvcc.mvccpb import kv_pb2

GOLDEN = Path(__file__).with_name("etcd_3_4_23_schema.txt")
OUR_FILES = [
    kv_pb2,
    auth_pb2,
    rpc_pb2,
    etcdserver_pb2,
    raft_internal_pb2,
    v3lock_pb2,
    v3election_pb2,
    health_pb2,
]

_FDP = descriptor_pb2.FieldDescriptorProto
_TYPE_NAMES = {number: name.removeprefix("TYPE_").lower() for name, number in _FDP.Type.items()}


def render(files: Iterable[descriptor_pb2.FileDescriptorProto]) -> list[str]:
    """One block per message, enum and service, sorted by full name; presence (optional) is left out."""
    blocks: list[list[str]] = []

    def message(m: descriptor_pb2.DescriptorProto, scope: str) -> None:
        name = f"{scope}.{m.name}"
        block = [f"message {name}"]
        for f in sorted(m.field, key=lambda f: f.number):
            kind = f.type_name or _TYPE_NAMES[f.type]
            label = "repeated " if f.label == _FDP.LABEL_REPEATED else ""
            oneof = ""
            if f.HasField("oneof_index") and not f.proto3_optional:
                oneof = f" (oneof {m.oneof_decl[f.oneof_index].name})"
            block.append(f"  {f.number} {f.name} {label}{kind}{oneof}")
        blocks.append(block)
        for e in m.enum_type:
            enum(e, name)
        for n in m.nested_type:
            message(n, name)

    def enum(e: descriptor_pb2.EnumDescriptorProto, scope: str) -> None:
        values = sorted(e.value, key=lambda v: v.number)
        blocks.append([f"enum {scope}.{e.name}"] + [f"  {v.number} {v.name}" for v in values])

    for fd in files:
        for m in fd.message_type:
            message(m, fd.package)
        for e in fd.enum_type:
            enum(e, fd.package)
        for s in fd.service:
            block = [f"service {fd.package}.{s.name}"]
            for r in s.method:
                client = "stream " if r.client_streaming else ""
                server = "stream " if r.server_streaming else ""
                block.append(f"  {r.name}({client}{r.input_type}) -> {server}{r.output_type}")
            blocks.append(block)
    return [line for block in sorted(blocks) for line in block]


def _as_proto(fd: FileDescriptor) -> descriptor_pb2.FileDescriptorProto:
    proto = descriptor_pb2.FileDescriptorProto()
    fd.CopyToProto(proto)
    return proto


def test_our_protos_render_to_etcd_3_4_23_schema() -> None:
    golden = [line for line in GOLDEN.read_text().splitlines() if not line.startswith("#")]
    ours = render(_as_proto(module.DESCRIPTOR) for module in OUR_FILES)
    assert ours == golden


def test_v2_request_keeps_presence_of_prev_exist_and_refresh() -> None:
    # etcd writes this proto2 message with every non-nullable field, zeros included; PrevExist and
    # Refresh are nullable there, so "absent" and "false" differ and must survive a round trip.
    fields = ["0800", "1203474554", "1a032f6b31", "2000", "4000"]  # ID, Method, Path, Dir, PrevExist
    go_bytes = bytes.fromhex("".join(fields))
    r = etcdserver_pb2.Request.FromString(go_bytes)
    assert (r.ID, r.Method, r.Path, r.Dir) == (0, "GET", "/k1", False)
    assert r.HasField("PrevExist") and r.PrevExist is False
    assert not r.HasField("Refresh")
    assert etcdserver_pb2.Request(PrevExist=False).SerializeToString() == bytes.fromhex("4000")
    assert etcdserver_pb2.Request().SerializeToString() == b""


def test_internal_raft_request_numbers_survive_a_round_trip() -> None:
    req = raft_internal_pb2.InternalRaftRequest(
        header=raft_internal_pb2.RequestHeader(ID=7, username="alice", auth_revision=3),
        ID=9,
        auth_role_revoke_permission=rpc_pb2.AuthRoleRevokePermissionRequest(role="r", key=b"k"),
    )
    data = req.SerializeToString()
    # Field 100 (header) is tag 0xa2 0x06; field 1204 is tag 0xa2 0x4b: etcd's numbers on the wire.
    assert bytes.fromhex("a206") in data
    assert bytes.fromhex("a24b") in data
    assert raft_internal_pb2.InternalRaftRequest.FromString(data) == req


def test_every_gateway_route_names_a_real_method_with_its_message_types() -> None:
    pool = descriptor_pool.Default()
    for path, route in gateway_routes.ROUTES.items():
        assert path.startswith("/v3/"), path
        method = pool.FindServiceByName(route.service).methods_by_name[route.method]
        assert route.request_type.DESCRIPTOR is method.input_type, path
        assert route.response_type.DESCRIPTOR is method.output_type, path
        assert route.grpc_path == f"/{route.service}/{route.method}"


def test_gateway_routes_cover_every_public_rpc_but_hashkv() -> None:
    routed = {(r.service, r.method) for r in gateway_routes.ROUTES.values()}
    public = {
        (service.full_name, method.name)
        for module in (rpc_pb2, v3lock_pb2, v3election_pb2)
        for service in module.DESCRIPTOR.services_by_name.values()
        for method in service.methods
    }
    assert public - routed == {("etcdserverpb.Maintenance", "HashKV")}
    assert routed <= public
    assert len(gateway_routes.ROUTES) == 48  # 46 methods, 3 with a second /v3/kv/lease/ path, HashKV none


def test_streaming_routes() -> None:
    streaming = {
        path: (route.client_streaming, route.server_streaming)
        for path, route in gateway_routes.ROUTES.items()
        if route.client_streaming or route.server_streaming
    }
    assert streaming == {
        "/v3/watch": (True, True),
        "/v3/lease/keepalive": (True, True),
        "/v3/maintenance/snapshot": (False, True),
        "/v3/election/observe": (False, True),
    }
