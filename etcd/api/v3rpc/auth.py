"""The Auth service (etcd's ``v3rpc/auth.go``) as etcd 3.4 answers with auth disabled and no users or
roles (verified against etcd 3.4.23 with etcdctl).

Reads answer from that empty store: no users, no roles, ``UserGet`` user not found, ``RoleGet`` role
not found; ``Authenticate`` auth not enabled; ``AuthEnable`` root user does not exist;
``AuthDisable`` succeeds. Writes naming a user or role that would have to exist fail as etcd's do
(user name not found, role name not found); an empty name fails as etcd's do. Adding a user or role,
which etcd would store, answers ``ErrGRPCNotCapable`` until auth exists (issue 8).
"""

from __future__ import annotations

from etcd.api.etcdserverpb import rpc_pb2 as pb
from etcd.api.etcdserverpb import rpc_pb2_grpc
from etcd.api.v3rpc import rpctypes
from etcd.api.v3rpc.header import Header
from etcd.api.v3rpc.rpctypes import RPCError, RPCException
from etcd.api.v3rpc.server_api import Context, V3Server


def _fail(err: RPCError) -> RPCException:
    return RPCException(err)


class AuthServer(rpc_pb2_grpc.AuthServicer):
    def __init__(self, server: V3Server) -> None:
        self._hdr = Header(server)

    async def AuthEnable(self, request: pb.AuthEnableRequest, context: Context) -> pb.AuthEnableResponse:
        raise _fail(rpctypes.ErrGRPCRootUserNotExist)

    async def AuthDisable(self, request: pb.AuthDisableRequest, context: Context) -> pb.AuthDisableResponse:
        return pb.AuthDisableResponse(header=self._hdr.new())

    async def Authenticate(
        self, request: pb.AuthenticateRequest, context: Context
    ) -> pb.AuthenticateResponse:
        raise _fail(rpctypes.ErrGRPCAuthNotEnabled)

    async def UserAdd(self, request: pb.AuthUserAddRequest, context: Context) -> pb.AuthUserAddResponse:
        if not request.name:
            raise _fail(rpctypes.ErrGRPCUserEmpty)
        raise _fail(rpctypes.ErrGRPCNotCapable)  # TODO(issue 8): the auth store

    async def UserGet(self, request: pb.AuthUserGetRequest, context: Context) -> pb.AuthUserGetResponse:
        raise _fail(rpctypes.ErrGRPCUserNotFound)

    async def UserList(self, request: pb.AuthUserListRequest, context: Context) -> pb.AuthUserListResponse:
        return pb.AuthUserListResponse(header=self._hdr.new())

    async def UserDelete(
        self, request: pb.AuthUserDeleteRequest, context: Context
    ) -> pb.AuthUserDeleteResponse:
        raise _fail(rpctypes.ErrGRPCUserNotFound)

    async def UserChangePassword(
        self, request: pb.AuthUserChangePasswordRequest, context: Context
    ) -> pb.AuthUserChangePasswordResponse:
        raise _fail(rpctypes.ErrGRPCUserNotFound)

    async def UserGrantRole(
        self, request: pb.AuthUserGrantRoleRequest, context: Context
    ) -> pb.AuthUserGrantRoleResponse:
        raise _fail(rpctypes.ErrGRPCUserNotFound)

    async def UserRevokeRole(
        self, request: pb.AuthUserRevokeRoleRequest, context: Context
    ) -> pb.AuthUserRevokeRoleResponse:
        raise _fail(rpctypes.ErrGRPCUserNotFound)

    async def RoleAdd(self, request: pb.AuthRoleAddRequest, context: Context) -> pb.AuthRoleAddResponse:
        if not request.name:
            raise _fail(rpctypes.ErrGRPCRoleEmpty)
        raise _fail(rpctypes.ErrGRPCNotCapable)  # TODO(issue 8): the auth store

    async def RoleGet(self, request: pb.AuthRoleGetRequest, context: Context) -> pb.AuthRoleGetResponse:
        raise _fail(rpctypes.ErrGRPCRoleNotFound)

    async def RoleList(self, request: pb.AuthRoleListRequest, context: Context) -> pb.AuthRoleListResponse:
        return pb.AuthRoleListResponse(header=self._hdr.new())

    async def RoleDelete(
        self, request: pb.AuthRoleDeleteRequest, context: Context
    ) -> pb.AuthRoleDeleteResponse:
        raise _fail(rpctypes.ErrGRPCRoleNotFound)

    async def RoleGrantPermission(
        self, request: pb.AuthRoleGrantPermissionRequest, context: Context
    ) -> pb.AuthRoleGrantPermissionResponse:
        raise _fail(rpctypes.ErrGRPCRoleNotFound)

    async def RoleRevokePermission(
        self, request: pb.AuthRoleRevokePermissionRequest, context: Context
    ) -> pb.AuthRoleRevokePermissionResponse:
        raise _fail(rpctypes.ErrGRPCRoleNotFound)
