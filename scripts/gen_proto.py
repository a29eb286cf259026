"""Generates Python modules from every .proto file under etcd/ and mux/.

Our .proto files are written by us to be wire-compatible with etcd's; the generated ``*_pb2.py``,
``*_pb2.pyi`` and ``*_pb2_grpc.py`` files sit next to them and are not committed. Imports between
proto files are written relative to the repository root (``import "etcd/raft/raftpb/raft.proto"``), so
the generated modules import each other as ``etcd.raft.raftpb.raft_pb2``.
"""

from __future__ import annotations

import pathlib
import re
import sys

from grpc_tools import protoc

ROOT = pathlib.Path(__file__).resolve().parent.parent
SERVICE = re.compile(r"^\s*service\s+\w+", re.MULTILINE)


def main() -> int:
    protos = sorted(str(p.relative_to(ROOT)) for d in ("etcd", "mux") for p in (ROOT / d).rglob("*.proto"))
    if not protos:
        print("gen_proto: no .proto files found")
        return 0
    include = str(pathlib.Path(protoc.__file__).parent / "_proto")
    base = ["grpc_tools.protoc", f"-I{ROOT}", f"-I{include}"]
    status = protoc.main([*base, f"--python_out={ROOT}", f"--pyi_out={ROOT}", *protos])
    # gRPC stubs only where there are services: a stub module imports grpc, which the pure packages
    # (etcd/raft, the storage packages) must never have next to them.
    with_services = [p for p in protos if SERVICE.search((ROOT / p).read_text())]
    if status == 0 and with_services:
        status = protoc.main([*base, f"--grpc_python_out={ROOT}", *with_services])
    if status != 0:
        print(f"gen_proto: protoc failed with status {status}", file=sys.stderr)
        return status
    for proto in set(protos) - set(with_services):
        (ROOT / proto).with_name(pathlib.Path(proto).stem + "_pb2_grpc.py").unlink(missing_ok=True)
    print(f"gen_proto: generated code for {len(protos)} .proto files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
