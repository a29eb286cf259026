"""The bucket names of etcd 3.4's backend, in one place so every package writes the same bytes.

etcd declares each name in the package that owns the bucket (``mvcc/kvstore.go`` ``keyBucketName``,
``lease/lessor.go`` ``leaseBucketName``, ...); the bytes are the same here.
"""

from __future__ import annotations

KEY = b"key"
META = b"meta"
LEASE = b"lease"
ALARM = b"alarm"
AUTH = b"auth"
AUTH_USERS = b"authUsers"
AUTH_ROLES = b"authRoles"
MEMBERS = b"members"
MEMBERS_REMOVED = b"members_removed"
CLUSTER = b"cluster"

ALL = (KEY, META, LEASE, ALARM, AUTH, AUTH_USERS, AUTH_ROLES, MEMBERS, MEMBERS_REMOVED, CLUSTER)
