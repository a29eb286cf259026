"""The etcd version this server stands in for (etcd's ``version`` package): ``/version``, ``--version``."""

# The etcd release whose behaviour we reproduce; clients and peers see it as our server version.
SERVER_VERSION = "3.4.23"
# What /version says for etcdcluster before the cluster version is decided (etcd's version.go).
CLUSTER_VERSION_NOT_DECIDED = "not_decided"
# The cluster version a cluster of 3.4 members settles on (etcd's MinClusterVersion is 3.0.0).
CLUSTER_VERSION = "3.4.0"
