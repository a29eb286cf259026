"""etcd's ``embed``: the member configuration (``Config``, ``validate``) and later ``start_etcd``."""

from etcd.embed.config import (
    ERR_CONFLICT_BOOTSTRAP_FLAGS,
    ERR_UNSET_ADVERTISE_CLIENT_URLS_FLAG,
    URL,
    Config,
    ConfigError,
    UnsetAdvertiseClientURLsError,
    cluster_id,
    member_id,
    parse_url,
    parse_urls,
)

__all__ = [
    "ERR_CONFLICT_BOOTSTRAP_FLAGS",
    "ERR_UNSET_ADVERTISE_CLIENT_URLS_FLAG",
    "URL",
    "Config",
    "ConfigError",
    "UnsetAdvertiseClientURLsError",
    "cluster_id",
    "member_id",
    "parse_url",
    "parse_urls",
]
