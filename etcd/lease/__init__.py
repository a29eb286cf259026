"""etcd's leases (``lease/``): the ``Lessor`` grants, renews, checkpoints and revokes them, tracks the
keys attached to each, and finds expired leases for the leader to revoke through raft."""

from etcd.lease.lessor import (
    Checkpointer,
    ErrLeaseExists,
    ErrLeaseExpired,
    ErrLeaseNotFound,
    ErrLeaseTTLTooLarge,
    ErrNotPrimary,
    Lease,
    LeaseCheckpoint,
    LeaseError,
    Lessor,
    LessorConfig,
    MaxLeaseTTL,
    NoLease,
    RangeDeleter,
    TxnDelete,
)

__all__ = [
    "Checkpointer",
    "ErrLeaseExists",
    "ErrLeaseExpired",
    "ErrLeaseNotFound",
    "ErrLeaseTTLTooLarge",
    "ErrNotPrimary",
    "Lease",
    "LeaseCheckpoint",
    "LeaseError",
    "Lessor",
    "LessorConfig",
    "MaxLeaseTTL",
    "NoLease",
    "RangeDeleter",
    "TxnDelete",
]
