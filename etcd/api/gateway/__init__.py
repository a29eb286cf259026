"""etcd 3.4's /v3 JSON gateway: one aiohttp handler over ``gateway_routes.ROUTES`` calling gRPC."""

from etcd.api.gateway.gateway import Gateway, make_gateway_app

__all__ = ["Gateway", "make_gateway_app"]
