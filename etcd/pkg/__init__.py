"""Small shared helpers, one job per module (etcd's ``pkg/``)."""
